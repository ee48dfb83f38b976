"""Audio in and out: decode any common format with PyAV to 16 kHz mono float32, and write 16-bit WAV."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import numpy as np

from core.errors import InputError
from models.audio.vad import SpeechActivity, detect_speech

SAMPLE_RATE = 16_000
MIN_PEAK = 1e-3  # below this (about -60 dBFS) there is nothing to lip-sync


def _resampler(sample_rate: int) -> av.AudioResampler:
    return av.AudioResampler(format="flt", layout="mono", rate=sample_rate)


def _collect(frames: list[av.AudioFrame]) -> np.ndarray:
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]) if frames else np.zeros(0, np.float32)


def load_audio(path: Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """Decode `path` (WAV/MP3/M4A/OGG/FLAC, any rate or channel count) to float32 mono in [-1, 1].

    Raises InputError: unreadable_audio, empty_audio, audio_too_long (over `max_seconds`), silent_audio.
    """
    audio = decode_audio(path, sample_rate, max_seconds)
    check_speech(audio, sample_rate, Path(path).name)
    return audio


def decode_audio(path: Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """load_audio without the speech check: any decodable, non-empty audio within `max_seconds`."""
    name = Path(path).name
    chunks: list[np.ndarray] = []
    n = 0
    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(
                    "unreadable_audio",
                    f"{name} has no audio track; upload a WAV, MP3, M4A, OGG or FLAC file.",
                )
            resampler = _resampler(sample_rate)
            for frame in container.decode(audio=0):
                chunk = _collect(resampler.resample(frame))
                chunks.append(chunk)
                n += len(chunk)
                if limit is not None and n > limit:
                    raise _too_long(name, max_seconds)
            chunks.append(_collect(resampler.resample(None)))
    except InputError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            "unreadable_audio",
            f"Could not decode {name} as audio ({exc.__class__.__name__}); upload a WAV, MP3, M4A, OGG or FLAC file.",
        ) from exc
    audio = np.clip(np.concatenate(chunks), -1.0, 1.0).astype(np.float32)
    if len(audio) == 0:
        raise InputError("empty_audio", f"{name} contains no audio samples; record or upload some speech.")
    check_length(audio, sample_rate, name, max_seconds)
    return audio


def check_length(audio: np.ndarray, sample_rate: int, name: str, max_seconds: float | None) -> None:
    """InputError("audio_too_long") when `audio` lasts over `max_seconds` (None: no limit)."""
    if max_seconds is not None and len(audio) > int(max_seconds * sample_rate):
        raise _too_long(name, max_seconds)


def _too_long(name: str, max_seconds: float | None) -> InputError:
    return InputError(
        "audio_too_long",
        f"{name} is longer than the {max_seconds:g} s limit; trim it, or raise AVATAR_MAX_AUDIO_SECONDS.",
        status_code=413,
    )


def check_speech(audio: np.ndarray, sample_rate: int, name: str) -> SpeechActivity:
    """The speech found in `audio`; InputError("silent_audio") when there is none."""
    speech = detect_speech(audio, sample_rate) if float(np.abs(audio).max()) >= MIN_PEAK else None
    if speech is None or speech.speech_seconds == 0.0:
        raise InputError(
            "silent_audio",
            f"No speech found in {name}; check the recording level and that someone speaks in it.",
        )
    return speech


def resample(audio: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 `audio` from `from_rate` to `to_rate` with PyAV's resampler, as load_audio does."""
    if from_rate == to_rate:
        return audio.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(audio.astype(np.float32).reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = from_rate
    resampler = _resampler(to_rate)
    return np.concatenate([_collect(resampler.resample(frame)), _collect(resampler.resample(None))])


def encode_wav(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono float audio in [-1, 1] as the bytes of a 16-bit PCM WAV file."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float audio in [-1, 1] as 16-bit PCM WAV."""
    Path(path).write_bytes(encode_wav(audio, sample_rate))
