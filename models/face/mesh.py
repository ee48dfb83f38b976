"""A second landmark reader: MediaPipe's face mesh and eye models (.tflite), run with ai-edge-litert.

dlib's 68-point predictor was trained on near-frontal faces; on a face turned 45-60 degrees its points stay
where a frontal face's lips and lids would be, so the evaluator reads neither closed lips nor blinks there. The
mesh model (468 points) was trained on turned faces too, and gives 3-D points (z in the units of x), so gaps
and widths are measured along the face rather than foreshortened in the image. Its own lids barely move when an
eye closes; MediaPipe refines the eyes with a second model (71 contour points per eye), and so do we.

Both files ship in the mediapipe 0.10.21 wheel on PyPI (`avatar models download face_mesh` extracts them; newer
wheels carry no models). Input conventions are MediaPipe's own graphs' (modules/face_landmark/
face_landmark_cpu.pbtxt and face_landmark_landmarks_to_roi.pbtxt, modules/iris_landmark/iris_landmark_cpu.pbtxt):
- mesh: a 192x192 RGB crop in [0, 1] of a square 1.5 times the face's extent along its eye line, turned so that
  the eyes lie level; out come 468 x, y, z in the crop's pixels and a face-presence logit (sigmoid > 0.5);
- eyes: a 64x64 RGB crop in [0, 1] of a square 2.3 times the eye's width, level with its corners, the person's
  left eye mirrored (the model knows right eyes only); out come 71 x, y, z (0-15: the eye's contour).

Each crop moves the mesh, and the mesh the next crop: a first crop from a detector's box is re-cropped until it stays
put, and a video's next crop is kept where the mesh would move it by less than SETTLED (a still face then reads
alike on every frame). DLIB_68 names the vertices that stand for dlib's 68 points, for the measures set on those.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from models import weights
from models.types import Availability

BACKEND = "face_mesh"  # the weights' name in models.weights
MESH_SIDE, EYE_SIDE = 192, 64  # the models' input sizes, pixels
MESH_SCALE, EYE_SCALE = 1.5, 2.3  # a crop's side over the face's / the eye's extent
PRESENCE = 0.5  # sigmoid of the face flag above which the crop holds a face
SETTLE_PASSES = 12  # at most this many re-crops from the mesh's own points after a first crop from a detector's box,
SETTLED = 0.005  # ... until the crop would move less than this share of its side (its turn: as many radians)

# Mesh indices (MediaPipe's canonical face mesh). "Right" is the person's right: the image's left when frontal.
RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)
INNER_LIPS = (13, 14)  # upper, lower inner lip at the middle
MOUTH_CORNERS = (61, 291)
# The eye model's contour: 0 and 8 the corners, 1-7 the lower lid, 9-15 the upper; these face each other.
EYE_CORNERS = (0, 8)
LID_PAIRS = ((11, 3), (12, 4), (13, 5))
# The vertices that stand for dlib's 68 points (iBUG layout, its 0 on the image's left): on the frontal sample photos
# (astronaut, Grace Hopper, each also tight and tilted) the nearest to dlib's of the mesh's own contours (silhouette,
# upper brow, lids, lips), 0.01-0.12 of the eyes' distance from them on average, left/right symmetric; drawn on the
# cameraman (turned ~53 degrees) they follow his face where dlib's do not.
DLIB_68 = (
    (127, 93, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 323, 356)  # jaw
    + (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)  # brows
    + (168, 197, 5, 4, 75, 97, 2, 326, 305)  # nose: bridge, then the nostrils' base
    + (7, 159, 158, 155, 153, 144, 382, 385, 386, 249, 373, 380)  # eyes
    + (61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91)  # outer lips
    + (78, 82, 13, 312, 308, 317, 14, 87)  # inner lips
)

_LOCK = threading.Lock()  # the interpreters' tensors are shared: one run at a time


@dataclass(frozen=True)
class Roi:
    """A square crop: centre (x, y) in image pixels, side in pixels, rotation in radians (the eye line's)."""

    centre: np.ndarray
    side: float
    angle: float

    def moved_from(self, other: Roi) -> float:
        """How far this crop lies from `other`: the largest of its centre's shift and side's change (shares of the
        side) and its turn (radians)."""
        shift = float(np.linalg.norm(self.centre - other.centre)) / self.side
        return max(shift, abs(self.side - other.side) / self.side, abs(self.angle - other.angle))

    def to_image(self, pixels: int) -> np.ndarray:
        """The 2x3 affine map from the model's input pixels (0..pixels) to image pixels."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        rotation = np.array([[c, -s], [s, c]]) * (self.side / pixels)
        return np.hstack([rotation, (self.centre - rotation @ [pixels / 2, pixels / 2])[:, None]])


def availability() -> Availability:
    """Whether the runtime and both model files are here, or what is missing."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return Availability(False, "face mesh runtime missing: pip install ai-edge-litert")
    return weights.backend_status(BACKEND)


def _interpreter(name: str):
    return _load(str(weights.weights_path(name)))


@lru_cache(maxsize=4)
def _load(path: str):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def _run(name: str, rgb: np.ndarray, roi: Roi, pixels: int, mirror: bool = False) -> tuple[np.ndarray, float]:
    """Model `name` on `roi` of `rgb`: its first output as (n, 3) points in image pixels (z scaled like x and y),
    and its second output's first value."""
    to_image = roi.to_image(pixels)
    if mirror:
        to_image = to_image @ np.array([[-1.0, 0, pixels], [0, 1, 0], [0, 0, 1]])
    crop = cv2.warpAffine(
        rgb, to_image, (pixels, pixels), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    interpreter = _interpreter(name)
    with _LOCK:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], (crop.astype(np.float32) / 255)[None])
        interpreter.invoke()
        first, second = (interpreter.get_tensor(o["index"]).reshape(-1) for o in interpreter.get_output_details())
    local = first.reshape(-1, 3).astype(np.float64)
    points = np.empty_like(local)
    points[:, :2] = local[:, :2] @ to_image[:, :2].T + to_image[:, 2]
    points[:, 2] = local[:, 2] * roi.side / pixels
    return points.astype(np.float32), float(second[0])


