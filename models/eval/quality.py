"""How a talking-head video compares with the photo it was made from, measured on the output frames alone.

Landmarks are re-fitted on every frame (dlib), so any renderer is judged the same way:
- identity: dlib's 128-D descriptor distance of each frame's face to the photo's (same person: below 0.6;
  face_recognition's own threshold; a faithful animation stays far below it), and of the framed photo itself
  measured as a frame: the measure's own floor (0.07 on the astronaut, 0.58 on the turned cameraman, whose
  landmarks dlib re-fits elsewhere on the framed photo than on the original);
- mouth sharpness: variance of the Laplacian in the mouth box, over the photo's;
- blinks per minute: eye aspect ratio falling below BLINK_FRACTION of its open value (dlib's landmarks, or the
  face mesh's eye model on a turned face: models.eval.readers; `blink_reader` says which);
- head motion: spread of the head's roll (degrees) and of its position (px);
- jitter: frame-to-frame noise of the rigid points (nose, eye corners), after their smooth motion;
- seam: gradient energy in a thin band along the jaw line, over the photo's: a halo or a cut edge raises it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from models.eval.readers import Choice
from models.face import landmarks as lm
from models.face.analysis import FaceAnalysis
from models.face.frame import EYES, JAW, MOUTH, FaceFrame

REDETECT_EVERY = 25  # frames between fresh face detections (in between, landmarks follow the last fit)
RIGID = [27, 28, 29, 30, 31, 35, 36, 39, 42, 45]  # nose and eye corners: they move only with the head
JAW_LINE = JAW[3:14]  # the part of the jaw that moves when the mouth opens
BLINK_FRACTION = 0.6  # eye aspect ratio below this share of its median counts as closed
REOPEN_FRACTION = 0.8  # ... and above this share as open again
SEAM_BAND = (-2.0, 4.0)  # px across the jaw line (outwards positive) where the seam is measured
SAME_PERSON = 0.6


@dataclass
class QualityReport:
    frames: int
    frames_with_face: int
    identity_distance_max: float | None
    identity_distance_median: float | None
    identity_distance_max_eyes_open: float | None  # closed eyes move the descriptor most: without blink frames
    identity_distance_photo: float | None  # the framed, unmoved photo measured as a frame: the measure's floor
    mouth_sharpness_ratio: float | None  # median over frames, 1 = as sharp as the photo
    blinks_per_minute: float
    head_roll_std_deg: float | None
    head_shift_std_px: float | None
    jitter_px: float | None  # median frame-to-frame noise of the rigid points
    seam_ratio_median: float | None
    seam_ratio_p95: float | None
    blink_reader: str = "dlib"  # the landmarks the blinks come from (models.eval.readers)

    def as_dict(self) -> dict:
        return asdict(self)


def track_landmarks(frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(frame, its 68 landmarks or None) for each frame; detection every REDETECT_EVERY frames, in between
    a re-fit inside the box of the last landmarks."""
    points = None
    for i, frame in enumerate(frames):
        if points is None or i % REDETECT_EVERY == 0:
            faces = lm.detect_faces(frame)
            box = faces[0] if faces else None
        else:
            box = lm.box_from_points(points)
        points = lm.landmarks(frame, box) if box is not None else None
        yield frame, points


def eye_aspect(points: np.ndarray) -> float:
    """Mean over both eyes of lid gap over eye width."""
    ratios = []
    for e in EYES:
        p = points[e]
        gap = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
        ratios.append(gap / (2 * max(float(np.linalg.norm(p[0] - p[3])), 1e-6)))
    return float(np.mean(ratios))


def count_blinks(aspects: np.ndarray, one_frame_counts: bool = False) -> int:
    """Separate closings in a series of eye aspect ratios (NaN where no face): a closing lasts at least two
    frames (a one-frame dip of dlib's lids is a landmark slip, common behind glasses), or one with
    `one_frame_counts` (the face mesh's eye model, which does not slip so: on the sample renders its only dips
    were the drawn blinks, one of them closed for one frame), and ends when the eye is well open."""
    valid = ~np.isnan(aspects)
    if not valid.any():
        return 0
    series = aspects[valid]
    if not one_frame_counts:
        series = np.median(
            np.stack([np.r_[series[:1], series[:-1]], series, np.r_[series[1:], series[-1:]]]), axis=0
        )
    open_value = float(np.median(series))
    blinks, closed = 0, False
    for value in series:
        if not closed and value < BLINK_FRACTION * open_value:
            blinks, closed = blinks + 1, True
        elif closed and value > REOPEN_FRACTION * open_value:
            closed = False
    return blinks


