"""A face's expression from its 68 landmarks: how far the mouth corners are lifted, how high the brows sit, how
open the eyes are. Measured in a frame that follows the face (the eye line is horizontal, lengths in eye
distances), so head roll and image size do not change the numbers.

The same measure reads the photo's resting expression (so a smiling photo is not driven into a frown) and reads the
rendered frames back (`avatar eval`, models/eval/lipsync.py: the output is judged by what the face does, not by the
controls asked for).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# Typical values of a relaxed face (dlib's 68 points, frontal): differences from them carry the expression
REST_LIFT = 0.0  # mouth corners level with the lip midline
REST_BROW = 0.32  # brow above the eye corners
REST_EYE = 0.28  # eye opening (lid gap over eye width)
LIFT_SCALE, BROW_SCALE, EYE_SCALE = 0.15, 0.08, 0.10  # the change that counts as a full expression


@dataclass
class Expression:
    mouth_corner_lift: float  # + corners above the lip midline (smile), - below (frown); in eye distances
    brow_height: float  # brow above the eye corners, in eye distances
    eye_opening: float  # mean lid gap over eye width
    roll_deg: float = 0.0  # the eye line's angle (head roll), not part of the expression's scores

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}

    def scores(self) -> dict[str, float]:
        """Valence (-1 frown .. 1 smile) and arousal (-1 drowsy .. 1 wide-eyed, brows up) of this expression."""
        smile = (self.mouth_corner_lift - REST_LIFT) / LIFT_SCALE
        lift = (self.brow_height - REST_BROW) / BROW_SCALE + (self.eye_opening - REST_EYE) / EYE_SCALE
        return {"valence": float(np.clip(smile, -1, 1)), "arousal": float(np.clip(0.5 * lift, -1, 1))}


def expression(points: np.ndarray) -> Expression:
    """The expression of one face's (68, 2) landmarks."""
    p = np.asarray(points, np.float64)
    left_eye, right_eye = p[36:42].mean(0), p[42:48].mean(0)
    across = right_eye - left_eye
    scale = float(np.linalg.norm(across)) or 1.0
    x_axis = across / scale
    down = np.array([-x_axis[1], x_axis[0]])  # image y grows downwards

    def height(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How far `a` lies above `b`, in eye distances."""
        return (np.asarray(b) - np.asarray(a)) @ down / scale

    lip_midline = p[[51, 57, 62, 66]].mean(0)
    lift = float(np.mean(height(p[[48, 54]], lip_midline)))
    # brows over the eyes' corners, which stay put when the lids close (a blink is not a frown)
    brows = np.mean([height(p[17:22].mean(0), p[[36, 39]].mean(0)), height(p[22:27].mean(0), p[[42, 45]].mean(0))])
    eyes = [
        (np.linalg.norm(p[a] - p[b]) + np.linalg.norm(p[c] - p[d])) / (2 * np.linalg.norm(p[e] - p[f]))
        for a, b, c, d, e, f in ((37, 41, 38, 40, 36, 39), (43, 47, 44, 46, 42, 45))
    ]
    roll = float(np.degrees(np.arctan2(across[1], across[0])))
    return Expression(lift, float(brows), float(np.mean(eyes)), roll)


def photo_expression(path: Path, face_index: int | None = None) -> Expression | None:
    """The resting expression of the photo's face (the largest, or number `face_index`, largest first), from its
    landmarks alone: a fraction of the cost of the renderer's full analysis, which another worker may redo; cached
    by the file's content (loading dlib's models alone takes most of a second), and the faces' detection with the
    photo's others. None without that face (the render step says what is wrong with the photo)."""
    from core.settings import get_settings
    from models.face import landmarks as lm
    from models.face.analysis import detect_photo_faces
    from models.face.cache import cache_file, write_atomically
    from models.face.image import load_image

    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:40]
    cached = cache_file("expressions", f"{digest}_{face_index or 0}.json")
    if cached.exists():
        stored = json.loads(cached.read_text())
        return Expression(**stored) if stored else None
    image = load_image(path, max_pixels=get_settings().max_image_pixels)
    faces = detect_photo_faces(image).boxes
    index = face_index or 0
    found = expression(lm.landmarks(image, faces[index])) if index < len(faces) else None
    write_atomically(cached, lambda tmp: tmp.write_text(json.dumps(asdict(found) if found else None)))
    return found


def expression_summary(points: list[np.ndarray | None]) -> dict[str, float] | None:
    """What a face does over a video, from its landmarks per frame (None where no face was found): head roll
    (mean and spread), and the median mouth-corner lift, brow height and eye opening. Blinks are counted by
    models.eval.quality (count_blinks), once."""
    found = [expression(p) for p in points if p is not None]
    if len(found) < 2:
        return None
    eyes = np.array([e.eye_opening for e in found])
    roll = np.array([e.roll_deg for e in found])
    return {
        "head_roll_mean_deg": round(float(roll.mean()), 2),
        "head_roll_std_deg": round(float(roll.std()), 2),
        "mouth_corner_lift": round(float(np.median([e.mouth_corner_lift for e in found])), 4),
        "brow_height": round(float(np.median([e.brow_height for e in found])), 4),
        "eye_opening": round(float(np.median(eyes)), 4),
    }
