"""How a talking-head video compares with the photo it was made from, measured on the output frames alone.

Landmarks are re-fitted on every frame, so any renderer is judged the same way: dlib's 68 points, or on a face
turned past 30 degrees (where models.eval.readers chose the face mesh) the mesh's vertices in dlib's layout
(models.face.mesh.DLIB_68). dlib's fit does not follow such a face: on the cameraman (turned ~53 degrees) it put
his landmarks elsewhere on the framed photo than on the original, and his unmoved photo read 0.58 from itself and
his render's seam up to 1.7 times the photo's. The photo is measured by the frames' reader (`landmarks_reader`):
with dlib, its analysis's landmarks (a leaning face's: the tracker's, `_Reference.by_dlib`) and the embedding
of the photo before framing; with the mesh, the mesh fitted on the framed photo. dlib's predictor was trained on
upright faces: a face leaning past lm.UPRIGHT_ROLL is fitted turned upright (lm.landmarks_upright). The measures:
- identity: dlib's 128-D descriptor distance of each frame's face to the photo's (same person: below 0.6;
  face_recognition's own threshold; a faithful animation stays far below it), and of the framed photo itself
  measured as a frame: the measure's own floor (0.07 on the astronaut, 0.03 on the cameraman with the mesh);
- mouth sharpness: variance of the Laplacian in the mouth box, over the photo's;
- blinks per minute: eye aspect ratio falling below BLINK_FRACTION of its open value, a closing seen by the frames'
  landmarks or by the face mesh's eye model wherever it ran (models.eval.readers; `blink_reader` says which);
- head motion: spread of the head's roll (degrees) and of its position (px);
- jitter: frame-to-frame noise of the rigid points (nose, eye corners), after their smooth motion;
- seam: gradient energy in a thin band along the jaw line, over the photo's: a halo or a cut edge raises it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from models.eval.readers import Choice, MeshReading, read_with_mesh
from models.face import landmarks as lm
from models.face import mesh
from models.face.analysis import FaceAnalysis
from models.face.frame import EYES, JAW, MOUTH, FaceFrame

REDETECT_EVERY = 25  # frames between fresh face detections (in between, landmarks are fitted in the last box)
RIGID = lm.RIGID
JAW_LINE = JAW[3:14]  # the part of the jaw that moves when the mouth opens
BLINK_FRACTION = 0.6  # eye aspect ratio below this share of its median counts as closed
REOPEN_FRACTION = 0.8  # ... and above this share as open again
# dlib's eye aspect ratio of eyes already as narrow as this (median over the frames) reads no closing: open eyes read
# 0.14-0.47 on the 106 sample and held-out renders, a shut lid about 0.05-0.1; a held-out face looking down with her
# lids nearly shut (0.05) dipped to 0.015-0.03 on landmark slips alone, five "blinks" in 5.9 s (51 a minute), while
# its drawn blinks read 0.24-0.38 (its lash line fitted as a lower lid). The mesh's eye model still reads such lids.
DLIB_LIDS_MIN = 0.1
# frames either side of a closing that count as the blink too, where the mesh's eye model reads the lids: it reads a
# half-lowered lid as open (the cameraman's render: 0.32-0.33 beside the closed frame's 0.16, while his identity
# distance rose to 0.36-0.42 on them, 0.35 at most elsewhere)
MESH_BLINK_RAMP = 2
# px across the jaw line (outwards positive) where the seam is measured, in a frame of models/render/softness.
# REFERENCE_SIZE (512) or smaller; a larger frame's band is as much wider. Kept in px, the same frame enlarged to
# 1024 read another seam (the astronaut opened wide: 1.145 times the photo's, enlarged 1.009), and at 1024 px 10 of
# the 23 held-out faces over the bar of 1.3 were over it by the narrower band alone
SEAM_BAND = (-2.0, 4.0)
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
    blink_reader: str = "dlib"  # what saw the blinks: dlib, mesh, or dlib+mesh (a closing either saw; readers.py)
    landmarks_reader: str = "dlib"  # ... and those every other measure is placed by: dlib's, or the mesh's (DLIB_68)

    def as_dict(self) -> dict:
        return asdict(self)


def track_landmarks(frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(frame, its 68 landmarks or None) for each frame, fitted in the box of the last face detection; detection
    again every REDETECT_EVERY frames, and sooner where the head has moved off that box (lm.moved_off); a leaning
    face fitted turned upright (lm.landmarks_upright).

    A still face reads still. Boxes rebuilt from each frame's own landmarks (lm.box_from_points), or moved with
    them, fed each fit's error into the next box: 25 copies of one frame read 5-31 px apart on the sample photos
    (Grace Hopper's mouth wandered 31 px, the cameraman's lips went from 0.21 to 0.34 apart), 97 px on a turned
    face; the predictor fits well in a box a few dozen px off (the HOG detector's own boxes jump by as much)."""
    points = box = anchor = None  # anchor: the landmarks fitted on the last detection
    for i, frame in enumerate(frames):
        if anchor is None or i % REDETECT_EVERY == 0 or lm.moved_off(anchor, points):
            faces = lm.detect_faces(frame)
            box = faces[0] if faces else None
            points = anchor = lm.landmarks_upright(frame, box) if box is not None else None
        else:
            points = lm.landmarks_upright(frame, box)
        yield frame, points


