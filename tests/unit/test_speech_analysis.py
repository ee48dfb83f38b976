"""analyze_speech: text input takes its phone times from espeak-ng itself; audio input is aligned or classified."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from models.audio.analysis import OUTPUT_RATE, RATE, analyze_speech
from models.audio.io import resample
from models.audio.phones import align
from models.audio.prosody import Prosody
from models.audio.tts import synthesize

TEXT = "Bob bought a big map for my mum."


@pytest.fixture(scope="module")
def spoken():
    return analyze_speech(None, TEXT, voice="en-us+m3")


def test_text_phones_come_from_espeak_and_agree_with_forced_alignment(spoken):
    assert spoken.phones.source == "espeak" and spoken.transcript == TEXT and spoken.transcript_source == "given"
    assert abs(len(spoken.track) / OUTPUT_RATE - spoken.duration) < 0.01
    bilabials = [p for p in spoken.phones.phones if p.label in {"P", "B", "M"}]
    assert len(bilabials) >= 7  # Bob (2), bought, big, map (2), my, mum (2)
    # The aligner, run on the very audio, finds the same bilabials at the same times (within 40 ms).
    aligned, _ = align(resample(spoken.track, OUTPUT_RATE, RATE), TEXT)
    aligned_starts = np.array([p.start for p in aligned if p.label in {"P", "B", "M"}])
    offsets = [np.abs(aligned_starts - p.start).min() for p in bilabials]
    assert np.median(offsets) < 0.04
    # and the lips are closed in the middle of each of them
    for p in bilabials:
        assert spoken.curves.closed[int((p.start + p.end) / 2 * spoken.curves.rate)] > 0.5


def test_phones_cover_the_audio_in_order(spoken):
    phones = spoken.phones.phones
    assert phones[0].start == 0.0 and abs(phones[-1].end - spoken.duration) < 1e-6
    assert all(a.end == pytest.approx(b.start) for a, b in zip(phones, phones[1:], strict=False))


def test_audio_without_words_uses_the_classifier(tmp_path):
    wav = synthesize(TEXT, tmp_path / "s.wav", voice="en-us+f2")
    speech = analyze_speech(wav)
    assert speech.phones.source == "classifier" and speech.transcript is None
    assert speech.features()["speech_s"] > 1.0
    files = speech.save(tmp_path)
    assert sorted(files) == ["mouth", "phones", "prosody", "speech"]
    assert all(p.stat().st_size > 0 for p in files.values())
    saved = Prosody.load(files["prosody"])  # emotion detection reads it instead of measuring the speech again
    assert saved.summary() == speech.prosody.summary() and np.array_equal(saved.pitch_hz, speech.prosody.pitch_hz)


def test_text_longer_than_the_limit_is_refused():
    with pytest.raises(InputError) as err:
        analyze_speech(None, TEXT, max_seconds=0.5)
    assert err.value.code == "audio_too_long"
