"""load_audio decodes every supported container to the same 16 kHz mono speech, or says what is wrong."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from core.errors import InputError
from models.audio.espeak_lib import speak_with_phonemes
from models.audio.io import load_audio, resample, write_wav

# container format, codec, sample rate, channels
FORMATS = {
    "wav": ("wav", "pcm_s16le", 44_100, 2),
    "mp3": ("mp3", "libmp3lame", 44_100, 2),
    "flac": ("flac", "flac", 22_050, 1),
    "ogg": ("ogg", "libopus", 48_000, 2),
    "m4a": ("ipod", "aac", 44_100, 2),
}


def encode(path: Path, audio16k: np.ndarray, fmt: str, codec: str, rate: int, channels: int) -> None:
    """Write `audio16k` to `path` with PyAV at another rate and channel count."""
    audio = resample(audio16k, 16_000, rate)
    layout = "stereo" if channels == 2 else "mono"
    pcm = np.repeat(audio[None, :], channels, axis=0).astype(np.float32)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(pcm, format="fltp", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(
            format=stream.codec_context.format,
            layout=layout,
            rate=rate,
            frame_size=stream.codec_context.frame_size or None,
        )
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    s = speak_with_phonemes("Hello, this sentence is here to test loading audio.", "en-us")
    return resample(s.audio.astype(np.float32) / 32768, s.sample_rate)


@pytest.mark.parametrize("ext", FORMATS)
def test_formats_load_to_same_length(tmp_path, speech, ext):
    path = tmp_path / f"speech.{ext}"
    encode(path, speech, *FORMATS[ext])
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - len(speech)) / 16_000 < 0.06  # codec padding at most a few frames
    assert 0.2 < np.abs(audio).max() <= 1.0
    # Same speech envelope (10 ms frames), not just the same length. PyAV's AAC encoder writes no edit list
    # for its 1024-sample priming, so the M4A may start up to ~25 ms late: allow 3 frames of lag.
    n = min(len(audio), len(speech)) // 160 * 160
    env_a, env_s = (np.abs(x[:n]).reshape(-1, 160).mean(axis=1) for x in (audio, speech))
    best = max(np.corrcoef(env_a[lag:], env_s[: len(env_s) - lag])[0, 1] for lag in range(4))
    assert best > 0.9


def test_write_wav_roundtrip(tmp_path, speech):
    path = tmp_path / "out.wav"
    write_wav(path, speech)
    back = load_audio(path)
    assert len(back) == len(speech)
    assert np.max(np.abs(back - speech)) < 2e-4


def test_garbage_bytes_are_unreadable(tmp_path):
    path = tmp_path / "voice.mp3"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(InputError) as err:
        load_audio(path)
    assert err.value.code == "unreadable_audio"
    assert "WAV, MP3" in err.value.message


def test_empty_wav_is_empty(tmp_path):
    path = tmp_path / "empty.wav"
    write_wav(path, np.zeros(0, np.float32))
    with pytest.raises(InputError) as err:
        load_audio(path)
    assert err.value.code == "empty_audio"


@pytest.mark.parametrize("signal", ["zeros", "hum"])
def test_silence_is_rejected(tmp_path, signal):
    t = np.arange(32_000) / 16_000
    audio = np.zeros_like(t) if signal == "zeros" else 0.05 * np.sin(2 * np.pi * 50 * t)  # mains hum, no speech
    path = tmp_path / "silent.wav"
    write_wav(path, audio)
    with pytest.raises(InputError) as err:
        load_audio(path)
    assert err.value.code == "silent_audio"


def test_too_long_names_the_limit_and_setting(tmp_path, speech):
    path = tmp_path / "long.wav"
    write_wav(path, speech)
    with pytest.raises(InputError) as err:
        load_audio(path, max_seconds=1.0)
    assert err.value.code == "audio_too_long"
    assert "AVATAR_MAX_AUDIO_SECONDS" in err.value.message and "1 s" in err.value.message
    assert len(load_audio(path, max_seconds=60)) == len(speech)
