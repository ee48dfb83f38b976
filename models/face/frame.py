"""Face geometry, once: the 68 iBUG landmarks by name, and the face's own axes and measures.

Everything that moves or measures a face (mesh, rig, mouth, eyes, renderer, evaluator) works in these units, so a
tilted photo still opens its mouth along the face and a small face moves as far, in proportion, as a big one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Landmark indices (iBUG 68-point layout, as dlib's shape predictor gives them). "Left" is the image's left.
JAW = list(range(17))
CHIN = 8
BROWS = (list(range(17, 22)), list(range(22, 27)))
NOSE_BRIDGE = 27
NOSE = list(range(27, 36))
NOSE_TIP = 30
EYES = (list(range(36, 42)), list(range(42, 48)))
MOUTH = list(range(48, 68))
OUTER_LIP = list(range(48, 60))
INNER_LIP = list(range(60, 68))
MOUTH_CORNERS = (48, 54)
INNER_CORNERS = (60, 64)
INNER_GAPS = ((61, 67), (62, 66), (63, 65))  # upper / lower inner-lip landmark pairs
UPPER_LIP = [49, 50, 51, 52, 53, 61, 62, 63]
LOWER_LIP = [55, 56, 57, 58, 59, 65, 66, 67]
OUTER_UPPER_LIP = [49, 50, 51, 52, 53]  # the upper lip's outer landmarks between the corners
OUTER_LOWER_LIP = [55, 56, 57, 58, 59]
UPPER_LIP_OUTLINE = [48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]  # the upper lip's outer and inner edge
LOWER_LIP_OUTLINE = [48, 59, 58, 57, 56, 55, 54, 64, 65, 66, 67, 60]
# Slits: (upper chain, lower chain), both running corner to corner.
MOUTH_SLIT = ((60, 61, 62, 63, 64), (60, 67, 66, 65, 64))
LEFT_EYE_SLIT = ((36, 37, 38, 39), (36, 41, 40, 39))
RIGHT_EYE_SLIT = ((42, 43, 44, 45), (42, 47, 46, 45))
EYE_GAPS = ((37, 41), (38, 40), (43, 47), (44, 46))  # upper / lower lid landmark pairs
LOWER_LIDS = [41, 40, 47, 46]


def lips_crossed(points: np.ndarray) -> list[bool]:
    """Per inner-lip pair (INNER_GAPS) of 68 landmarks, whether its lower point lies above its upper one along the
    face's down: lips that dlib crossed, which meet (models.face.lips.lips_uncrossed)."""
    down = FaceFrame.of(points).down
    return [float((points[lower] - points[upper]) @ down) < 0 for upper, lower in INNER_GAPS]


def mouth_opening(points: np.ndarray) -> float:
    """Mean vertical gap between the inner lips of 68 landmarks, in pixels; a crossed pair (lips_crossed) is no gap:
    counted by its length, dlib's crossed fit of a small face's shut lips read 0.12-0.14 of the mouth open on every
    frame of a video, silence included, and the analysis took such a closed mouth for an open one."""
    pairs = zip(INNER_GAPS, lips_crossed(points), strict=True)
    return float(np.mean([0.0 if crossed else np.linalg.norm(points[a] - points[b]) for (a, b), crossed in pairs]))


@dataclass(frozen=True)
class FaceFrame:
    """The face's axes and sizes, from its 68 landmarks (in whatever pixels those are)."""

    down: np.ndarray  # (2,) unit vector from the nose bridge towards the chin
    right: np.ndarray  # (2,) perpendicular to `down`, towards the image's right for an upright face
    height: float  # nose bridge to chin
    width: float  # jaw side to jaw side (landmarks 0 and 16)
    mouth_width: float  # corner to corner
    centre: np.ndarray  # (2,) middle of the nose
    mouth_centre: np.ndarray  # (2,)

    @classmethod
    def of(cls, points: np.ndarray) -> FaceFrame:
        height = float(np.linalg.norm(points[CHIN] - points[NOSE_BRIDGE]))
        down = ((points[CHIN] - points[NOSE_BRIDGE]) / max(height, 1e-6)).astype(np.float32)
        return cls(
            down=down,
            right=np.array([-down[1], down[0]], np.float32),
            height=height,
            width=float(np.linalg.norm(points[JAW[-1]] - points[JAW[0]])),
            mouth_width=float(np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]])),
            centre=points[NOSE].mean(0).astype(np.float32),
            mouth_centre=points[MOUTH].mean(0).astype(np.float32),
        )

    def outward(self, curve: np.ndarray) -> np.ndarray:
        """(n, 2) unit normals of a curve of points around the face (the jaw line), pointing away from it."""
        tangent = np.gradient(curve, axis=0)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
        normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
        return normal * np.sign(np.sum((curve - self.centre) * normal, axis=1, keepdims=True))