def eye_aspect(points: np.ndarray) -> float:
    """Mean over both eyes of lid gap over eye width."""
    ratios = []
    for e in EYES:
        p = points[e]
        gap = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
        ratios.append(gap / (2 * max(float(np.linalg.norm(p[0] - p[3])), 1e-6)))
    return float(np.mean(ratios))


def closings(aspects: np.ndarray, one_frame_counts: bool = False) -> list[tuple[int, int]]:
    """(first, last frame) of each separate closing in a series of eye aspect ratios (NaN where no face): a closing
    lasts at least two frames (a one-frame dip of dlib's lids is a landmark slip, common behind glasses), or one with
    `one_frame_counts` (the face mesh's eye model, which does not slip so: on the sample renders its only dips were
    the drawn blinks, one of them closed for one frame), and ends when the eye is well open."""
    frames = np.flatnonzero(~np.isnan(aspects))
    if not len(frames):
        return []
    series = aspects[frames]
    if not one_frame_counts:
        series = np.median(np.stack([np.r_[series[:1], series[:-1]], series, np.r_[series[1:], series[-1:]]]), axis=0)
    open_value = float(np.median(series))
    runs: list[tuple[int, int]] = []
    start = None
    for i, value in enumerate(series):
        if start is None and value < BLINK_FRACTION * open_value:
            start = i
        elif start is not None and value > REOPEN_FRACTION * open_value:
            runs.append((int(frames[start]), int(frames[i - 1])))
            start = None
    if start is not None:
        runs.append((int(frames[start]), int(frames[-1])))
    return runs


def count_blinks(aspects: np.ndarray, one_frame_counts: bool = False) -> int:
    """How many separate closings (`closings`) the series holds."""
    return len(closings(aspects, one_frame_counts))


