"""Lips close at p/b/m without a transcript, as `avatar eval` measures it (issue 6's bar: p/b/m aperture at most
0.15 of the open vowels'): the gallery's sentence spoken by espeak-ng, the mouth shapes from the acoustic viseme
classifier, rendered on the small astronaut (a 53 px face, enlarged) and scored by the evaluator's own landmark
re-fit against the transcript-aligned phones. On the same sentence, blinks fall between its words."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.audio.io import SAMPLE_RATE, load_audio
from models.audio.phones import phone_track
from models.audio.prosody import prosody
from models.audio.tts import synthesize
from models.audio.visemes import mouth_curves
from models.control.rules import build_controls
from models.eval.lipsync import BILABIALS, OPEN_VOWELS, evaluate
from models.face.analysis import analyze_face
from models.media.video import VideoWriter
from models.render.warp import puppet_for

SENTENCE = "Peter bought a bag of plums, and Bob made a map of the bay. My mom may buy more apples by May."
FPS = 25


def test_lips_close_on_bilabials_of_a_small_face_without_a_transcript(data_dir: Path, tmp_path: Path) -> None:
    """Before: 0.166 and 94 % closed (the lips shut 80 ms ahead of each p/b/m and parted 20 ms after it, through
    most of a short vowel between two; and the evaluator's aligner put "my" inside "bay" and dropped "by May");
    then 0.113 and 100 %; 0.061 (open vowels 0.154) with closures 60 ms ahead of a p/b/m and a half closure
    faded in before each, now 0.051 (0.216)."""
    from scripts.sample_photos import astronaut_small

    audio = load_audio(synthesize(SENTENCE, tmp_path / "speech.wav"), SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    heard = phone_track(audio)
    assert heard.source == "classifier"
    controls = build_controls(mouth_curves(heard, prosody(audio), duration), "happy", duration, FPS, seed=0)
    puppet = puppet_for(analyze_face(astronaut_small(), size=512))
    video = tmp_path / "clip.mp4"
    with VideoWriter(video, fps=FPS, size=512) as writer:
        for i in range(controls.n_frames):
            writer.write(puppet.frame(controls.frame(i)))
    report = evaluate(video, phone_track(audio, transcript=SENTENCE).phones, audio, SAMPLE_RATE)
    ratio = report.aperture_bilabial / report.aperture_open_vowel
    assert report.bilabial_closure_rate == 1.0, report
    assert ratio <= 0.15, (ratio, report)


def test_the_control_track_presses_through_p_b_m_and_opens_the_vowels_between(tmp_path: Path) -> None:
    """Per frame, against the evaluator's aligned phones: every p/b/m phone pressed, nearly all of its frames, and
    the open vowels open through their span. Before, closures looked 60 ms ahead, a half closure faded in before
    each p/b/m and openings were averaged over 100 ms: 13 of the 45 open-vowel frames pressed and a mean jaw_open
    of 0.44 over them; now 9 and 0.56 (the pressed ones lie within 20 ms of a closure)."""
    audio = load_audio(synthesize(SENTENCE, tmp_path / "speech.wav"), SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    channels = build_controls(
        mouth_curves(phone_track(audio), prosody(audio), duration), "neutral", duration, FPS
    ).channels
    aligned = phone_track(audio, transcript=SENTENCE).phones
    times = np.arange(len(channels["jaw_open"])) / FPS

    def frames(labels: set[str]) -> list[np.ndarray]:
        return [(times >= p.start) & (times < max(p.end, p.start + 1 / FPS)) for p in aligned if p.label in labels]

    press, jaw = channels["lip_press"], channels["jaw_open"]
    bilabials, vowels = frames(BILABIALS), np.any(frames(OPEN_VOWELS), axis=0)
    assert all(press[f].max() == 1.0 for f in bilabials)
    assert np.mean(press[np.any(bilabials, axis=0)] == 1.0) >= 0.95
    assert jaw[vowels].mean() >= 0.5, jaw[vowels].mean()
    assert np.mean(press[vowels] > 0.5) <= 0.25


def test_blinks_fall_between_the_words_of_the_gallery_sentence(tmp_path: Path) -> None:
    """The sentence is dense with p/b/m and wide vowels; over 20 seeds the lids are half shut or more on a press or
    an opening over 0.5 in 1 of 111 frames (before blinks looked at the mouth: 40 of 111), one or two blinks a clip
    as before (10-20 a minute)."""
    audio = load_audio(synthesize(SENTENCE, tmp_path / "speech.wav"), SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    curves = mouth_curves(phone_track(audio), prosody(audio), duration)
    busy = closing = 0
    for seed in range(20):
        ch = build_controls(curves, "happy", duration, FPS, seed=seed).channels
        shut = ch["blink"] >= 0.5
        closing += np.count_nonzero(shut)
        busy += np.count_nonzero(shut & ((ch["lip_press"] > 0.5) | (ch["jaw_open"] > 0.5)))
        assert 1 <= np.count_nonzero((ch["blink"][1:] >= 0.99) & (ch["blink"][:-1] < 0.99)) <= 2
    assert busy <= 0.05 * closing


def test_a_blink_with_no_calm_place_in_reach_is_held_past_the_press(tmp_path: Path) -> None:
    """Over 40 seeds of the gallery sentence, no blink frame falls on a p/b/m press. Before, a blink due at the
    sentence's start, with no calm mouth within BLINK_REACH, went where the mouth was nearest rest and shut on the
    press of "Bob" (5 of 226 frames half shut or more, in 4 seeds): a smiling man's frame there read 0.372 to
    dlib's identity, 0.316 with his lips apart. A calm place two frames further on is where it now goes."""
    audio = load_audio(synthesize(SENTENCE, tmp_path / "speech.wav"), SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    curves = mouth_curves(phone_track(audio), prosody(audio), duration)
    for seed in range(40):
        ch = build_controls(curves, "neutral", duration, FPS, seed=seed).channels
        assert not np.any((ch["blink"] > 0) & (ch["lip_press"] > 0.5)), seed
