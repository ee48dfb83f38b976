"""Analyse a photo once: find the face, frame it, fit landmarks, and measure what the renderers need.

The result is cached by image content, output size and face choice under <data_dir>/cache/faces; the faces found
in the photo are cached by content alone under <data_dir>/cache/detections, for every step that looks for them.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import cv2
import dlib
import numpy as np

from core.errors import InputError
from models.face import landmarks as lm
from models.face.cache import cache_file, image_digest, write_atomically
from models.face.frame import EYES, INNER_CORNERS, INNER_GAPS, INNER_LIP, MOUTH, NOSE_TIP, OUTER_LIP, FaceFrame
from models.face.lips import inner_lips_on_opening
from models.face.pose import head_pose

log = logging.getLogger(__name__)

FACE_FILL = 0.5  # landmark extent as a fraction of the output width
MAX_FILL = 0.7  # at most this much when the photo is tighter than that
EXTEND_BLUR = 0.03  # of the output size: blur of what is extended beyond the photo's edge
LASH_REACH = 0.5  # eye widths: a turned face's refitted eye reaches at most this far past its corners...
LASH_DARK = 0.7  # ... along a lash line darker than this share of the median around the eye
LASH_SPREAD = 0.1  # eye widths either side of the corner-to-corner line where the lash line is looked for
LIP_LINE_DARK = 0.6  # a turned face's mouth ends where no pixel across its lip line is darker than this share of
# the median around the mouth...
LIP_LINE_SPREAD = 0.1  # ... within this many inner-mouth widths either side of its corner-to-corner line
LIP_LINE_REACH = 0.35  # inner-mouth widths either side of it where the inner lips are looked for
LIP_LINE_MARGIN = 0.05  # inner-mouth widths: the corner lies this far past the last dark pixel
CACHE_VERSION = 6  # of both caches: bump it when the detection or the analysis changes
LOADED_KEPT = 8  # face cache files kept read in memory (about 1 MB each at 512 px)

_LOADED: dict[tuple[str, int, int, int], FaceAnalysis] = {}  # (path, mtime, size, inode) -> its contents
_LOADED_LOCK = threading.Lock()


@dataclass
class FaceAnalysis:
    image: np.ndarray  # RGB uint8 (size, size, 3): the output framing
    landmarks: np.ndarray  # (68, 2) float32 in `image` pixels
    box: np.ndarray  # (4,) x0, y0, x1, y1 of the detector box in `image` pixels
    pose: np.ndarray  # (3,) pitch, yaw, roll in degrees
    skin_rgb: np.ndarray  # (3,) uint8
    lip_rgb: np.ndarray  # (3,) uint8
    teeth_visible: bool
    mouth_open_px: float
    embedding: np.ndarray | None  # (128,) dlib identity descriptor
    n_faces: int
    face_index: int
    source_hash: str
    notes: list[str]  # what the framing had to do (a tight photo, a face at its edge), for the job's warnings
    frontal: bool = True  # found by the frontal (HOG) detector: its landmarks, lids included, can be trusted
    # a turned face (not `frontal`): its 68 landmarks fitted again on `image` (refit_turned), whose eyes land on its
    # eye; None for a frontal face, or where the detector finds no face in `image`
    eye_landmarks: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    @property
    def frame(self) -> FaceFrame:
        """The face's axes and measures in `image` pixels."""
        return FaceFrame.of(self.landmarks)

    def save(self, path: Path) -> None:
        data = asdict(self)
        for name in ("embedding", "eye_landmarks"):
            data[name] = np.zeros(0, np.float32) if data[name] is None else data[name]
        data["notes"] = np.array(self.notes, dtype=str)
        with open(path, "wb") as f:  # np.savez would append ".npz" to other suffixes
            np.savez_compressed(f, **data)

    @classmethod
    def load(cls, path: Path) -> FaceAnalysis:
        with np.load(path) as z:
            data = {f.name: z[f.name] for f in fields(cls)}
        for name in ("embedding", "eye_landmarks"):
            data[name] = data[name] if data[name].size else None
        data["notes"] = [str(note) for note in data["notes"]]
        for name, kind in (
            ("teeth_visible", bool),
            ("mouth_open_px", float),
            ("n_faces", int),
            ("face_index", int),
            ("source_hash", str),
            ("frontal", bool),
        ):
            data[name] = kind(data[name])
        return cls(**data)


