"""The warp renderer, judged by dlib landmarks re-detected on the frames it renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.eval.lipsync import CLOSED, aperture
from models.face import landmarks as lm
from models.face.analysis import FaceAnalysis
from models.render.warp import WarpRenderer, puppet_for
from models.types import CONTROL_CHANNELS, ControlTrack


def _track(**values: list[float]) -> ControlTrack:
    n = len(next(iter(values.values())))
    channels = {name: np.zeros(n, np.float32) for name in CONTROL_CHANNELS}
    channels |= {name: np.asarray(v, np.float32) for name, v in values.items()}
    return ControlTrack(fps=25, channels=channels)


def _points(frame: np.ndarray) -> np.ndarray:
    faces = lm.detect_faces(frame)
    assert faces, "the rendered face is no longer detectable"
    return lm.landmarks(frame, faces[0])


def test_render_writes_one_frame_per_control(astronaut_face: FaceAnalysis, frame_list, tone_wav: Path) -> None:
    progress: list[tuple[int, int]] = []
    report = WarpRenderer().render(
        astronaut_face,
        _track(jaw_open=[0, 0.5, 1]),
        tone_wav,
        frame_list,
        lambda i, n: progress.append((i, n)),
    )
    assert report.backend == "warp" and report.frames == 3
    assert [f.shape for f in frame_list.frames] == [(512, 512, 3)] * 3
    assert all(f.dtype == np.uint8 for f in frame_list.frames)
    assert progress[-1] == (3, 3)


def test_lips_open_with_the_jaw_and_close_when_pressed(astronaut_face: FaceAnalysis) -> None:
    puppet = puppet_for(astronaut_face)
    apertures = [aperture(_points(puppet.frame({"jaw_open": j}))) for j in (0.0, 0.5, 1.0)]
    pressed = aperture(_points(puppet.frame({"jaw_open": 0.8, "lip_press": 1.0})))
    # The photo shows her teeth (aperture about 0.19); at rest the puppet closes them.
    assert apertures[0] < CLOSED
    assert pressed < CLOSED
    assert apertures[0] + 0.1 < apertures[1] < apertures[2] - 0.1


def test_blink_closes_the_eyes(astronaut_face: FaceAnalysis) -> None:
    puppet = puppet_for(astronaut_face)

    def eye_gap(points: np.ndarray) -> float:
        return float(np.mean([np.linalg.norm(points[a] - points[b]) for a, b in ((37, 41), (38, 40), (43, 47))]))

    assert eye_gap(_points(puppet.frame({"blink": 1.0}))) < 0.6 * eye_gap(_points(puppet.frame({})))


@pytest.mark.parametrize("roll", [-8.0, 8.0])
def test_head_roll_turns_the_face(astronaut_face: FaceAnalysis, roll: float) -> None:
    puppet = puppet_for(astronaut_face)

    def eye_line(points: np.ndarray) -> float:
        dx, dy = points[45] - points[36]
        return float(np.degrees(np.arctan2(dy, dx)))

    turned = eye_line(_points(puppet.frame({"head_roll": roll}))) - eye_line(_points(puppet.frame({})))
    assert abs(turned - roll) < 2.5
