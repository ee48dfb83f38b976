"""Each control of the performance visibly drives the render: changed alone, it changes what `avatar eval` measures
on the frames (blinks per minute, head roll, mouth-corner lift, brow height, mouth aperture)."""

from __future__ import annotations

import numpy as np
import pytest

from models.audio.analysis import analyze_speech
from models.audio.tts import synthesize
from models.control.performance import Performance
from models.control.rules import build_controls
from models.emotion.face import expression_summary
from models.eval.lipsync import face_points, mouth_apertures
from models.eval.quality import count_blinks, eye_aspect
from models.render.warp import puppet_for

SENTENCE = "We walked along the river in the morning, and the water was calm and bright. Then we went home for lunch."
FPS = 25


@pytest.fixture(scope="module")
def measure(tmp_path_factory, astronaut_face):
    speech = analyze_speech(synthesize(SENTENCE, tmp_path_factory.mktemp("speech") / "s.wav", words_per_minute=130))
    puppet = puppet_for(astronaut_face)

    def run(**fields) -> dict[str, float]:
        performance = Performance(emotion="neutral").model_copy(update=fields)
        track = build_controls(speech.curves, performance, speech.duration, FPS, seed=5)
        frames = [puppet.frame(track.frame(i)) for i in range(track.n_frames)]
        points = face_points(frames)
        aspects = np.array([eye_aspect(p) if p is not None else np.nan for p in points])
        return expression_summary(points) | {
            # the openings (the upper quarter of frames): between words her toothy smile rests parted, however
            # widely the words open it
            "aperture": float(np.nanpercentile(mouth_apertures([], points), 75)),
            "blinks_per_minute": count_blinks(aspects) * 60 * FPS / len(points),
        }

    return run


def test_each_control_changes_what_eval_measures(measure):
    base = measure()
    changed = {
        "few_blinks": measure(blink_rate=6.0),
        "blink_rate": measure(blink_rate=40.0),
        "head_tilt": measure(head_tilt=6.0),
        "head_motion": measure(head_motion=2.0),
        "smile": measure(emotion="happy", expression_intensity=1.5),
        "eyebrow_raise": measure(eyebrow_raise=0.5),
        "mouth_openness": measure(mouth_openness=1.4),
    }
    report = {name: {k: round(v, 3) for k, v in m.items()} for name, m in changed.items()} | {"base": base}
    # blink_rate is held within the 10-25 a minute (6 -> about 12, 40 -> at most 20; test_blink_rate), too
    # close for this 7.7 s clip to tell apart (two blinks each); its effect on the schedule is test_control_rules's
    blinks = [changed[name]["blinks_per_minute"] for name in ("few_blinks", "blink_rate")]
    assert 0 < blinks[0] <= blinks[1] <= 25, report
    assert changed["head_tilt"]["head_roll_mean_deg"] > base["head_roll_mean_deg"] + 3.0, report
    assert changed["head_motion"]["head_roll_std_deg"] > 1.5 * base["head_roll_std_deg"], report
    assert changed["smile"]["mouth_corner_lift"] > base["mouth_corner_lift"] + 0.01, report
    assert changed["eyebrow_raise"]["brow_height"] > base["brow_height"] + 0.02, report
    assert changed["mouth_openness"]["aperture"] > 1.15 * base["aperture"], report