def separate(runs: list[tuple[int, int]]) -> int:
    """How many separate closings the (first, last frame) `runs` of several readers make: overlapping or touching
    runs are one."""
    count, last = 0, None
    for first, end in sorted(runs):
        if last is None or first > last + 1:
            count += 1
            last = end
        else:
            last = max(last, end)
    return count


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
    """Mean gradient magnitude in a thin band along the jaw line (outwards from the face; SEAM_BAND)."""
    from models.render.mesh import spline_matrix
    from models.render.softness import REFERENCE_SIZE

    jaw = points[JAW_LINE]
    curve = spline_matrix(jaw, 8) @ jaw
    normal = FaceFrame.of(points).outward(curve)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    scale = max(image.shape[1], REFERENCE_SIZE) / REFERENCE_SIZE
    offsets = np.arange(SEAM_BAND[0] * scale, SEAM_BAND[1] * scale + 0.5, 1.0)
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
    frames: Iterable[np.ndarray],
    photo: FaceAnalysis,
    fps: float,
    choice: Choice | None = None,
    points: Iterable[np.ndarray | None] | None = None,
) -> QualityReport:
    """Score `frames` (RGB, the photo's framing and size) against the analysed `photo`. `choice`
    (models.eval.readers.choose, on the same frames; None: dlib) reads the blinks and, where it is the mesh, places
    every other measure too, on the frames and on the photo alike; `points`: the frames' dlib landmarks when
    already fitted (track_landmarks)."""
    reference = _Reference.by_mesh(photo) if _by_mesh(choice) else None
    if reference is not None:
        assert choice is not None and choice.mesh is not None
        fitted = zip(frames, [p if np.isfinite(p).all() else None for p in choice.mesh.points], strict=True)
    else:
        reference = _Reference.by_dlib(photo)
        fitted = track_landmarks(frames) if points is None else zip(frames, points, strict=True)
    distances, sharpness, aspects, rolls, shifts, seams, rigid = [], [], [], [], [], [], []
    n = found = 0
    for frame, frame_points in fitted:
        n += 1
        if frame_points is None:
            distances.append(np.nan)
            aspects.append(np.nan)
            rigid.append(np.full((len(RIGID), 2), np.nan))
            continue
        found += 1
        distances.append(_identity(frame, frame_points, reference.embedding))
        sharpness.append(mouth_sharpness(frame, frame_points) / max(reference.sharpness, 1e-6))
        aspects.append(eye_aspect(frame_points))
        roll, shift = _rigid_pose(frame_points, reference.points)
        rolls.append(roll)
        shifts.append(shift)
        seams.append(seam_energy(frame, frame_points) / max(reference.seam, 1e-6))
        rigid.append(frame_points[RIGID])
    lids = _lids(choice)  # the mesh's eye model: it follows a turned face's blinks, and lids over downcast eyes
    openness, ramp = (lids.eye_openings, MESH_BLINK_RAMP) if lids is not None else (np.array(aspects, float), 0)
    eyes_open = [d for d, o in zip(distances, eyes_open_frames(np.asarray(openness, float), ramp), strict=True) if o]
    lid_aspects = np.array(aspects, np.float32)  # dlib's lids (or the mesh's points in its layout)

    def stat(values: list[float], fn) -> float | None:
        values = [v for v in values if np.isfinite(v)]
        return round(float(fn(values)), 4) if values else None

    return QualityReport(
        frames=n,
        frames_with_face=found,
        identity_distance_max=stat(distances, np.max),
        identity_distance_median=stat(distances, np.median),
        identity_distance_max_eyes_open=stat(eyes_open, np.max),
        identity_distance_photo=stat(reference.itself(), np.max),
        mouth_sharpness_ratio=stat(sharpness, np.median),
        blinks_per_minute=round(_blinks(lid_aspects, choice) * 60 * fps / max(n, 1), 2),
        head_roll_std_deg=stat(rolls, np.std),
        head_shift_std_px=stat([float(np.linalg.norm(s)) for s in shifts], np.std),
        jitter_px=_jitter(np.array(rigid)) if found > 2 else None,
        seam_ratio_median=stat(seams, np.median),
        seam_ratio_p95=stat(seams, lambda v: np.percentile(v, 95)),
        blink_reader=_blink_reader(reference.reader, lid_aspects, lids),
        landmarks_reader=reference.reader,
    )


@dataclass(frozen=True)
class _Reference:
    """The photo as the frames' reader measures it: what each frame is compared with."""

    photo: FaceAnalysis
    reader: str  # "dlib" or "mesh"
    points: np.ndarray  # (68, 2) in the framed photo's pixels
    embedding: np.ndarray | None
    sharpness: float
    seam: float

    @classmethod
    def by_dlib(cls, photo: FaceAnalysis) -> _Reference:
        """The analysis's own landmarks, and its embedding of the photo before framing. A face leaning past
        lm.UPRIGHT_ROLL is placed as its frames are, by the tracker's fit on the framed photo turned upright: the
        analysis fits it as it leans, and compared with that fit the unmoved photo read as a frame scored 1.23 of
        its own jaw seam (a held-out face leaning 26 degrees: the two jaw lines up to 7 px apart)."""
        points = photo.landmarks
        if abs(lm.leaning(points)) > lm.UPRIGHT_ROLL:
            points = next((p for _, p in track_landmarks([photo.image]) if p is not None), points)
        return cls.of(photo, "dlib", points, photo.embedding)

    @classmethod
    def by_mesh(cls, photo: FaceAnalysis) -> _Reference | None:
        """The mesh fitted on the framed photo in the analysis's face box (None where it finds no face there)."""
        fitted = mesh.fit_from_box(photo.image, tuple(float(v) for v in photo.box))
        if fitted is None:
            return None
        points = mesh.as_dlib68(fitted)
        return cls.of(photo, "mesh", points, lm.descriptor_at(photo.image, points))

    @classmethod
    def of(cls, photo: FaceAnalysis, reader: str, points: np.ndarray, embedding: np.ndarray | None) -> _Reference:
        return cls(
            photo, reader, points, embedding, mouth_sharpness(photo.image, points), seam_energy(photo.image, points)
        )

    def itself(self) -> list[float]:
        """The identity distance of the framed, unmoved photo read as a frame (the measure's floor)."""
        if self.reader == "mesh":
            read = read_with_mesh([self.photo.image]).points
            fitted = [p for p in read if np.isfinite(p).all()]
        else:
            fitted = [p for _, p in track_landmarks([self.photo.image]) if p is not None]
        return [_identity(self.photo.image, p, self.embedding) for p in fitted]


