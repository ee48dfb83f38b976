"""The faster-whisper path proven like the neural renderers: a tiny random-weight Whisper, converted the way the
released faster-whisper models are (transformers -> ct2-transformers-converter), run through our transcription
code on real speech, offline. The text is noise; the loading, features, decoding and detokenising are real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("faster_whisper")

from checkpoints import tiny_whisper_model  # noqa: E402

from models.audio import transcribe as transcription  # noqa: E402


@pytest.fixture
def whisper_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from core.settings import get_settings

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tiny_whisper_model(tmp_path)
    monkeypatch.setenv("AVATAR_WHISPER_MODEL_DIR", str(folder))
    monkeypatch.setenv("AVATAR_DEVICE", "cpu")
    get_settings.cache_clear()
    transcription._model.cache_clear()
    yield folder
    transcription._model.cache_clear()
    get_settings.cache_clear()


def test_a_converted_whisper_runs_through_our_transcription(whisper_dir: Path):
    import librosa

    from models.audio.tts import synthesize

    assert sorted(p.name for p in whisper_dir.iterdir()) == ["config.json", "model.bin", "tokenizer.json",
                                                             "vocabulary.json"]  # fmt: skip
    assert transcription.whisper_status().ok
    wav = synthesize("The quick brown fox jumps over the lazy dog.", whisper_dir.parent / "fox.wav")
    audio, rate = librosa.load(wav, sr=None)  # espeak-ng's 22.05 kHz: our code resamples to 16 kHz
    text = transcription.transcribe(audio, rate)
    # random weights: garbage (and, with faster-whisper's temperature fallback, not the same twice), but
    # features, decoding and detokenising ran
    assert isinstance(text, str) and text
    model = transcription._model(whisper_dir, "cpu")
    segments, info = model.transcribe(librosa.resample(audio, orig_sr=rate, target_sr=16_000), beam_size=1)
    assert info.language == "en"  # an English-only vocabulary: no language detection
    for segment in segments:  # times from timestamp tokens (0.02 s) after a window offset (0.01 s frames)
        assert 0 <= segment.start <= segment.end
        assert abs(segment.start * 100 - round(segment.start * 100)) < 1e-3
