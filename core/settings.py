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
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
FPS_RANGE = (5, 60)  # frames per second a job may ask for
SIZE_RANGE = (128, 1024)  # output width and height in pixels
BROKER_SCHEMES = ("redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp", "sqs", "memory")  # memory: tests


def model_config_path() -> Path:
    return Path(os.environ.get("AVATAR_MODEL_CONFIG", REPO_ROOT / "configs" / "model_config.yaml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVATAR_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # "" -> sqlite file under data_dir
    broker_url: str | None = None  # None -> run jobs in-process
    storage_url: str = ""  # "" -> file://<data_dir>/storage
    checkpoint_url: str | None = None  # None -> follows database_url (SQLite file or PostgreSQL)
    # longest a database statement may run or wait for a lock: PostgreSQL's statement_timeout, SQLite's busy timeout
    database_timeout_seconds: float = Field(default=30.0, gt=0)

    # media
    fps: int = Field(default=25, ge=FPS_RANGE[0], le=FPS_RANGE[1])
    size: int = Field(default=512, ge=SIZE_RANGE[0], le=SIZE_RANGE[1])
    max_audio_seconds: float = Field(default=300.0, gt=0)
    max_image_pixels: int = Field(default=80_000_000, gt=0)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    # a video as the face source (re-voicing, docs/dubbing.md)
    max_video_seconds: float = Field(default=1200.0, gt=0)
    max_video_pixels: int = Field(default=3840 * 2160, gt=0)  # width x height of one frame
    dub_key_interval: int = Field(default=10, ge=1)  # frames between face detections (and on every cut)
    dub_work_size: int = Field(default=256, ge=64, le=2048)  # px: largest side of the face crop the mouth is drawn in
    dub_source_audio_gain: float = Field(default=0.35, ge=0, le=1)  # --keep-audio: the video's sound under the speech
    video_crf: int = Field(default=20, ge=0, le=51)
    # libx264: superfast with the macroblock tree kept (x264-params) costs 0.7x veryfast's CPU for files 1.3x
    # the size at the same PSNR; superfast alone, without the tree, makes files 3x the size (docs/benchmarks.md)
    video_preset: str = "superfast"
    video_x264_params: str = "mbtree=1:rc-lookahead=10"  # "key=value:..." as x264 takes them; "" for none
    render_threads: int | None = Field(default=None, ge=1)  # threads (or processes) making frames; None: one per CPU
    render_processes: bool = True  # make them in forked processes, not threads (Linux; models/render/forked.py)
    # live stream (/ws): audio heard past a frame's time before it is drawn; the controller reads up to 40 ms past
    # a frame (a closure shows on the frame it falls in; openings lead the sound by 20 ms) and one frame past
    # that (benchmarks/stream_latency.py measures the trade-off)
    stream_lookahead_ms: int = 100
    stream_jpeg_quality: int = 80  # live stream frames

    # models
    backend: Literal["auto", "warp", "wav2lip", "sadtalker"] = "auto"
    enhancer: Literal["auto", "none", "gfpgan"] = "auto"
    controller: Literal["rules", "llm"] = "rules"  # llm: the settings llm_* below, falling back to rules
    weights_dir: Path = Path("data/weights")  # follows data_dir unless set
    device: Literal["auto", "cpu", "cuda"] = "auto"
    tts_voice: str = "en-us"
    mistral_api_key: str | None = Field(default=None, validation_alias="MISTRAL_API_KEY")
    whisper_model_dir: Path | None = None  # a faster-whisper (CTranslate2) model folder; None -> no whisper
    # the llm controller (models/control/llm.py, docs/controller.md)
    llm_provider: Literal["mistral", "openai"] = "mistral"  # openai: any OpenAI-compatible server (llm_base_url)
    llm_model: str = "mistral-small-latest"
    llm_base_url: str | None = None  # mistral: its API (default https://api.mistral.ai); openai: e.g. Ollama's
    llm_api_key: str | None = None  # openai-compatible servers that want one (mistral uses MISTRAL_API_KEY)
    llm_timeout_seconds: float = Field(default=20.0, gt=0)
    llm_retries: int = Field(default=2, ge=0, le=10)  # further attempts after a failed or rejected reply
    # how the reply is constrained to the schema: json_schema (OpenAI's form: OpenAI, Mistral, vLLM, Ollama, llama.cpp's
    # llama-server), json_object_schema ({"type": "json_object", "schema": ...}: llama-cpp-python's server), json_object
    # (plain JSON mode, for servers without schemas)
    llm_response_format: Literal["json_schema", "json_object_schema", "json_object"] = "json_schema"

    # job system
    gpu_queue_fallback_to_cpu: bool = False
    webhook_secret: str | None = None  # None: generated into <data_dir>/webhook_secret (embedded mode only)
    webhook_max_attempts: int = Field(default=6, ge=1)
    require_api_key: bool = False
    api_public_url: str = "http://127.0.0.1:8000"  # base of result URLs handed out (webhooks, local storage)
    s3_public_endpoint_url: str | None = None  # presigned URLs for clients (default: AWS_ENDPOINT_URL_S3)
    auto_migrate: bool = True  # `avatar serve` upgrades the schema on start
    local_workers: int = Field(default=1, ge=1)  # embedded mode: jobs run at once in the server process
    broker_visibility_timeout: int = 4 * 3600  # seconds; must exceed the longest job (Redis redelivery)
    task_retry_backoff: float = 2.0  # seconds, doubled per retry of an infrastructure error (workers/retry.py)
    heartbeat_seconds: float = Field(default=3.0, gt=0)  # lease refresh period; a lease lapses after 3 missed beats
    reconcile_interval_seconds: float = 10.0  # period of the reconciler (reconcile --loop, beat, embedded server)
    webhook_backoff_seconds: float = 2.0  # first retry delay, doubled per attempt
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private: bool = False  # true: webhooks may go to loopback, private, link-local... addresses
    webhook_allowed_hosts: list[str] = []  # host names, addresses or networks (CIDR) allowed although not public
    broker_scan_limit: int = 10_000  # reconciler: most messages read per queue to tell a lost job from a waiting one
    # requests refused at the door (docs/limits.md)
    max_json_bytes: int = Field(default=256 * 1024, ge=1024)  # any request body but uploads
    max_json_keys: int = Field(default=1000, ge=10)  # keys in all objects of one JSON body, counted before validation
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)  # request line and headers together
    header_timeout_seconds: float = Field(default=10.0, gt=0)  # for the whole request head (api/server.py)
    body_timeout_seconds: float = Field(default=30.0, gt=0)  # longest wait for the next piece of a request body
    metrics_token: str | None = None  # set: GET /metrics needs "Authorization: Bearer <token>"
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

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, url: str) -> str:
        if url and not url.startswith(("file://", "s3://")):
            raise ValueError("must start with file:// or s3://")
        return url

    @field_validator("database_url", "checkpoint_url")
    @classmethod
    def _database_scheme(cls, url: str | None) -> str | None:
        if url and not url.startswith(("sqlite:///", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return url

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, url: str | None) -> str | None:
        if url and url.split("://")[0] not in BROKER_SCHEMES:
            raise ValueError(f"must be a Celery broker URL ({', '.join(s + '://' for s in BROKER_SCHEMES)})")
        return url or None

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


class SettingsError(Exception):
    """A setting that cannot be used; the message names it and says what is allowed."""


def model_config() -> dict[str, Any]:
    """configs/model_config.yaml as a dict (empty when the file is absent)."""
    path = model_config_path()
    if not path.exists():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SettingsError(f"{path} is not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(loaded, dict | None):
        raise SettingsError(f"{path} must hold a mapping (settings:, weights:), not {type(loaded).__name__}")
    return loaded or {}


class _YamlSettings(PydanticBaseSettingsSource):
    """The `settings:` section of the model config file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values().get(field_name), field_name, False

    def _values(self) -> dict[str, Any]:
        return model_config().get("settings") or {}

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._values().items() if k in self.settings_cls.model_fields}


def _explain(err: ValidationError) -> str:
    """Each bad setting by the name a user sets it under, what it got and what is allowed."""
    problems = []
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else ""
        field = Settings.model_fields.get(name)
        variable = (field.validation_alias if field and isinstance(field.validation_alias, str) else None) or (
            f"AVATAR_{name.upper()}" if name else "settings"
        )
        problems.append(f"{variable}={e['input']!r}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems) + f" (environment, .env or {model_config_path()})"


@lru_cache
def get_settings() -> Settings:
    """The settings; SettingsError (one line, naming each bad variable) when some cannot be used."""
    try:
        return Settings()
    except ValidationError as err:
        raise SettingsError(_explain(err)) from None
