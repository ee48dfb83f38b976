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
from models.face.frame import (
    EYES,
    INNER_CORNERS,
    INNER_GAPS,
    INNER_LIP,
    MOUTH,
    MOUTH_CORNERS,
    MOUTH_SLIT,
    NOSE,
    NOSE_TIP,
    OUTER_LIP,
    OUTER_LOWER_LIP,
    OUTER_UPPER_LIP,
    FaceFrame,
    mouth_opening,
)
from models.face.lips import (
    implausible,
    inner_lips_on_opening,
    lips_uncrossed,
    lower_lip_under_teeth,
    upper_lip_off_teeth,
)
from models.face.open_mouth import fitted_inside_opening, mouth_around_opening
from models.face.pose import head_pose

log = logging.getLogger(__name__)

FACE_FILL = 0.5  # landmark extent as a fraction of the output width
MAX_FILL = 0.7  # at most this much when the photo is tighter than that
EXTEND_BLUR = 0.03  # of the output size: blur of what is extended beyond the photo's edge, at the edge...
EXTEND_BLUR_FAR = 0.12  # ... growing to this EXTEND_FADE out from it: the edge's own colours ran on as stripes
EXTEND_FADE = 0.08
LASH_REACH = 0.5  # eye widths: a turned face's refitted eye reaches at most this far past its corners...
LASH_DARK = 0.7  # ... along a lash line darker than this share of the median around the eye
LASH_SPREAD = 0.1  # eye widths either side of the corner-to-corner line where the lash line is looked for
LIP_LINE_DARK = 0.6  # a turned face's mouth ends where no pixel across its lip line is darker than this share of
# the median around the mouth...
LIP_LINE_SPREAD = 0.1  # ... within this many inner-mouth widths either side of its corner-to-corner line
LIP_LINE_REACH = 0.35  # inner-mouth widths either side of it where the inner lips are looked for
LIP_LINE_MARGIN = 0.05  # inner-mouth widths: the corner lies this far past the last dark pixel
LIP_LINE_WIDER = 0.4  # inner-mouth widths past each inner corner that a dark line running on past it is followed
LIP_MIN_THICKNESS = 0.04  # inner-mouth widths a turned face's outer lips lie outside its inner ones, at least
LIP_LINE_WINDOW = 0.08  # inner-mouth widths either side of an inner-lip pair over which its opening is read
# a face the frontal detector found but turned further than this (degrees, head_pose on dlib's landmarks) has rough
# mouth and eye landmarks: they are moved onto the photo's lips and its eyes fitted again as a turned face's are (the
# turned man of a group photo: 55, whose inner lips dlib bunched under his teeth and whose lids, closed on dlib's
# eyes, drew a lash arc off his eye and a lid patch on his far eye at the face's edge; the turned cameraman rendered
# with an open mouth: 48, whose mouth dlib put a mouth width too far back and whose far eye beside his nose took a
# lid patch too; a face turned 40 degrees keeps its landmarks, they hold)
TURNED_YAW = 44.0
TEETH_UNDER_LIP = 0.82  # a turned face's upper lip over its teeth is at most this share of their brightness
# the climb over the teeth to their brightest (and down to the upper lip) goes on past a dip (a rise) of less than
# this share of the brightest (darkest) so far: the gaps between teeth. On a held-out smirk turned past TURNED_YAW
# the teeth ran 136, 134, 134, 136, 138 upwards; the climb stopped at the first 136, read no teeth there, and the
# upper inner lip's middle landmark fell under the teeth onto the dark inside (a zigzag inner lip: a wedge of teeth
# stayed between the pressed lips, a chevron of teeth and lip opened)
CLIMB_SLACK = 0.03
# a turned photo's mouth is open where teeth show between its lips along this share of the opening, or where the
# opening (its 90th percentile across) is this share of its length thick: the turned man of a group photo 0.32 and
# 0.28, the cameraman rendered at jaw_open 0.45 and taken as a photo 0.71 and 0.33, the closed cameraman 0 and 0.18
LIP_OPEN_TEETH = 0.1
LIP_OPEN_THICK = 0.25
# both eyes lie behind dark lenses where the brightest of the medians of each eye and of the ring around it (LENS_RING
# eye widths across and high) is darker than this share of the cheeks' brightness (eye_darkness): 0.11 behind a
# held-out photo's sunglasses, 0.60 and up on 37 photos without (deep shadowed sockets, glasses, dark skin, grayscale).
# On a small face enlarged the ring takes in the skin blurred over a lens's edge: two 105 x 79 px held-out tiles in
# sunglasses read 0.36 and 0.41 (both blinked, a smear over their lenses), the astronaut in lenses 1.6 x 1.1 eye widths
# shrunk to 140 px 0.38; of the 106 sample and held-out faces the lowest without dark glasses reads 0.57 (a man's eyes
# in a hat brim's shadow on soft grey film), the next 0.60
DARK_LENS = 0.49
LENS_RING = (1.8, 1.2)
DARK_GLASSES_NOTE = "the eyes are behind dark glasses: no blinks are drawn"
# a face leaning past this (degrees, its eye line; not a turned one) has its eyes fitted again on the face turned
# upright, and takes each where it lies off the leaning fit's by more than EYES_OFF eye widths (mean over its six
# points): dlib's predictor was trained on upright faces. A held-out smiling woman leaning 41 degrees: her far eye's
# leaning fit lay 0.30 eye widths below and beside it, under her iris, and the lid drawn there left her iris and eye
# white open behind a dark lash line across her cheek (upright: on her lashes); her near eye 0.15. Two more held-out
# faces leaning 24 and 33 degrees: 0.41 and 0.19 (the first eye fitted on the eyeshadow above her lash line), 0.22
# and 0.10 (kept). The other face leaning past it 0.05 and less; faces leaning less are fitted as they lean (the
# sample photos up to 11 degrees, held-out faces up to 17: their refits lie 0.02-0.18 off, as much as on upright
# faces, from the refit's other box)
LEANING_EYES = 20.0
EYES_OFF = 0.1
# ... and its mouth too, taken where it lies off the leaning fit's by more than this many mouth widths (mean over its
# 20 points). The held-out smiling woman leaning 41 degrees: her leaning fit's upper lip lay on her teeth and its
# corner on her cheek, 0.071 off the upright fit's (on her lips); pressed, her lips met in a crease across the lower
# lip, opened, the drawn inside reached past the corner onto her cheek in a black spike. A held-out smile leaning 33
# degrees and turned 30: 0.098 (its teeth stayed between pressed lips). The other four faces leaning past
# LEANING_EYES 0.017-0.030
MOUTH_OFF = 0.05
# dlib can fit a face's eyes on its brows: a held-out smiling man under a bucket hat's brim (soft grey film, his eyes
# narrow slits in its shadow) had both eyes fitted about 0.35 eye widths above the slits, on his dark brows; the lid
# drawn there closed over his brows and left his eyes open (no blink read). Such a fit is not where the predictor
# settles from a box a little lower: fitted again from the detector's box moved down by each of EYES_REFIT_SHIFTS of
# its height, his eyes land on the slits, both 0.21-0.32 eye widths lower than dlib's across the eye line (beyond the
# nose's own move), where the other 79 faces' eyes (the turned ones are left as fitted) move 0.05 at most on one
# shift or the other (grace on white: 0.08 and 0.05, then 0.51 and 0.87 lower). Where both refits put both eyes
# more than EYES_ON_BROWS lower, the eyes are the refits' mean
EYES_REFIT_SHIFTS = (0.05, 0.1)
EYES_ON_BROWS = 0.13
# A photo's teeth are bright (over TEETH_BRIGHT of the skin's value) and unsaturated: under TEETH_SATURATION (HSV,
# 0..255), or in a warm-cast photo (skin saturation over WARM_SKIN; the other photos' skin 0-150) under TEETH_OF_SKIN
# of the skin's. The teeth take the cast: two held-out faces showing theirs (skin saturation 157 and 177) read them at
# 140-160 and were drawn with synthetic teeth over a dark cavity; one, turned 41 degrees, read as another face opened
# (dlib's identity distance up to 0.43 at its open vowels; with its own teeth, its open vowels under 0.34).
TEETH_BRIGHT = 0.75
TEETH_SATURATION = 110.0
TEETH_OF_SKIN = 0.9
WARM_SKIN = 150.0
# ... and they stand out from the lips around them: at least TEETH_APART of the opening is less saturated than
# TEETH_UNDER_LIPS of the lips' median saturation and brighter than TEETH_OVER_LIPS of their value (brighter alone
# in a grey photo, lips under GREY_LIPS saturation, and in a warm-cast one, where the cast saturates the teeth too).
# Bright and unsaturated against the skin alone, the pale closed lips of a washed-out small face passed (all of its
# opening, none of it apart from its lips: drawn as the photo's own teeth, it opened to a skin-coloured slab over a
# dark slot), and so did a moustached mouth's pink lower lip, which dlib's inner lips enclosed (0.03 apart). Of the
# 99 held-out and sample faces, 5 no longer pass (those two, a closed smile's lips, a small tile in sunglasses, an
# open mouth with one tooth in sight, 0.00-0.05 apart); the faces still passing read 0.13-0.72 (a closed smile's
# shiny lower lip among them, 0.14).
TEETH_APART = 0.1
TEETH_UNDER_LIPS = 0.8
TEETH_OVER_LIPS = 1.05
GREY_LIPS = 25.0
CACHE_VERSION = 30  # of both caches: bump it when the detection or the analysis changes
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
    # found by the frontal (HOG) detector: its landmarks, lids included, can be trusted unless it is `mouth_turned`
    frontal: bool = True
    # the face is turned far (not `frontal`, or turned past TURNED_YAW): its mouth landmarks were moved onto
    # the photo's lips (_mouth_to_lip_line), it opens with its lips alone (models/render/warp_rig.build_rig), and
    # its lids close over `eye_landmarks`
    mouth_turned: bool = False
    # a turned face (`mouth_turned`): its 68 landmarks fitted again on `image` (refit_turned), whose eyes land on its
    # eye; None for a face not turned far, or where the detector finds no face in `image`
    eye_landmarks: np.ndarray | None = None
    # a turned face (`mouth_turned`) whose photo shows its lips apart (teeth between them, or a thick opening:
    # _shows_open); pressed, they flatten (models/render/warp_rig.PRESS_SQUEEZE)
    lips_apart: bool = False
    # both eyes lie behind dark lenses (eyes_behind_dark_glasses): the face does not blink (models/render/warp.Puppet)
    eyes_hidden: bool = False
    # dlib fitted the whole mouth inside its wide opening (models/face/open_mouth.fitted_inside_opening): its mouth
    # landmarks were re-placed around the opening from the pixels; closed, its lips sample the photo with the dark
    # inside's corners grown over too (models/render/mouth.CAVITY_SHADE)
    opening_refitted: bool = False

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
            ("mouth_turned", bool),
            ("lips_apart", bool),
            ("eyes_hidden", bool),
            ("opening_refitted", bool),
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
    mouth_turned = not frontal or abs(float(head_pose(points, size)[1])) > TURNED_YAW
    corners = _transform(np.array(lm.corners(rect), np.float32).reshape(2, 2), matrix).reshape(-1)
    if not mouth_turned:
        points = eyes_off_the_brows(framed, fitted_upright_where_off(framed, points), corners)
    points = lips_uncrossed(points)
    fitted = points
    inside = False
    if mouth_turned:
        points, lips_apart = _mouth_to_lip_line(framed, points)
    else:
        skin = skin_colour(framed, points)
        inside = fitted_inside_opening(framed, points, skin)
        points = mouth_around_opening(framed, points, skin) if inside else inner_lips_on_opening(framed, points)
        lips_apart = False
    # an open mouth whose upper lip dlib fit over its upper teeth (lips.UPPER_LIP_TEETH) shows them: the teeth found
    # inside that lip are the photo's own, bright and grey. Two held-out children laughing wide open, most of their
    # opening their tongue and the dark mouth (teeth_visible's test reads under 0.3 of it teeth): drawn with teeth
    # not their own when opened, identity up to 0.462 and 0.401; with their own, 0.424 and 0.389
    teeth_on_lip = not mouth_turned and np.array_equal(points, fitted)
    if teeth_on_lip:
        points = upper_lip_off_teeth(framed, points)
        teeth_on_lip = not np.array_equal(points, fitted)
    # inner lips read from the pixels (models/face/lips.py) end where the teeth's colour fades into the lips', not at
    # the teeth's own edge over the mouth's inside: a held-out parted smile's own teeth, moved and cut at an edge
    # guessed inside that fade, were a pink wedge under the upper lip. Such a mouth gets the teeth drawn for a photo
    # that shows none (as the laughing face lips.py was made for already did: too little of its opening is bright).
    # Not where dlib's inner lips were implausibly spaced (lips.implausible) and the photo's teeth are bright enough
    # to be its own (teeth_visible): their opening is read from teeth lighter than the lips, as the laughing face's
    # was not; a held-out big toothy smile (spacing 0.57) so drawn with teeth not its own read as another face
    # when opened (identity 0.38; 0.34 with its own).
    from_pixels = not (mouth_turned or teeth_on_lip) and not np.array_equal(points, fitted) and not implausible(fitted)
    if not mouth_turned:
        points = lower_lip_under_teeth(framed, points)
    open_px = mouth_opening(points)
    eyes_hidden = eyes_behind_dark_glasses(framed, points)
    return FaceAnalysis(
        image=framed,
        landmarks=points,
        box=corners,
        pose=head_pose(points, size),
        skin_rgb=skin_colour(framed, points),
        lip_rgb=lip_colour(framed, points),
        teeth_visible=teeth_on_lip or (not from_pixels and teeth_visible(framed, points, open_px)),
        mouth_open_px=open_px,
        embedding=embedding,
        n_faces=len(faces),
        face_index=index,
        source_hash=digest,
        notes=detection.notes + notes + ([DARK_GLASSES_NOTE] if eyes_hidden else []),
        frontal=frontal,
        mouth_turned=mouth_turned,
        eye_landmarks=refit_turned(framed, points) if mouth_turned else None,
        lips_apart=lips_apart,
        eyes_hidden=eyes_hidden,
        opening_refitted=inside,
    )


