"""Follow one face through a video: its 68 landmarks on every frame, or none where it is not to be seen.

Detection (dlib's HOG) runs on key frames: every `key_interval` frames, on every cut, while no face is followed
and once the face has moved off its key frame's box (lm.moved_off). Between key frames the landmarks are fitted in
that box: boxes rebuilt from the previous frame's landmarks fed each fit's error into the next, and a still video's
landmarks wandered (Grace Hopper's by 18-20 px between key frames 10 apart). A cut is a jump of the colour
histogram between two frames; after a cut the followed person is found again by their identity embedding, so
`face_index` picks a person, not a position. The landmark paths are smoothed over time within each shot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import dlib
import numpy as np
from scipy.ndimage import gaussian_filter1d

from models.face import landmarks as lm

THUMB = (96, 54)  # px: frames are compared for cuts at this size
GRID = 3  # ...in GRID x GRID regions
CUT_DISTANCE = 0.3  # mean Bhattacharyya distance of the regions' HSV histograms beyond which a frame starts a shot
SAME_BOX = 0.3  # overlap (IoU) of a key frame's detection with the followed face that keeps following it
SAME_PERSON = 0.6  # dlib embedding distance under which two faces are one person (dlib's own threshold)
LOST_SCALE = 1.5  # a re-fitted face that grows or shrinks by more than this between two frames is lost
SMOOTH_FRAMES = 1.0  # sigma of the temporal smoothing of the landmark paths, in frames


@dataclass
class FaceTrack:
    points: np.ndarray  # (n, 68, 2) float32 in frame pixels; NaN on frames where the face is not followed
    cuts: list[int] = field(default_factory=list)  # frames that start a new shot
    keys: list[int] = field(default_factory=list)  # frames where detection ran
    faces_seen: int = 0  # most faces on one key frame
    index: int = 0  # the face followed: its place, largest first, where it was first seen

    def present(self, i: int) -> bool:
        return bool(np.isfinite(self.points[i, 0, 0]))

    @property
    def found(self) -> int:
        return int(np.isfinite(self.points[:, 0, 0]).sum())


def shot_histogram(rgb: np.ndarray) -> np.ndarray:
    """(REGIONS, bins) colour histograms of the frame's regions: a cut between two shots of the same scene (same
    colours, another framing) changes what lies where, which one histogram of the whole frame would not see."""
    hsv = cv2.cvtColor(cv2.resize(rgb, THUMB, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
    h, w = hsv.shape[0] // GRID, hsv.shape[1] // GRID
    regions = []
    for y in range(GRID):
        for x in range(GRID):
            part = np.ascontiguousarray(hsv[y * h : (y + 1) * h, x * w : (x + 1) * w])
            hist = cv2.calcHist([part], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256])
            regions.append(cv2.normalize(hist, hist).flatten())
    return np.stack(regions)


def is_cut(previous: np.ndarray | None, current: np.ndarray) -> bool:
    """The mean Bhattacharyya distance of the regions' histograms jumps past CUT_DISTANCE."""
    if previous is None:
        return False
    distances = [cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA) for a, b in zip(previous, current, strict=True)]
    return float(np.mean(distances)) > CUT_DISTANCE


def _box(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(0), points.max(0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = np.maximum(a[:2], b[:2])
    x1, y1 = np.minimum(a[2:], b[2:])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union) if union > 0 else 0.0


class _Follower:
    """The state of the tracking pass, frame by frame."""

    def __init__(self, face_index: int | None):
        self.face_index = face_index or 0
        self.identity: np.ndarray | None = None  # the followed person's embedding
        self.points: np.ndarray | None = None
        self.box: dlib.rectangle | None = None  # the key frame's detection of the followed face
        self.anchor: np.ndarray | None = None  # ... and the landmarks fitted in it there
        self.faces_seen = 0

    def key_frame(self, rgb: np.ndarray, cut: bool) -> np.ndarray | None:
        rects = lm.detect_faces(rgb, retry=False)
        self.faces_seen = max(self.faces_seen, len(rects))
        fitted = [lm.landmarks(rgb, rect) for rect in rects]
        chosen = self._choose(rgb, cut, fitted)
        self.box, self.anchor = (rects[chosen], fitted[chosen]) if chosen is not None else (None, None)
        return self.anchor

    def _choose(self, rgb: np.ndarray, cut: bool, fitted: list[np.ndarray]) -> int | None:
        """Which of the key frame's faces (`fitted`) is the followed one."""
        if self.points is not None and not cut:  # the same shot: the detection where the face was
            overlaps = [_iou(_box(p), _box(self.points)) for p in fitted]
            if overlaps and max(overlaps) > SAME_BOX:
                return int(np.argmax(overlaps))
        if self.identity is None:  # the first sight: the face asked for, largest first
            if self.face_index >= len(fitted):
                return None
            self.identity = lm.descriptor_at(rgb, fitted[self.face_index])
            return self.face_index
        distances = [float(np.linalg.norm(lm.descriptor_at(rgb, p) - self.identity)) for p in fitted]
        if distances and min(distances) < SAME_PERSON:
            return int(np.argmin(distances))
        return None

    def follow(self, rgb: np.ndarray) -> np.ndarray | None:
        """The landmarks fitted in the key frame's box; None where the face was lost there."""
        assert self.points is not None and self.box is not None
        points = lm.landmarks(rgb, self.box)
        grow = np.ptp(points, 0).max() / max(np.ptp(self.points, 0).max(), 1.0)
        return points if 1 / LOST_SCALE < grow < LOST_SCALE else None

    def moved_off(self) -> bool:
        """The followed face has moved off its key frame's box: detect it again on the next frame."""
        return self.points is not None and self.anchor is not None and lm.moved_off(self.anchor, self.points)


def track_faces(frames: Iterable[np.ndarray], count: int, face_index: int | None, key_interval: int) -> FaceTrack:
    """The followed face's landmarks on each of `count` frames (streamed: one frame in memory at a time)."""
    points = np.full((count, 68, 2), np.nan, np.float32)
    follower, cuts, keys = _Follower(face_index), [], []
    previous, last_key, lost = None, -key_interval, False
    for i, rgb in enumerate(frames):
        if i >= count:
            break
        histogram = shot_histogram(rgb)
        cut = is_cut(previous, histogram)
        previous = histogram
        if cut:
            cuts.append(i)
        if cut or lost or i - last_key >= key_interval:
            follower.points = follower.key_frame(rgb, cut)
            keys.append(i)
            last_key, lost = i, False
        elif follower.points is not None:
            follower.points = follower.follow(rgb)
            lost = follower.points is None or follower.moved_off()  # look again on the next frame
        if follower.points is not None:
            points[i] = follower.points
    return FaceTrack(_smooth(points, cuts), cuts, keys, follower.faces_seen, face_index or 0)


def _smooth(points: np.ndarray, cuts: list[int]) -> np.ndarray:
    """Each run of followed frames within a shot smoothed over time (dlib's fits jitter by a pixel or so)."""
    present = np.isfinite(points[:, 0, 0])
    starts = set(cuts)
    out = points.copy()
    i = 0
    while i < len(points):
        if not present[i]:
            i += 1
            continue
        j = i + 1
        while j < len(points) and present[j] and j not in starts:
            j += 1
        if j - i > 1:
            out[i:j] = gaussian_filter1d(points[i:j], SMOOTH_FRAMES, axis=0, mode="nearest")
        i = j
    return out
