"""espeak-ng text to speech: real audio out, clear errors in."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from models.audio.io import load_audio
from models.audio.tts import list_voices, synthesize
from models.audio.vad import detect_speech


def test_synthesize_makes_speech(tmp_path):
    slow = synthesize("Hello world, this is a test.", tmp_path / "slow.wav", words_per_minute=120)
    fast = synthesize("Hello world, this is a test.", tmp_path / "fast.wav", voice="en-us+f3", words_per_minute=260)
    slow_audio, fast_audio = load_audio(slow), load_audio(fast)
    assert detect_speech(slow_audio).speech_seconds > 1.0
    assert len(fast_audio) < 0.7 * len(slow_audio)


def test_text_that_looks_like_options_is_spoken(tmp_path):
    out = synthesize("-v xx --help", tmp_path / "opts.wav")
    assert detect_speech(load_audio(out)).speech_seconds > 0.5


def test_voices():
    voices = list_voices()
    assert {"en-us", "en-gb-x-rp"} <= set(voices)
    assert "+f3" in voices


@pytest.mark.parametrize(
    ("text", "voice", "code"),
    [
        ("   ", "en-us", "empty_text"),
        ("hi", "xx-nowhere", "unknown_voice"),
        ("hi", "en-us+nobody", "unknown_voice"),
    ],
)
def test_bad_requests(tmp_path, text, voice, code):
    with pytest.raises(InputError) as err:
        synthesize(text, tmp_path / "x.wav", voice=voice)
    assert err.value.code == code


def test_the_same_text_gives_the_same_speech_every_time():
    """espeak-ng's library carries state from one utterance to the next (the glottal phase, pitch flutter, a
    clause pause); each synthesis starts from the same state, whatever was spoken before it in the process."""
    from models.audio.espeak_lib import speak_with_phonemes

    text = "Hello world, this is a test."
    first = speak_with_phonemes(text)
    speak_with_phonemes("Thank you, and good night.", "en-us+f3", rate=200)
    later = [speak_with_phonemes(text) for _ in range(3)]
    for again in later:
        assert np.array_equal(again.audio, first.audio)
        assert again.phonemes == first.phonemes
    assert len(first.audio) > first.sample_rate  # real speech, over a second of it


def test_a_helper_that_died_is_replaced():
    from models.audio import espeak_lib

    before = espeak_lib.speak_with_phonemes("One more time.")
    helper = espeak_lib._speaker().process
    helper.kill()
    helper.wait()
    again = espeak_lib.speak_with_phonemes("One more time.")
    assert np.array_equal(again.audio, before.audio)