def _level_roi(points: np.ndarray, start: int, end: int, scale: float) -> Roi:
    """A square around `points`' extent along the line from point `start` to `end`, `scale` times it."""
    a, b = points[start, :2], points[end, :2]
    angle = float(np.arctan2(b[1] - a[1], b[0] - a[0]))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    local = points[:, :2] @ rotation  # coordinates along and across the line
    low, high = local.min(0), local.max(0)
    return Roi(rotation @ ((low + high) / 2), scale * float(np.max(high - low)), angle)


def roi_from_box(left: float, top: float, right: float, bottom: float) -> Roi:
    """An upright crop around a detector's face box."""
    centre = np.array([(left + right) / 2, (top + bottom) / 2])
    return Roi(centre, MESH_SCALE * max(right - left, bottom - top), 0.0)


def roi_from_mesh(points: np.ndarray) -> Roi:
    """MediaPipe's crop for the next frame: the mesh's extent along its eye line, 1.5 times, square."""
    return _level_roi(points, RIGHT_EYE_CORNERS[0], LEFT_EYE_CORNERS[0], MESH_SCALE)


def fit(rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
    """The 468 mesh points (x, y in image pixels, z in the same scale) in `roi`, and the face-presence score."""
    points, logit = _run("face_mesh_landmarks", rgb, roi, MESH_SIDE)
    return points, float(1 / (1 + np.exp(-logit)))


def fit_from_box(rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The mesh of the face in a detector's `box` (left, top, right, bottom), the crop settled on the mesh's own
    extent as MediaPipe's tracking does, until it stays put; None where the model sees no face. Each crop moves
    the next: on the turned cameraman two re-crops from his CNN box left the far jaw and eye ~15 px from where
    later crops settle (0.33 apart in identity descriptors, measured on those points); eight to ten settle it."""
    settled = _settle(rgb, roi_from_box(*box))
    return settled[0] if settled is not None else None


def _settle(rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, Roi] | None:
    """The mesh in `roi` re-cropped on its own points until the crop moves less than SETTLED, and that crop."""
    points, score = fit(rgb, roi)
    for _ in range(SETTLE_PASSES):
        if score < PRESENCE:
            return None
        following = _following(roi, points)
        if following is roi:
            break
        roi = following
        points, score = fit(rgb, roi)
    return (points, roi) if score >= PRESENCE else None


def _following(roi: Roi, points: np.ndarray) -> Roi:
    """The crop after `roi` whose mesh is `points`: the mesh's own, or `roi` itself where that lies within SETTLED
    of it. Re-cropped on every frame, a still face's mesh wandered by ~0.5 px from frame to frame (its far jaw by
    up to 5), each crop moving the next."""
    own = roi_from_mesh(points)
    return roi if own.moved_from(roi) < SETTLED else own


def eye_contours(rgb: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eye model's 16 contour points of each eye (person's right, left) around the mesh's eyes."""
    contours = []
    for corners, mirror in ((RIGHT_EYE_CORNERS, False), (LEFT_EYE_CORNERS[::-1], True)):
        roi = _level_roi(points[list(corners)], 0, 1, EYE_SCALE)  # the corners left to right in the image
        eye, _ = _run("face_mesh_eyes", rgb, roi, EYE_SIDE, mirror=mirror)
        contours.append(eye[:16])
    return contours[0], contours[1]


@dataclass(frozen=True)
class MeshFit:
    """One frame's reading: the mesh and both eyes' refined contours."""

    points: np.ndarray  # (468, 3)
    eyes: tuple[np.ndarray, np.ndarray]  # (16, 3) each: the person's right eye, then left


def track(
    frames: Iterable[np.ndarray], find_box: Callable[[np.ndarray], tuple[float, float, float, float] | None]
) -> Iterator[MeshFit | None]:
    """The reading per frame: each crop follows the previous frame's mesh; `find_box(frame)` (a face box or None)
    starts it and restarts it where the model loses the face."""
    roi: Roi | None = None
    for frame in frames:
        points = None
        if roi is not None:
            points, score = fit(frame, roi)
            roi = _following(roi, points) if score >= PRESENCE else None
        if roi is None:
            box = find_box(frame)
            settled = _settle(frame, roi_from_box(*box)) if box is not None else None
            points, roi = settled if settled is not None else (None, None)
        yield MeshFit(points, eye_contours(frame, points)) if points is not None else None


def as_dlib68(points: np.ndarray) -> np.ndarray:
    """The mesh's points in dlib's 68-point layout: (68, 2) float32 image pixels (models.face.frame names them)."""
    return np.ascontiguousarray(points[list(DLIB_68), :2], dtype=np.float32)


def _distance(points: np.ndarray, pair: tuple[int, int]) -> float:
    return float(np.linalg.norm(points[pair[0]] - points[pair[1]]))


def mouth_aperture(points: np.ndarray) -> float:
    """Inner-lip gap over mouth width, both in 3-D so that a turned face's narrower image width does not count."""
    return _distance(points, INNER_LIPS) / max(_distance(points, MOUTH_CORNERS), 1e-6)


def eye_opening(contour: np.ndarray) -> float:
    """Lid gap over eye width of one eye model contour (3-D), like dlib's eye aspect ratio."""
    gaps = [_distance(contour, pair) for pair in LID_PAIRS]
    return float(np.mean(gaps)) / max(_distance(contour, EYE_CORNERS), 1e-6)


def yaw_degrees(points: np.ndarray) -> float:
    """How far the face is turned left or right: the eye line's angle out of the image plane (0 = frontal)."""
    line = points[LEFT_EYE_CORNERS[0]] - points[RIGHT_EYE_CORNERS[0]]
    return float(np.degrees(np.arctan2(abs(line[2]), np.linalg.norm(line[:2]))))
