"""Emotion from words, voice and the photo's face, over the clip and per phrase, on real espeak-ng speech."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from models.emotion.detect import detect_emotion, phrases, text_reading
from models.types import EMOTIONS

CHEERFUL = "What a wonderful day! I am so happy to see you all here. This is great news!"
SAD = "I miss her so much. I feel lonely and tired. Nothing is the same."


def espeak(text: str, out: Path, voice: str, rate: str, pitch: str, volume: str) -> Path:
    """espeak-ng speaking `text` with SSML prosody (rate, pitch level and range, volume)."""
    ssml = f'<speak><prosody rate="{rate}" pitch="{pitch}" range="{pitch}" volume="{volume}">{text}</prosody></speak>'
    subprocess.run(["espeak-ng", "-v", voice, "-m", "-w", str(out), ssml], check=True)
    return out


@pytest.fixture(scope="module")
def cheerful_wav(tmp_path_factory) -> Path:
    return espeak(CHEERFUL, tmp_path_factory.mktemp("speech") / "cheerful.wav", "en-us+f3", "x-fast", "x-high", "loud")


@pytest.fixture(scope="module")
def sad_wav(tmp_path_factory) -> Path:
    return espeak(SAD, tmp_path_factory.mktemp("speech") / "sad.wav", "en-us", "x-slow", "x-low", "soft")


def analyse(wav: Path, text: str | None):
    from models.audio.analysis import analyze_speech

    speech = analyze_speech(wav, text)
    return detect_emotion(text, speech.prosody, speech.phones.phones, None, speech.duration)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I am so happy to see you, this is wonderful!", "happy"),
        ("I hate this, it is stupid and unacceptable!", "angry"),
        ("I miss her so much, I feel lonely and sad.", "sad"),
        ("Wow, really? You did that?", "surprised"),
        ("The meeting is at three in room four.", "neutral"),
    ],
)
def test_words_alone(text, label):
    result = detect_emotion(text)
    assert result.primary == label
    assert result.source == "text"
    assert set(result.scores) == set(EMOTIONS) and sum(result.scores.values()) == pytest.approx(1, abs=0.01)


def test_cheerful_fast_and_slow_sad_speech_give_different_tracks(cheerful_wav, sad_wav, data_dir):
    cheerful, sad = analyse(cheerful_wav, CHEERFUL), analyse(sad_wav, SAD)
    assert (cheerful.primary, sad.primary) == ("happy", "sad")
    assert cheerful.modalities["voice"]["arousal"] > 0.3 > -0.3 > sad.modalities["voice"]["arousal"]
    assert cheerful.valence > 0.5 > -0.3 > sad.valence
    assert [s.text for s in cheerful.track] == [
        "What a wonderful day!",
        "I am so happy to see you all here.",
        "This is great news!",
    ]
    assert all(s.primary == "happy" and s.valence > 0.3 for s in cheerful.track)
    assert [s.primary for s in sad.track][:2] == ["sad", "sad"]
    # the phrases tile the speech in order
    for result in (cheerful, sad):
        assert all(
            a.end <= b.start + 1e-6 and a.start < a.end for a, b in zip(result.track, result.track[1:], strict=False)
        )


def test_the_voice_alone_tells_them_apart(cheerful_wav, sad_wav, data_dir):
    cheerful, sad = analyse(cheerful_wav, None), analyse(sad_wav, None)
    assert cheerful.source == sad.source == "voice"
    assert cheerful.primary in {"happy", "surprised"} and sad.primary == "sad"
    assert cheerful.arousal > sad.arousal + 0.8
    assert len(sad.track) >= 2  # pause-delimited phrases without a transcript


def test_the_photo_s_smile_counts_but_does_not_outvote_the_words(astronaut_face):
    from models.emotion.face import expression

    rest = expression(astronaut_face.landmarks)
    assert rest.scores()["valence"] > 0.8  # she smiles
    neutral = detect_emotion("The meeting is at three in room four.", face=rest)
    assert neutral.modalities["face"]["valence"] > 0.8
    assert neutral.valence > detect_emotion("The meeting is at three in room four.").valence + 0.1
    assert detect_emotion(SAD, face=rest).primary == "sad"


def test_a_question_is_marked_on_its_phrase():
    from models.types import Phone

    phones = [Phone("AH", 0.0, 1.4), Phone("SIL", 1.4, 1.8), Phone("AH", 1.8, 3.5)]
    result = detect_emotion("The train leaves at nine. Are you coming with us tonight?", phones=phones, duration=3.5)
    assert [(s.start, s.end, s.question) for s in result.track] == [(0.0, 1.6, False), (1.6, 3.5, True)]


def test_sentences_are_laid_on_the_speech_between_pauses():
    from models.types import Phone

    phones = [Phone("AH", 0.2, 2.0), Phone("SIL", 2.0, 2.6), Phone("AH", 2.6, 3.0), Phone("AH", 3.0, 4.0)]
    assert phrases("One two three four. Five six seven.", phones, 4.5) == [
        (0.2, 2.3, "One two three four."),
        (2.3, 4.0, "Five six seven."),
    ]
    assert phrases("", phones, 4.5) == [(0.2, 2.0, ""), (2.6, 4.0, "")]


def test_no_evidence_is_neutral():
    result = detect_emotion("")
    assert result.primary == "neutral" and result.source == "default" and result.track == []
    assert text_reading("I hate this!").arousal > text_reading("I miss her.").arousal
