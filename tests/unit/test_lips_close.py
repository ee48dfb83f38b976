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
from models.eval.lipsync import evaluate
from models.face.analysis import analyze_face
from models.media.video import VideoWriter
from models.render.warp import puppet_for

SENTENCE = "Peter bought a bag of plums, and Bob made a map of the bay. My mom may buy more apples by May."
FPS = 25


def test_lips_close_on_bilabials_of_a_small_face_without_a_transcript(data_dir: Path, tmp_path: Path) -> None:
    """Before: 0.166 and 94 % closed (the lips shut 80 ms ahead of each p/b/m and parted 20 ms after it, through
    most of a short vowel between two; and the evaluator's aligner put "my" inside "bay" and dropped "by May");
    now 0.113 and 100 %."""
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