def eyes_open_frames(aspects: np.ndarray, ramp: int) -> np.ndarray:
    """For each frame: whether its eyes are seen open (False where `aspects` is NaN: no face), the `ramp` frames
    either side of a closed one counted as closed."""
    valid = ~np.isnan(aspects)
    if not valid.any():
        return valid
    closed = valid & (np.nan_to_num(aspects, nan=np.inf) < REOPEN_FRACTION * np.median(aspects[valid]))
    if ramp:
        closed = np.convolve(closed, np.ones(2 * ramp + 1), "same") > 0
    return valid & ~closed


def _by_mesh(choice: Choice | None) -> bool:
    return choice is not None and choice.reader == "mesh" and choice.mesh is not None


def _lids(choice: Choice | None) -> MeshReading | None:
    """The mesh's reading where it was run: its eye model reads the lids whenever it is installed."""
    return choice.mesh if choice is not None else None


def _blinks(aspects: np.ndarray, choice: Choice | None) -> int:
    """Closings seen by the frames' landmarks (`aspects`: their eye aspect ratios) or by the mesh's eye model where
    it ran: each reader misses some (dlib's lids over eyes that look down, the eye model's behind glasses, where it
    reads a shut lid at 0.6 of open) and neither dips without a closing beyond its slips, which `closings` drops; dlib's
    lids are not read where the eyes are already nearly shut (DLIB_LIDS_MIN): their slips are as deep as a closing."""
    runs = dlib_closings(aspects)
    lids = _lids(choice)
    if lids is not None:
        runs += closings(lids.eye_openings, one_frame_counts=True)
    return separate(runs)


def dlib_closings(aspects: np.ndarray) -> list[tuple[int, int]]:
    """The closings (`closings`) of dlib's lids, none where the eyes are already nearly shut (DLIB_LIDS_MIN)."""
    return closings(aspects) if _dlib_reads_lids(aspects) else []


def _dlib_reads_lids(aspects: np.ndarray) -> bool:
    """Whether dlib's lids (`aspects`: eye aspect ratios, NaN where no face) are open enough to read a closing."""
    valid = aspects[~np.isnan(aspects)]
    return bool(len(valid)) and float(np.median(valid)) >= DLIB_LIDS_MIN


def _blink_reader(landmarks_reader: str, aspects: np.ndarray, lids: MeshReading | None) -> str:
    if landmarks_reader == "mesh":
        return "mesh"
    if not _dlib_reads_lids(aspects):
        return "mesh (dlib: eyes too narrow)" if lids is not None else "none (dlib: eyes too narrow)"
    return "dlib+mesh" if lids is not None else "dlib"


def _identity(frame: np.ndarray, points: np.ndarray, embedding: np.ndarray | None) -> float:
    if embedding is None:
        return float("nan")
    return float(np.linalg.norm(lm.descriptor_at(frame, points) - embedding))


def _jitter(rigid: np.ndarray) -> float | None:
    """Median size of the second difference of the rigid points (px): smooth motion has almost none."""
    second = rigid[2:] - 2 * rigid[1:-1] + rigid[:-2]
    size = np.linalg.norm(second, axis=-1).mean(-1)
    size = size[np.isfinite(size)]
    return round(float(np.median(size)), 4) if len(size) else None
