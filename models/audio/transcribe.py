"""Speech to text with faster-whisper, when a model folder is configured (settings.whisper_model_dir).

Without one, transcribe() returns None and whisper_status() says why; the pipeline then relies on the
bundled pocketsphinx recogniser.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BackendUnavailable
from core.settings import get_settings
from models.audio.io import resample
from models.device import torch_device
from models.types import Availability

WHISPER_RATE = 16_000


def whisper_status() -> Availability:
    model_dir = get_settings().whisper_model_dir
    if model_dir is None:
        return Availability(
            False,
            "no whisper model configured (set AVATAR_WHISPER_MODEL_DIR to a faster-whisper model folder)",
        )
    if not (model_dir / "model.bin").is_file():
        return Availability(
            False,
            f"whisper model folder {model_dir} has no model.bin (a CTranslate2 faster-whisper "
            "model, e.g. Systran/faster-whisper-small, is expected)",
        )
    if importlib.util.find_spec("faster_whisper") is None:
        return Availability(False, "faster-whisper is not installed: pip install 'avatar-orchestrator[neural]'")
    return Availability(True, str(model_dir))


@lru_cache(maxsize=2)
def _model(model_dir: Path, device: str) -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(str(model_dir), device=device, compute_type="float16" if device == "cuda" else "int8")


def transcribe(audio: np.ndarray, sample_rate: int) -> str | None:
    """The words spoken in mono float `audio`; None when no whisper model is usable (see whisper_status)."""
    if not whisper_status().ok:
        return None
    try:
        device = torch_device()
    except BackendUnavailable:
        device = "cpu"  # ctranslate2 runs without torch
    if sample_rate != WHISPER_RATE:
        audio = resample(audio, sample_rate, WHISPER_RATE)
    segments, _ = _model(get_settings().whisper_model_dir, device).transcribe(audio.astype(np.float32), beam_size=5)
    return " ".join(segment.text.strip() for segment in segments).strip()