def analyze_face(image: np.ndarray, size: int = 512, face_index: int | None = None) -> FaceAnalysis:
    """Analyse the face in RGB `image` (the largest one, or detection number `face_index`, largest first)."""
    digest = image_digest(image)
    if (face := cached_face(digest, size, face_index)) is not None:
        return face
    face = _analyze(image, size, face_index, digest)
    write_atomically(_face_file(digest, size, face_index), face.save)
    return face


def cached_face(digest: str, size: int, face_index: int | None) -> FaceAnalysis | None:
    """The analysis of the photo whose pixels hash to `digest` if the cache has it, else None. The file's contents
    are kept in memory too while it is unchanged (reading it decompresses the framed photo: 5 ms); each caller
    gets its own copy."""
    path = _face_file(digest, size, face_index)
    try:
        stat = path.stat()
    except OSError:
        return None
    version = (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _LOADED_LOCK:
        face = _LOADED.get(version)
    if face is None:
        try:
            face = FaceAnalysis.load(path)
        except (OSError, ValueError, KeyError) as err:
            log.warning("ignoring unreadable face cache %s: %s", path, err)
            return None
        with _LOADED_LOCK:
            _LOADED[version] = face
            while len(_LOADED) > LOADED_KEPT:
                _LOADED.pop(next(iter(_LOADED)))
    return copy.deepcopy(face)


def _face_file(digest: str, size: int, face_index: int | None) -> Path:
    return cache_file(
        "faces", f"{digest[:40]}_{size}_{'auto' if face_index is None else face_index}_v{CACHE_VERSION}.npz"
    )


@dataclass
class Detection:
    """The faces found in a photo, largest first, and what finding them took (a retry's notes)."""

    boxes: list[dlib.rectangle]
    notes: list[str]


def detect_photo_faces(image: np.ndarray, digest: str | None = None) -> Detection:
    """The faces in the photo `image` (lm.detect_faces, retries included), found once per photo and cached by its
    content hash `digest`: the check before a job, the resting expression and the analysis share one detection."""
    digest = digest or image_digest(image)
    if (found := cached_detection(digest)) is not None:
        return found
    notes: list[str] = []
    boxes = lm.detect_faces(image, notes)
    stored = {"boxes": [list(lm.corners(b)) for b in boxes], "notes": notes}
    write_atomically(_detection_file(digest), lambda tmp: tmp.write_text(json.dumps(stored)))
    return Detection(boxes, notes)


def cached_detection(digest: str) -> Detection | None:
    """The faces found in the photo whose pixels hash to `digest` if the cache has them, else None."""
    cached = _detection_file(digest)
    if not cached.exists():
        return None
    try:
        stored = json.loads(cached.read_text())
        return Detection([dlib.rectangle(*box) for box in stored["boxes"]], stored["notes"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable detection cache %s: %s", cached, err)
        return None


def _detection_file(digest: str) -> Path:
    return cache_file("detections", f"{digest[:40]}_v{CACHE_VERSION}.json")


def choose_face(found: int, face_index: int | None) -> int:
    """The index of the face to animate among `found` detections (largest first); InputError when there is none."""
    if not found:
        raise InputError(
            "no_face",
            "No face found in the photo: use a front-facing photo where the face is clearly visible "
            "and at least ~50 px wide",
        )
    index = 0 if face_index is None else face_index
    if not 0 <= index < found:
        raise InputError(
            "face_index_out_of_range",
            f"Face index {index} is out of range: {found} face(s) found in the photo "
            f"(use 0..{found - 1}, largest first).",
        )
    return index


def _analyze(image: np.ndarray, size: int, face_index: int | None, digest: str) -> FaceAnalysis:
    detection = detect_photo_faces(image, digest)
    faces = detection.boxes
    index = choose_face(len(faces), face_index)
    rect = faces[index]
    points = lm.landmarks(image, rect)
    embedding = lm.descriptor_at(image, points)
    framed, matrix, notes = frame_face(image, points, size)
    points = _transform(points, matrix)
    frontal = lm.CNN_ONLY_NOTE not in detection.notes
    points = inner_lips_on_opening(framed, points) if frontal else _mouth_to_lip_line(framed, points)
    corners = _transform(np.array([[rect.left(), rect.top()], [rect.right(), rect.bottom()]], np.float32), matrix)
    open_px = mouth_opening(points)
    return FaceAnalysis(
        image=framed,
        landmarks=points,
        box=corners.reshape(-1),
        pose=head_pose(points, size),
        skin_rgb=skin_colour(framed, points),
        lip_rgb=lip_colour(framed, points),
        teeth_visible=teeth_visible(framed, points, open_px),
        mouth_open_px=open_px,
        embedding=embedding,
        n_faces=len(faces),
        face_index=index,
        source_hash=digest,
        notes=detection.notes + notes,
        frontal=frontal,
        eye_landmarks=None if frontal else refit_turned(framed, points),
    )


def refit_turned(framed: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """A turned face's 68 landmarks fitted again on its `framed` photo, in the box the detector finds there around
    its landmarks `points`; None where it finds none. On the framed (enlarged) cameraman the HOG detector finds a
    profile box, far tighter than the CNN detector's box on the original photo, framed: fitted in the latter, his
    eyes lay on his temple and ear; in the former, the eye he shows is found (his jaw and lips are no better in
    either). The detection costs 0.03 s there."""
    centre = points.mean(0)
    boxes = [
        b for b in lm.detect_faces(framed) if b.left() <= centre[0] <= b.right() and b.top() <= centre[1] <= b.bottom()
    ]
    return _eyes_to_lashes(framed, lm.landmarks(framed, boxes[0])) if boxes else None


def _eyes_to_lashes(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with each eye stretched along its corner-to-corner line as far as its dark lash line runs on (at
    most LASH_REACH eye widths past each corner): on the cameraman's eye the fit stopped 16 px short of its inner
    corner (the eye is 33 px wide at 512), and a lid closed over it left the eye's inner part open. Only the eyes
    change."""
    grey = _soft_grey(image)
    points = points.copy()
    for eye in EYES:
        chain = points[eye]
        axis = chain[3] - chain[0]
        width = float(np.linalg.norm(axis))
        axis /= max(width, 1e-6)
        across = np.array([-axis[1], axis[0]], np.float32)
        x0, y0 = np.maximum(np.floor(chain.min(0) - LASH_REACH * width), 0).astype(int)
        x1, y1 = np.ceil(chain.max(0) + LASH_REACH * width).astype(int)
        dark = LASH_DARK * float(np.median(grey[y0:y1, x0:x1]))
        steps = np.arange(0.0, LASH_REACH * width, 0.5, dtype=np.float32)
        side = np.linspace(-LASH_SPREAD, LASH_SPREAD, 5, dtype=np.float32) * width
        reach = []
        for corner, out in ((chain[0], -axis), (chain[3], axis)):
            light = _darkest_across(grey, corner, out, across, steps, side) >= dark
            reach.append(float(steps[np.argmax(light)]) if light.any() else float(steps[-1]))
        along = (chain - chain[0]) @ axis / width  # 0 at the first corner .. 1 at the other
        points[eye] = chain + (along * reach[1] - (1 - along) * reach[0])[:, None] * axis
    return points


def _mouth_to_lip_line(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with the mouth drawn in, along its inner corner-to-corner line, to where the dark line between the
    lips runs (never widened): on the turned cameraman the fit put one corner 30 px into his cheek (his lips meet
    over 273 .. 303 px at 512, the inner corners lay at 236 and 302), and an opening cut into the cheek there. Only
    the mouth's landmarks move, along that line, in proportion."""
    grey = _soft_grey(image)
    first, last = points[list(INNER_CORNERS)]
    axis = last - first
    width = float(np.linalg.norm(axis))
    axis /= max(width, 1e-6)
    across = np.array([-axis[1], axis[0]], np.float32)
    x0, y0 = np.maximum(np.floor(points[MOUTH].min(0)), 0).astype(int)
    x1, y1 = np.ceil(points[MOUTH].max(0)).astype(int) + 1
    dark = LIP_LINE_DARK * float(np.median(grey[y0:y1, x0:x1]))
    steps = np.arange(0.0, width + 0.5, 0.5, dtype=np.float32)
    side = np.linspace(-LIP_LINE_SPREAD, LIP_LINE_SPREAD, 9, dtype=np.float32) * width
    line = steps[_darkest_across(grey, first, axis, across, steps, side) < dark]
    if not len(line):
        return points
    margin = LIP_LINE_MARGIN * width
    start, end = max(float(line[0]) - margin, 0.0), min(float(line[-1]) + margin, width)
    along = (points[MOUTH] - first) @ axis  # 0 at the first inner corner .. width at the other
    moved = points.copy()
    moved[MOUTH] += ((start + along * (end - start) / width) - along)[:, None] * axis
    return _inner_lips_to_lip_line(grey, moved, dark)


def _soft_grey(image: np.ndarray) -> np.ndarray:
    """The RGB `image` in float32 grey, its noise smoothed away: what the lash and lip-line searches read."""
    return cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)


def _darkest_across(
    grey: np.ndarray, start: np.ndarray, direction: np.ndarray, across: np.ndarray, steps: np.ndarray, side: np.ndarray
) -> np.ndarray:
    """Per step along `direction` from `start` (`steps`, px), the darkest of `grey` across that line (at the
    offsets `side` along `across`)."""
    at = start + steps[:, None, None] * direction + side[None, :, None] * across
    darkest = cv2.remap(grey, at.astype(np.float32), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return darkest.min(1)


def _inner_lips_to_lip_line(grey: np.ndarray, points: np.ndarray, dark: float) -> np.ndarray:
    """`points` with each pair of inner-lip landmarks (upper, lower) on the dark line between the lips, as far apart
    as that line is thick (darker than `dark`): the cameraman's lower inner lip lay 10 px below the line where his
    lips meet, and closing that gap drew his lower lip up over itself."""
    first, last = points[list(INNER_CORNERS)]
    axis = (last - first) / max(float(np.linalg.norm(last - first)), 1e-6)
    across = np.array([-axis[1], axis[0]], np.float32)
    reach = LIP_LINE_REACH * float(np.linalg.norm(last - first))
    offsets = np.arange(-reach, reach + 0.25, 0.5, dtype=np.float32)
    moved = points.copy()
    for upper, lower in INNER_GAPS:
        on_line = first + ((points[upper] + points[lower]) / 2 - first) @ axis * axis
        at = (on_line + offsets[:, None] * across)[None].astype(np.float32)
        profile = cv2.remap(grey, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
        darkest = int(np.argmin(profile))
        if profile[darkest] >= dark:
            continue
        top, bottom = darkest, darkest
        while top > 0 and profile[top - 1] < dark:
            top -= 1
        while bottom < len(offsets) - 1 and profile[bottom + 1] < dark:
            bottom += 1
        sign = 1.0 if (points[lower] - points[upper]) @ across >= 0 else -1.0  # `across` may point up or down
        ends = sorted((offsets[top], offsets[bottom]), key=lambda v: sign * v)
        moved[upper], moved[lower] = (on_line + end * across for end in ends)
    return moved


def frame_face(image: np.ndarray, points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A square crop of the face, the face filling FACE_FILL of the width; the 2x3 matrix taking photo pixels
    to crop pixels; and notes on what was done where the photo is too tight for that.

    Pixels are never mirrored: a crop that would leave the photo is shifted back inside it, or made smaller (the
    face filling up to MAX_FILL), and only what still lies outside is extended from the photo's edge, blurred."""
    h, w = image.shape[:2]
    extent = float(max(np.ptp(points[:, 0]), np.ptp(points[:, 1])))
    cx, cy = points.mean(0)
    side = extent / FACE_FILL
    notes = []
    if side > min(h, w):
        side = max(float(min(h, w)), extent / MAX_FILL)
        notes.append(f"the photo is tight around the face: it fills {extent / side:.0%} of the frame")
    shifted = (float(np.clip(cx, side / 2, w - side / 2)), float(np.clip(cy, side / 2, h - side / 2)))
    shifted = tuple(c if side > n else s for c, s, n in zip((cx, cy), shifted, (w, h), strict=True))
    if max(abs(shifted[0] - cx), abs(shifted[1] - cy)) > 0.02 * side:
        notes.append("the face is near the photo's edge: the frame is shifted to stay inside the photo")
    cx, cy = shifted
    pre = 1.0
    if side > 1.5 * size:  # shrink with area averaging first: warpAffine would alias
        pre = 1.5 * size / side
        image = cv2.resize(image, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
    scale = size / side
    matrix = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]], np.float32)
    local = matrix.copy()
    local[:, :2] /= pre
    flags = cv2.INTER_CUBIC if scale > pre else cv2.INTER_LINEAR
    framed = cv2.warpAffine(image, local, (size, size), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.float32), local, (size, size), flags=cv2.INTER_LINEAR)
    if inside.min() < 0.5:
        outside = float(np.mean(inside < 0.5))
        notes.append(f"{outside:.0%} of the frame lies outside the photo: extended from its edge, blurred")
        blurred = cv2.GaussianBlur(framed, (0, 0), EXTEND_BLUR * size).astype(np.float32)
        keep = cv2.GaussianBlur(inside, (0, 0), 0.01 * size)[..., None] * inside[..., None]
        framed = (blurred + keep * (framed - blurred)).astype(np.uint8)
    return framed, matrix, notes


def _transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def mouth_opening(points: np.ndarray) -> float:
    """Mean vertical gap between the inner lips, in pixels."""
    return float(np.mean([np.linalg.norm(points[a] - points[b]) for a, b in INNER_GAPS]))


def _polygon_mask(image: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask.astype(bool)


def _median_in(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    pixels = image[mask]
    if len(pixels) == 0:
        return np.zeros(3, np.uint8)
    return np.median(pixels, axis=0).astype(np.uint8)


def lip_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Median colour of the lips (between the outer and the inner lip line)."""
    return _median_in(image, _polygon_mask(image, points[OUTER_LIP]) & ~_polygon_mask(image, points[INNER_LIP]))


def skin_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Median colour of two cheek patches, between the jaw line and the nose."""
    radius = max(2, int(0.04 * np.ptp(points[:, 0])))
    mask = np.zeros(image.shape[:2], bool)
    for centre in (0.5 * (points[2] + points[NOSE_TIP]), 0.5 * (points[14] + points[NOSE_TIP])):
        x, y = np.round(centre).astype(int)
        mask[max(0, y - radius) : y + radius, max(0, x - radius) : x + radius] = True
    return _median_in(image, mask)


def teeth_visible(image: np.ndarray, points: np.ndarray, open_px: float) -> bool:
    """Whether the photo already shows teeth: an open mouth whose inside is mostly bright and unsaturated."""
    if open_px < 0.02 * np.ptp(points[:, 0]):
        return False
    mask = _polygon_mask(image, points[INNER_LIP])
    if mask.sum() < 10:
        return False
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[mask].astype(np.float32)
    skin_value = float(cv2.cvtColor(skin_colour(image, points).reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0, 2])
    bright = (hsv[:, 2] > 0.75 * skin_value) & (hsv[:, 1] < 110)
    return bool(bright.mean() > 0.3)
