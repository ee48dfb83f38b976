"""dlib's embedded face models (shipped by the face-recognition-models package), loaded once per process."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import cv2
import dlib
import numpy as np

PACKAGE = "face_recognition_models"
DETECT_SIDE = 1024  # the first HOG pass sees the photo at most this large (its cost grows with the pixels)
UPSAMPLED_SIDE = 2400  # the HOG retry enlarges the photo up to this longer side (its smallest face is ~80 px)
CNN_SIDE = 420  # the CNN retry sees the photo at most this large (a few seconds on a CPU; faces from ~50 px)
UPRIGHT_CHECK = 200  # px: the crop in which a CNN-found face is checked for standing upright
FIT_MIN = 160  # px: landmarks of a smaller face are fitted on an enlarged copy of its region
TRACK_BOX_SIDE, TRACK_BOX_RISE = 1.047, 0.022  # a HOG box around 68 landmarks: jaw widths; its side above their mean
RIGID = [27, 28, 29, 30, 31, 35, 36, 39, 42, 45]  # nose and eye corners: they move only with the head
MOVED_OFF = 0.25  # a face followed in a detector's box is detected again once it moved by this share of RIGID's spread
# degrees the eye line may lean before the evaluator fits the landmarks again on the face turned upright
# (landmarks_upright): on a leaning face
# the predictor slides the lower inner lip along the mouth. The astronaut's pressed lips (0.007 mouth widths apart
# upright) read 0.012 at 10 degrees, 0.043 at 25 and 0.052 at 30; fitted upright, 0.003-0.012 at every angle, her
# open mouth the same either way. At 5 degrees both fits read the same.
UPRIGHT_ROLL = 7.0
UPRIGHT_REACH = 1.5  # the face turned upright: a square this many jaw widths either side of the landmarks' mean
CNN_ONLY_NOTE = (
    "the face was found only by the CNN detector (turned away, partly hidden or dim): its landmarks are rough, so "
    "the warp renderer opens the lips only where it finds them meeting, keeps the jaw line still and closes the lids "
    "only over the eyes a second fit finds (not one hidden behind the nose); check the result, a front-facing photo "
    "works best"
)
_DLIB = threading.Lock()  # dlib's model objects abort the process when two threads use them at once


def model_path(filename: str) -> Path:
    """A weight file of face-recognition-models, located without importing the package.

    Its __init__ imports pkg_resources, which recent setuptools no longer provides."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {PACKAGE} package is missing: pip install face-recognition-models")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / filename
    if not path.exists():
        raise RuntimeError(f"{path} is missing: reinstall face-recognition-models")
    return path


@cache
def _detector() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()


@cache
def _cnn_detector() -> dlib.cnn_face_detection_model_v1:
    return dlib.cnn_face_detection_model_v1(str(model_path("mmod_human_face_detector.dat")))


@cache
def _predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(str(model_path("shape_predictor_68_face_landmarks.dat")))


@cache
def _encoder() -> dlib.face_recognition_model_v1:
    return dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))


def detect_faces(rgb: np.ndarray, notes: list[str] | None = None, retry: bool = True) -> list[dlib.rectangle]:
    """Frontal faces in `rgb`, largest first: first on a copy at most DETECT_SIDE px (a 4000 px photo at full size
    took 1.4 s), on the full photo when that finds none. When the HOG detector still finds none, it looks again
    on the photo enlarged (small faces), then dlib's CNN detector tries (turned, partly hidden or badly lit faces); a
    retry that finds a face says so in `notes`. Without `retry` (video frames, many of them faceless) only the
    first pass runs."""
    with _DLIB:
        scale = min(1.0, DETECT_SIDE / max(rgb.shape[:2]))
        faces = _scaled(_detector()(_resize(rgb, scale), 0), 1 / scale)
        if not retry:
            return sorted(faces, key=lambda r: r.width() * r.height(), reverse=True)
        if not faces and scale < 1.0:  # only smaller faces than a reduced copy shows: the full photo
            faces = list(_detector()(rgb, 0))
        scale = UPSAMPLED_SIDE / max(rgb.shape[:2])
        if not faces and scale > 1.2:
            faces = _scaled(_detector()(_resize(rgb, scale), 0), 1 / scale)
            if faces and notes is not None:
                notes.append("the face is small in the photo: it is enlarged, so the video is less sharp")
        scale = min(1.0, CNN_SIDE / max(rgb.shape[:2]))
        if not faces:
            faces = _scaled([d.rect for d in _cnn_detector()(_resize(rgb, scale), 0)], 1 / scale)
            faces = [box for box in faces if _upright(rgb, box)]  # it also finds faces lying on their side
            if faces and notes is not None:
                notes.append(CNN_ONLY_NOTE)
    return sorted(faces, key=lambda r: r.width() * r.height(), reverse=True)


def _upright(rgb: np.ndarray, box: dlib.rectangle) -> bool:
    """Whether the CNN sees the face in `box` best as it stands, not turned a quarter either way (the CNN also
    finds faces lying on their side, which the renderer cannot animate)."""
    margin = box.width() // 2
    y0, x0 = max(box.top() - margin, 0), max(box.left() - margin, 0)
    crop = rgb[y0 : box.bottom() + margin, x0 : box.right() + margin]
    crop = _resize(np.ascontiguousarray(crop), UPRIGHT_CHECK / max(crop.shape[:2]))

    def score(image: np.ndarray) -> float:
        return max((d.confidence for d in _cnn_detector()(np.ascontiguousarray(image), 0)), default=-np.inf)

    return score(crop) >= max(score(np.rot90(crop, 1)), score(np.rot90(crop, -1)))