def mouth_sharpness(image: np.ndarray, points: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image in the box around the lips."""
    x0, y0 = np.floor(points[MOUTH].min(0)).astype(int) - 2
    x1, y1 = np.ceil(points[MOUTH].max(0)).astype(int) + 2
    h, w = image.shape[:2]
    box = image[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
    if box.size == 0:
        return float("nan")
    return float(cv2.Laplacian(cv2.cvtColor(box, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())


def seam_energy(image: np.ndarray, points: np.ndarray) -> float:
    """Mean gradient magnitude in a thin band along the jaw line (outwards from the face)."""
    from models.render.mesh import spline_matrix

    jaw = points[JAW_LINE]
    curve = spline_matrix(jaw, 8) @ jaw
    normal = FaceFrame.of(points).outward(curve)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    offsets = np.arange(SEAM_BAND[0], SEAM_BAND[1] + 0.5, 1.0)
    at = (curve[None] + offsets[:, None, None] * normal[None]).astype(np.float32)
    return float(cv2.remap(magnitude, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).mean())


def _rigid_pose(points: np.ndarray, reference: np.ndarray) -> tuple[float, np.ndarray]:
    """Roll (degrees) and shift (px) of `points`' rigid landmarks against the photo's."""
    matrix, _ = cv2.estimateAffinePartial2D(reference[RIGID], points[RIGID])
    if matrix is None:
        return float("nan"), np.full(2, np.nan)
    roll = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    return roll, points[RIGID].mean(0) - reference[RIGID].mean(0)


def evaluate_quality(
    frames: Iterable[np.ndarray], photo: FaceAnalysis, fps: float, choice: Choice | None = None
) -> QualityReport:
    """Score `frames` (RGB, the photo's framing and size) against the analysed `photo`; blinks read by
    `choice` (models.eval.readers.choose, on the same frames; None: dlib)."""
    reference = photo.landmarks
    photo_sharpness = mouth_sharpness(photo.image, reference)
    photo_seam = seam_energy(photo.image, reference)
    distances, sharpness, aspects, rolls, shifts, seams, rigid = [], [], [], [], [], [], []
    n = 0
    for frame, points in track_landmarks(frames):
        n += 1
        if points is None:
            aspects.append(np.nan)
            rigid.append(np.full((len(RIGID), 2), np.nan))
            continue
        distances.append(_identity(frame, points, photo))
        sharpness.append(mouth_sharpness(frame, points) / max(photo_sharpness, 1e-6))
        aspects.append(eye_aspect(points))
        roll, shift = _rigid_pose(points, reference)
        rolls.append(roll)
        shifts.append(shift)
        seams.append(seam_energy(frame, points) / max(photo_seam, 1e-6))
        rigid.append(points[RIGID])
    found = n - int(np.sum(np.isnan(aspects)))
    seen = np.array([a for a in aspects if not np.isnan(a)])
    eyes_open = [d for d, a in zip(distances, seen, strict=True) if a >= REOPEN_FRACTION * np.median(seen)]
    photo_itself = _identity_distances([photo.image], photo)

    def stat(values: list[float], fn) -> float | None:
        values = [v for v in values if np.isfinite(v)]
        return round(float(fn(values)), 4) if values else None

    return QualityReport(
        frames=n,
        frames_with_face=found,
        identity_distance_max=stat(distances, np.max),
        identity_distance_median=stat(distances, np.median),
        identity_distance_max_eyes_open=stat(eyes_open, np.max),
        identity_distance_photo=stat(photo_itself, np.max),
        mouth_sharpness_ratio=stat(sharpness, np.median),
        blinks_per_minute=round(_blinks(np.array(aspects, np.float32), choice) * 60 * fps / max(n, 1), 2),
        head_roll_std_deg=stat(rolls, np.std),
        head_shift_std_px=stat([float(np.linalg.norm(s)) for s in shifts], np.std),
        jitter_px=_jitter(np.array(rigid)) if found > 2 else None,
        seam_ratio_median=stat(seams, np.median),
        seam_ratio_p95=stat(seams, lambda v: np.percentile(v, 95)),
        blink_reader="mesh" if _by_mesh(choice) else "dlib",
    )


def _by_mesh(choice: Choice | None) -> bool:
    return choice is not None and choice.reader == "mesh"


def _blinks(dlib_aspects: np.ndarray, choice: Choice | None) -> int:
    if _by_mesh(choice):
        return count_blinks(choice.mesh.eye_openings, one_frame_counts=True)
    return count_blinks(dlib_aspects)


def _identity(frame: np.ndarray, points: np.ndarray, photo: FaceAnalysis) -> float:
    if photo.embedding is None:
        return float("nan")
    return float(np.linalg.norm(lm.descriptor_at(frame, points) - photo.embedding))


def _identity_distances(frames: Iterable[np.ndarray], photo: FaceAnalysis) -> list[float]:
    return [_identity(frame, points, photo) for frame, points in track_landmarks(frames) if points is not None]


def _jitter(rigid: np.ndarray) -> float | None:
    """Median size of the second difference of the rigid points (px): smooth motion has almost none."""
    second = rigid[2:] - 2 * rigid[1:-1] + rigid[:-2]
    size = np.linalg.norm(second, axis=-1).mean(-1)
    size = size[np.isfinite(size)]
    return round(float(np.median(size)), 4) if len(size) else None
