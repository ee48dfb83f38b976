"""All settings in one place. Precedence: environment variables (AVATAR_*), then `.env`, then the `settings:`
section of configs/model_config.yaml (another file with AVATAR_MODEL_CONFIG), then the defaults below.

Every setting has a working default: with none set, everything runs embedded on one machine
(SQLite, in-process jobs, local storage under ./data).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def model_config_path() -> Path:
    return Path(os.environ.get("AVATAR_MODEL_CONFIG", REPO_ROOT / "configs" / "model_config.yaml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVATAR_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # "" -> sqlite file under data_dir
    broker_url: str | None = None  # None -> run jobs in-process
    storage_url: str = ""  # "" -> file://<data_dir>/storage
    checkpoint_url: str | None = None  # None -> follows database_url (SQLite file or PostgreSQL)

    # media
    fps: int = 25
    size: int = 512
    max_audio_seconds: float = 300.0
    max_image_pixels: int = 80_000_000
    max_upload_bytes: int = 50 * 1024 * 1024
    video_crf: int = 20
    video_preset: str = "veryfast"
    # live stream (/ws): audio heard past a frame's time before it is drawn; the lips lead the sound by 60 ms and
    # the controller reads one frame (40 ms) past that (benchmarks/stream_latency.py measures the trade-off)
    stream_lookahead_ms: int = 100
    stream_jpeg_quality: int = 80  # live stream frames

    # models
    backend: Literal["auto", "warp", "wav2lip", "sadtalker"] = "auto"
    enhancer: Literal["auto", "none", "gfpgan"] = "auto"
    controller: Literal["rules", "mistral"] = "rules"
    weights_dir: Path = Path("data/weights")  # follows data_dir unless set
    device: Literal["auto", "cpu", "cuda"] = "auto"
    tts_voice: str = "en-us"
    mistral_model: str = "mistral-small-latest"
    mistral_api_key: str | None = Field(default=None, validation_alias="MISTRAL_API_KEY")
    whisper_model_dir: Path | None = None  # a faster-whisper (CTranslate2) model folder; None -> no whisper

    # job system
    gpu_queue_fallback_to_cpu: bool = False
    job_stall_seconds: int = 900
    webhook_secret: str = "change-me"
    webhook_max_attempts: int = 6
    require_api_key: bool = False
    api_public_url: str = "http://127.0.0.1:8000"  # base of result URLs handed out (webhooks, local storage)
    s3_public_endpoint_url: str | None = None  # presigned URLs for clients (default: AWS_ENDPOINT_URL_S3)
    auto_migrate: bool = True  # `avatar serve` upgrades the schema on start
    local_workers: int = 1  # embedded mode: jobs run at once in the server process
    broker_visibility_timeout: int = 4 * 3600  # seconds; must exceed the longest job (Redis redelivery)
    task_max_retries: int = 5  # transient pipeline errors, retried with exponential backoff
    task_retry_backoff: float = 2.0  # seconds, doubled per retry
    heartbeat_seconds: float = 10.0  # a running segment refreshes jobs.heartbeat_at this often
    reconcile_interval_seconds: float = 60.0  # beat / embedded loop period of the stalled-job reconciler
    webhook_backoff_seconds: float = 2.0  # first retry delay, doubled per attempt
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private: bool = False  # true: webhooks may go to loopback, private, link-local... addresses
    webhook_allowed_hosts: list[str] = []  # host names, addresses or networks (CIDR) allowed although not public
    broker_scan_limit: int = 10_000  # reconciler: most messages read per queue to tell a lost job from a waiting one
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, dotenv_settings, _YamlSettings(settings_cls), file_secret_settings

    @model_validator(mode="after")
    def _weights_follow_data_dir(self) -> Settings:
        if "weights_dir" not in self.model_fields_set:
            self.weights_dir = self.data_dir / "weights"
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'avatar.db').as_posix()}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'storage').resolve().as_posix()}"


def model_config() -> dict[str, Any]:
    """configs/model_config.yaml as a dict (empty when the file is absent)."""
    path = model_config_path()
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


class _YamlSettings(PydanticBaseSettingsSource):
    """The `settings:` section of the model config file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values().get(field_name), field_name, False

    def _values(self) -> dict[str, Any]:
        return model_config().get("settings") or {}

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._values().items() if k in self.settings_cls.model_fields}


@lru_cache
def get_settings() -> Settings:
    return Settings()