def _resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return rgb
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def _scaled(rects: Iterable[dlib.rectangle], scale: float) -> list[dlib.rectangle]:
    return [
        dlib.rectangle(
            round(r.left() * scale), round(r.top() * scale), round(r.right() * scale), round(r.bottom() * scale)
        )
        for r in rects
    ]


def landmarks(rgb: np.ndarray, box: dlib.rectangle) -> np.ndarray:
    """The 68 iBUG landmarks inside `box`, float32 (68, 2) in x, y pixel coordinates. A small face is fitted
    on an enlarged copy of its surroundings: the predictor is imprecise on a few dozen pixels."""
    scale = FIT_MIN / max(box.width(), 1)
    if scale <= 1:
        with _DLIB:
            shape = _predictor()(rgb, box)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    margin = box.width()
    x0, y0 = max(box.left() - margin, 0), max(box.top() - margin, 0)
    region = _resize(np.ascontiguousarray(rgb[y0 : box.bottom() + margin, x0 : box.right() + margin]), scale)
    local = dlib.rectangle(
        round((box.left() - x0) * scale),
        round((box.top() - y0) * scale),
        round((box.right() - x0) * scale),
        round((box.bottom() - y0) * scale),
    )
    with _DLIB:
        shape = _predictor()(region, local)
    return np.array([(p.x / scale + x0, p.y / scale + y0) for p in shape.parts()], dtype=np.float32)


def landmarks_upright(rgb: np.ndarray, box: dlib.rectangle) -> np.ndarray:
    """`landmarks`, fitted again on the face turned upright where it leans past UPRIGHT_ROLL (the predictor was
    trained on upright faces): what the evaluator reads frames with."""
    points = landmarks(rgb, box)
    return _fit_upright(rgb, points, roll) if abs(roll := leaning(points)) > UPRIGHT_ROLL else points


def fitted_upright(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The landmarks fitted again on the face (68 `points`, as fitted) turned upright by its `leaning`, whatever it
    is (landmarks_upright refits only past UPRIGHT_ROLL)."""
    return _fit_upright(rgb, points, leaning(points))


def leaning(points: np.ndarray) -> float:
    """Degrees the line through the eyes' outer corners of 68 landmarks leans (clockwise in the image positive)."""
    x, y = points[45] - points[36]
    return float(np.degrees(np.arctan2(y, x)))


def _fit_upright(rgb: np.ndarray, points: np.ndarray, roll: float) -> np.ndarray:
    """The landmarks fitted again on a square around the face (`points`, fitted as it leans by `roll` degrees),
    turned upright, in the box the detector would put around the turned `points`; back in `rgb`'s pixels."""
    centre = points.mean(0)
    half = UPRIGHT_REACH * float(np.ptp(points[:, 0]))
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, 1.0)
    matrix[:, 2] += half - centre  # the face's centre to the square's
    side = int(np.ceil(2 * half))
    square = cv2.warpAffine(rgb, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    turned = points @ matrix[:, :2].T + matrix[:, 2]
    fitted = landmarks(square, box_from_points(turned))
    back = cv2.invertAffineTransform(matrix)
    return (fitted @ back[:, :2].T + back[:, 2]).astype(np.float32)


def descriptor_at(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The 128-d identity embedding of the face whose 68 landmarks are `points` (fitted already)."""
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
    shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in points])
    with _DLIB:
        return np.array(_encoder().compute_face_descriptor(rgb, shape), dtype=np.float32)


def corners(box: dlib.rectangle) -> tuple[int, int, int, int]:
    """A detector's box as (left, top, right, bottom) pixels."""
    return box.left(), box.top(), box.right(), box.bottom()


def moved_off(anchor: np.ndarray, points: np.ndarray) -> bool:
    """The rigid landmarks moved or scaled by more than MOVED_OFF of their spread since they were fitted in a
    detector's box (`anchor`): a video's later frames are fitted in that box until then. Boxes rebuilt from each
    frame's own fit (box_from_points) fed its error into the next box: a still video's landmarks wandered."""
    spread = max(float(np.ptp(anchor[RIGID], 0).max()), 1.0)
    shift = float(np.linalg.norm(points[RIGID].mean(0) - anchor[RIGID].mean(0)))
    scale = float(np.ptp(points[RIGID], 0).max()) / spread
    return shift > MOVED_OFF * spread or abs(np.log(max(scale, 1e-6))) > MOVED_OFF


def box_from_points(points: np.ndarray) -> dlib.rectangle:
    """A detector-like box around 68 landmarks, for re-fitting landmarks on later frames of a video.

    The shape predictor was trained on the HOG detector's boxes: square, TRACK_BOX_SIDE times the jaw's width,
    centred on the landmarks' mean a little above it (fitted on the sample photos and frames rendered from
    them). A box of another shape biases the fit: a closed mouth read as open by 0.02-0.03 mouth widths."""
    x0, x1 = float(points[:, 0].min()), float(points[:, 0].max())
    side = TRACK_BOX_SIDE * (x1 - x0)
    cx, cy = points.mean(0) - [0.0, TRACK_BOX_RISE * side]
    return dlib.rectangle(round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))