def fitted_upright_where_off(framed: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with each eye, and the mouth, that of a fit on the face turned upright where the face leans past
    LEANING_EYES and that part lies more than EYES_OFF eye widths (MOUTH_OFF mouth widths) off the leaning fit's;
    as they are otherwise."""
    if abs(lm.leaning(points)) <= LEANING_EYES:
        return points
    upright = lm.fitted_upright(framed, points)
    fitted = points.copy()
    parts = [(eye, float(np.linalg.norm(points[eye[3]] - points[eye[0]])), EYES_OFF) for eye in EYES]
    for part, width, most in [*parts, (MOUTH, FaceFrame.of(points).mouth_width, MOUTH_OFF)]:
        if float(np.linalg.norm(upright[part] - points[part], axis=1).mean()) / max(width, 1e-6) > most:
            fitted[part] = upright[part]
    return fitted


def eyes_off_the_brows(framed: np.ndarray, points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """`points` with both eyes the mean of two fits on the `framed` photo from its detector's `box` (left, top,
    right, bottom) moved down by EYES_REFIT_SHIFTS of its height, where each of them puts both eyes more than
    EYES_ON_BROWS eye widths lower than `points` (beyond the nose's move): dlib fitted them on the brows. As they
    are otherwise."""
    refits = [lm.landmarks(framed, _box_moved_down(box, share)) for share in EYES_REFIT_SHIFTS]
    if min(_eyes_lowered(points, refit) for refit in refits) <= EYES_ON_BROWS:
        return points
    moved = points.copy()
    for eye in EYES:
        moved[eye] = np.mean([refit[eye] for refit in refits], axis=0)
    return moved


def _box_moved_down(box: np.ndarray, share: float) -> dlib.rectangle:
    """The box (left, top, right, bottom) moved down by `share` of its height."""
    left, top, right, bottom = (float(v) for v in box)
    down = share * (bottom - top)
    return dlib.rectangle(round(left), round(top + down), round(right), round(bottom + down))


def _eyes_lowered(points: np.ndarray, refit: np.ndarray) -> float:
    """How far the `refit`'s eyes lie below those of `points`, across each eye's line, beyond the nose's move, in
    eye widths: the lesser of the two eyes."""
    lowered = []
    for eye in EYES:
        corner_to_corner = points[eye[3]] - points[eye[0]]
        width = max(float(np.linalg.norm(corner_to_corner)), 1e-6)
        down = np.array([-corner_to_corner[1], corner_to_corner[0]], np.float32) / width
        moved = refit[eye].mean(0) - points[eye].mean(0) - (refit[NOSE].mean(0) - points[NOSE].mean(0))
        lowered.append(float(moved @ down) / width)
    return min(lowered)


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


def _mouth_to_lip_line(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, bool]:
    """`points` with the mouth drawn in, along its inner corner-to-corner line, to where the dark line between the
    lips runs: on the turned cameraman the fit put one corner 30 px into his cheek (his lips meet over 273 .. 303 px
    at 512, the inner corners lay at 236 and 302), and an opening cut into the cheek there. It is widened only where
    the dark line runs on past a corner (at most LIP_LINE_WIDER): on the cameraman rendered with an open mouth and
    taken as a photo, the fit's mouth ended a third of the opening short of its far end. Only the mouth's landmarks
    move, along that line, in proportion; then the inner lips are read across it (_inner_lips_to_lip_line). Also
    whether the photo shows its lips apart (_shows_open)."""
    grey = _soft_grey(image)
    first, last = points[list(INNER_CORNERS)]
    axis = last - first
    width = float(np.linalg.norm(axis))
    axis /= max(width, 1e-6)
    across = np.array([-axis[1], axis[0]], np.float32)
    x0, y0 = np.maximum(np.floor(points[MOUTH].min(0)), 0).astype(int)
    x1, y1 = np.ceil(points[MOUTH].max(0)).astype(int) + 1
    dark = LIP_LINE_DARK * float(np.median(grey[y0:y1, x0:x1]))
    wider = LIP_LINE_WIDER * width
    steps = np.arange(-wider, width + wider + 0.5, 0.5, dtype=np.float32)
    side = np.linspace(-LIP_LINE_SPREAD, LIP_LINE_SPREAD, 9, dtype=np.float32) * width
    is_dark = _darkest_across(grey, first, axis, across, steps, side) < dark
    inside = (steps >= 0) & (steps <= width)
    if not is_dark[inside].any():
        return points, False
    line = np.flatnonzero(is_dark & inside)
    lo, hi = int(line[0]), int(line[-1])
    while lo > 0 and is_dark[lo - 1]:  # a dark line that runs on past a corner is followed
        lo -= 1
    while hi < len(steps) - 1 and is_dark[hi + 1]:
        hi += 1
    margin = LIP_LINE_MARGIN * width
    start = max(float(steps[lo]) - margin, 0.0 if steps[lo] >= 0 else -wider)
    end = min(float(steps[hi]) + margin, width if steps[hi] <= width else width + wider)
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


def _inner_lips_to_lip_line(grey: np.ndarray, points: np.ndarray, dark: float) -> tuple[np.ndarray, bool]:
    """`points` with the inner lips on the opening between the lips, read across the mouth every half pixel along
    its inner corner-to-corner line: the dark line between the lips (darker than `dark`), and the teeth above it up
    to the upper lip (_over_teeth). Each pair of inner-lip landmarks (upper, lower) lies as far apart as the opening
    is around it (the median over LIP_LINE_WINDOW); the outer lips are kept outside the inner ones
    (_outer_lips_around). The cameraman's lower inner lip lay 10 px below the line where his lips meet, and closing
    that gap drew his lower lip up over itself.
    Where the photo's mouth is open (_shows_open) the fit is not trusted along the mouth: the inner corners move
    across onto the opening where it begins and ends (where they lie off it), and the pairs lie a quarter, a half
    and three quarters of the way along it. On the turned man of a group photo the fit bunched the inner lips on the
    near side, under his teeth, and put a corner on his lower lip: a press closed a short stretch of the dark line
    and left the teeth between his lips. Where it is closed, the corners and the pairs keep their places along the
    mouth: the fit's pairs lie nearer its far end, as a turned mouth's middle does; spread evenly on the closed
    cameraman, with his near corner lifted onto the line, his pressed lips read 0.024 (the face mesh's aperture,
    against 0.017) and his opening at jaw_open 0.6 0.107 (against 0.135). Also whether the mouth is open."""
    first, last = points[list(INNER_CORNERS)]
    length = max(float(np.linalg.norm(last - first)), 1e-6)
    axis = (last - first) / length
    down = np.array([-axis[1], axis[0]], np.float32)
    down *= 1.0 if FaceFrame.of(points).down @ down >= 0 else -1.0
    reach = LIP_LINE_REACH * length  # the darkest point lies this far from the line; the opening may reach twice as far
    offsets = np.arange(-2 * reach, 2 * reach + 0.25, 0.5, dtype=np.float32)
    steps = np.arange(0.0, length + 0.25, 0.5, dtype=np.float32)
    at = first + steps[:, None, None] * axis + offsets[None, :, None] * down
    profiles = cv2.remap(grey, at.astype(np.float32), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    near = np.abs(offsets) <= reach
    # (steps, 3): the opening's top (over the teeth), its dark run's top, its bottom, index across; NaN where none
    spans = np.array([_opening_across(profile, near, dark) for profile in profiles], np.float32)
    found = np.flatnonzero(~np.isnan(spans[:, 0]))
    if not len(found):
        return points, False
    ends = offsets[spans[found][:, [0, 2]].astype(int)]  # (k, 2) top and bottom, px along `down`
    opened = _shows_open(ends, spans[found, 0] < spans[found, 1], length)
    moved = points.copy()
    if opened:
        for corner, k in zip(INNER_CORNERS, (0, -1), strict=True):  # the corners lie on the line (offset 0): onto
            moved[corner] = points[corner] + float(np.clip(0.0, *ends[k])) * down  # the opening there, where off it
    window = LIP_LINE_WINDOW * length
    start, end = steps[found[0]], steps[found[-1]]
    for k, (upper, lower) in enumerate(INNER_GAPS):
        if opened:
            along = start + (k + 1) / (len(INNER_GAPS) + 1) * (end - start)
        else:
            along = float(((points[upper] + points[lower]) / 2 - first) @ axis)
        around = np.abs(steps[found] - along) <= window
        top, bottom = np.median(ends[around], axis=0) if around.any() else ends[np.argmin(np.abs(steps[found] - along))]
        moved[upper], moved[lower] = (first + along * axis + offset * down for offset in (top, bottom))
    return _outer_lips_around(moved, first, axis, down, LIP_MIN_THICKNESS * length), opened


def _outer_lips_around(
    points: np.ndarray, origin: np.ndarray, axis: np.ndarray, down: np.ndarray, thick: float
) -> np.ndarray:
    """`points` with the outer lips moved out where they do not hold the inner ones: each outer lip at least `thick`
    px above (below) the inner upper (lower) lip where it lies along the mouth, the outer corners as far past the
    inner ones. On the turned cameraman rendered with an open mouth and taken as a photo, dlib's fit put the outer
    lips a mouth width back on his cheek, its lower lip inside the opening: with the inner lips on the opening, a
    press folded the lips over each other. Outer lips that hold the inner ones stay where they are."""
    along, across = (points - origin) @ axis, (points - origin) @ down
    moved = points.copy()
    for outer, inner, sign in ((OUTER_UPPER_LIP, MOUTH_SLIT[0], -1.0), (OUTER_LOWER_LIP, MOUTH_SLIT[1], 1.0)):
        order = np.argsort(along[list(inner)])
        edge = np.interp(along[outer], along[list(inner)][order], across[list(inner)][order])
        beyond = np.maximum(sign * (edge + sign * thick - across[outer]), 0.0)  # how far short of it each lies
        moved[outer] += (sign * beyond)[:, None] * down
    for outer, inner, sign in zip(MOUTH_CORNERS, INNER_CORNERS, (-1.0, 1.0), strict=True):
        short = max(sign * (along[inner] + sign * thick - along[outer]), 0.0)
        moved[outer] += sign * short * axis
    return moved


def _shows_open(ends: np.ndarray, teeth: np.ndarray, length: float) -> bool:
    """Whether a turned photo's mouth is open, from its opening read across the mouth (`ends`: (k, 2) top and
    bottom, px; `teeth`: (k,) where teeth show over the dark run) along an inner mouth `length` px long: teeth show
    along LIP_OPEN_TEETH of it, or it is LIP_OPEN_THICK of its length thick (its 90th percentile)."""
    thick = float(np.percentile(ends[:, 1] - ends[:, 0], 90))
    return bool(teeth.mean() >= LIP_OPEN_TEETH or thick >= LIP_OPEN_THICK * length)


def _opening_across(profile: np.ndarray, near: np.ndarray, dark: float) -> tuple[float, float, float]:
    """The indices in `profile` (grey across the lips, downwards) of the opening between the lips: its top, over
    the teeth above the run darker than `dark` around the darkest value where `near` (_over_teeth); that run's top;
    and its bottom. NaNs where none is that dark."""
    darkest = int(np.flatnonzero(near)[np.argmin(profile[near])])
    if profile[darkest] >= dark:
        return np.nan, np.nan, np.nan
    top, bottom = darkest, darkest
    while top > 0 and profile[top - 1] < dark:
        top -= 1
    while bottom < len(profile) - 1 and profile[bottom + 1] < dark:
        bottom += 1
    return _over_teeth(profile, top), top, bottom


def _over_teeth(profile: np.ndarray, top: int) -> int:
    """The index in `profile` (grey across the lips, downwards) of the upper lip's edge where a lit band (the teeth)
    lies between it and the dark run beginning at `top`, else `top`. Upwards from the run the profile climbs to
    the band's brightest, then falls to the upper lip, a dark band (lighter skin above it) at most TEETH_UNDER_LIP
    of the band's brightness; its edge lies where the profile crosses half way between them. On the turned man of a
    group photo the fit ended his opening under his upper teeth (his lip at 108, his teeth 152, the dark inside 60,
    the skin 205)."""
    band = profile[top::-1]  # upwards from the dark run
    peak = _climb(band, 0, 1)
    lip = _climb(band, peak, -1)
    if peak == 0 or lip >= len(band) - 1 or band[lip] > TEETH_UNDER_LIP * band[peak]:
        return top
    half = (band[lip] + band[peak]) / 2
    edge = lip - int(np.argmax(band[peak : lip + 1][::-1] >= half))  # from the lip back towards the teeth
    return top - edge


def _climb(values: np.ndarray, start: int, sign: int) -> int:
    """The index where `values`, followed on from `start`, reach their highest (`sign` 1) or lowest (-1) before
    they turn back by more than CLIMB_SLACK of it."""
    i = best = start
    while i < len(values) - 1 and sign * (values[i + 1] - values[best]) >= -CLIMB_SLACK * abs(values[best]):
        i += 1
        if sign * (values[i] - values[best]) >= 0:
            best = i
    return best


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
        blurred = _extended_blur(framed, inside < 0.5, size)
        keep = cv2.GaussianBlur(inside, (0, 0), 0.01 * size)[..., None] * inside[..., None]
        framed = (blurred + keep * (framed - blurred)).astype(np.uint8)
    return framed, matrix, notes


def _extended_blur(framed: np.ndarray, outside: np.ndarray, size: int) -> np.ndarray:
    """`framed` (its border replicated beyond the photo) blurred by EXTEND_BLUR of `size` at the photo's edge, more
    the further `outside` it lies, up to EXTEND_BLUR_FAR at EXTEND_FADE: the replicated edge pixels, a uniform blur
    left them as stripes across the whole border (a collar's colours under a tight crop's chin)."""
    near = cv2.GaussianBlur(framed, (0, 0), EXTEND_BLUR * size).astype(np.float32)
    small = cv2.resize(framed, (size // 8, size // 8), interpolation=cv2.INTER_AREA)
    far = cv2.GaussianBlur(small, (0, 0), EXTEND_BLUR_FAR * size / 8, borderType=cv2.BORDER_REPLICATE)
    far = cv2.resize(far, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    distance = cv2.distanceTransform(outside.astype(np.uint8), cv2.DIST_L2, 5)
    fade = np.clip(distance / (EXTEND_FADE * size), 0.0, 1.0)[..., None]
    return near + fade * (far - near)


def _transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


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
    """Whether the photo already shows teeth: an open mouth whose inside is mostly bright and unsaturated (for the
    photo's skin: TEETH_OF_SKIN), some of it less so than its lips (TEETH_APART)."""
    if open_px < 0.02 * np.ptp(points[:, 0]):
        return False
    mask = _polygon_mask(image, points[INNER_LIP])
    if mask.sum() < 10:
        return False
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[mask].astype(np.float32)
    _, skin_saturation, skin_value = cv2.cvtColor(skin_colour(image, points).reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0]
    warm = float(skin_saturation) > WARM_SKIN
    saturation = max(TEETH_SATURATION, TEETH_OF_SKIN * float(skin_saturation)) if warm else TEETH_SATURATION
    bright = (hsv[:, 2] > TEETH_BRIGHT * float(skin_value)) & (hsv[:, 1] < saturation)
    if bright.mean() <= 0.3:
        return False
    _, lip_saturation, lip_value = cv2.cvtColor(lip_colour(image, points).reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0]
    apart = hsv[:, 2] > TEETH_OVER_LIPS * float(lip_value)
    if lip_saturation >= GREY_LIPS and not warm:
        apart &= hsv[:, 1] < TEETH_UNDER_LIPS * float(lip_saturation)
    return bool(apart.mean() >= TEETH_APART)


def eyes_behind_dark_glasses(image: np.ndarray, points: np.ndarray) -> bool:
    """Whether both eyes lie behind dark lenses (DARK_LENS). Lids drawn over such lenses only smear them (a held-out
    photo's sunglasses lost their glints)."""
    return eye_darkness(image, points) < DARK_LENS


def eye_darkness(image: np.ndarray, points: np.ndarray) -> float:
    """The brightest of the medians of each eye and of the ring around it (LENS_RING), over the cheeks'
    brightness (skin_colour): low only where both eyes and their surroundings are dark."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    skin = float(cv2.cvtColor(skin_colour(image, points).reshape(1, 1, 3), cv2.COLOR_RGB2GRAY)[0, 0])
    medians = []
    for eye in EYES:
        corners = points[eye]
        width = float(np.linalg.norm(corners[0] - corners[3]))
        inside = _polygon_mask(image, corners)
        ring = np.zeros(grey.shape, np.uint8)
        centre = tuple(int(v) for v in np.round(corners.mean(0)))
        cv2.ellipse(ring, centre, tuple(round(share * width / 2) for share in LENS_RING), 0, 0, 360, 1, -1)
        for region in (inside, ring.astype(bool) & ~inside):
            medians.append(float(np.median(grey[region])) if region.any() else 255.0)
    return max(medians) / max(skin, 1.0)
