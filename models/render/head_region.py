"""How much of the head's motion each part of the photo follows: all of it on the head, none far from it.

The puppet sways, nods and tilts the head with one affine (warp_rig.Rig.head_affine). Applied to the whole photo it
moved the background and the frame's edges with the head, like a hand-held camera, and the other people in a
group photo nodded along. The head's motion is held to an oval around the face, large enough for the hair, the
ears and the top of the neck, and fades out beyond it, so the background, the shoulders and everyone else stay
where the photo has them; the fade is wide enough that the few pixels the head moves bend nothing visibly.
"""

from __future__ import annotations

import numpy as np

from models.face.frame import FaceFrame

# The oval in which the head moves as one, from the middle of the nose: in face heights (nose bridge to chin)
# above and below, in face widths (jaw side to side) beside.
HEAD_UP = 1.25  # the crown
HEAD_DOWN = 0.8  # the chin and the top of the neck
HEAD_SIDE = 0.8  # the ears and most hair beside them
FADE = 0.5  # the motion fades to nothing over this much more of the oval's radius


def head_hold(frame: FaceFrame, positions: np.ndarray) -> np.ndarray:
    """Share of the head's motion (0 to 1, float32) at each of `positions` ((..., 2) output pixels, x then y)."""
    offset = positions - frame.centre
    along = offset @ frame.down
    beside = offset @ frame.right
    radius = np.hypot(along / np.where(along > 0, HEAD_DOWN, HEAD_UP) / frame.height, beside / HEAD_SIDE / frame.width)
    t = np.clip((radius - 1) / FADE, 0, 1)
    return (1 - t * t * (3 - 2 * t)).astype(np.float32)  # smoothstep: no kink where the fade starts or ends
