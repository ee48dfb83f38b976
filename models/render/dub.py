"""Re-voicing a video with the warp renderer: only the mouth and jaw of each frame are driven by the new speech.

Per frame with a followed face: a square crop around the face at (up to) its own resolution becomes a one-frame
puppet (models/render/warp.py). The rig first closes the frame's own mouth (its "close" shape, measured on this
frame, with the lips only: the jaw stays) and then opens it to the new speech's shape, so the source's mouth motion
is replaced, not added to. The frame's own teeth show where it has them; what of its open mouth is carried into the
new lips is painted lip-coloured. Head, eyes, brows and expression controls stay at rest: those come from the
video. What the puppet changed is pasted back through a feathered mask over the lower face, as a difference, so
every pixel outside the mask is the source's own and the skin inside keeps its full-resolution detail. Frames
without the face pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from core.settings import get_settings
from models.face.analysis import FaceAnalysis, lip_colour, skin_colour, teeth_visible
from models.face.frame import (
    INNER_CORNERS,
    INNER_GAPS,
    INNER_LIP,
    MOUTH_CORNERS,
    MOUTH_SLIT,
    OUTER_LIP,
    FaceFrame,
    mouth_opening,
)
from models.face.lips import OUTER_OF_PAIRS, lips_uncrossed
from models.face.video import VideoFace
from models.render.base import FrameRenderer
from models.render.warp import Puppet
from models.types import Availability, ControlTrack, Resource

# the control channels that shape the mouth; the rest (head, eyes, brows, smile) come from the video
MOUTH_CHANNELS = ("jaw_open", "lip_press", "lip_width", "lip_round", "lip_teeth", "upper_lip")
FACE_FILL = 0.72  # landmark extent as a share of the crop's side
CHIN_TRAVEL = 0.5  # mouth widths: how far below the jaw line the mask reaches (an opening jaw moves the chin)
FEATHER = 0.06  # face widths: the mask's soft edge
COLOUR_MEMORY = 0.85  # lip and skin colours are averaged over frames: the synthetic inner mouth does not flicker
GRID = 8  # crop sides are multiples of this
LIP_KEPT = 0.6  # the inner lip line moves at most this share of the way to the outer one
INSIDE_MIN = 0.03  # share of the lip area that must look like teeth or cavity before the inner lip line is moved
# what in the lips is not lip, against the lip colour (8-bit Lab): (starts, fully)
GREYER = (6.0, 14.0)  # chroma below the lips': teeth, shadowed teeth
BRIGHTER = (35.0, 55.0)  # lightness above: lit teeth
DARKER = (35.0, 60.0)  # lightness below: the cavity
LIP_LINE = 0.8  # closed lips meet in a line this share of the lip colour's brightness
LINE_WIDTH = 0.012  # mouth widths
OWN_TEETH_REACH = 0.04  # mouth widths the frame's own teeth reach under its lips (Puppet's teeth_reach)
LIP_REACH = 0.04  # mouth widths beyond the outer lip line that are cleaned too
NOT_LIP = 25.0  # Lab distance (chroma weighted 1.5x) from the lip colour beyond which a pixel is teeth or mouth cavity
LIP_BAND = 0.1  # mouth widths either side of the opening's outline that are cleaned
CLOSED_GAP = 0.04  # mouth widths: an inner-lip gap below this is closed lips (drawn with a lip line)


def open_mouth_outline(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`points` with the inner lip line moved out to the edge of what the frame shows inside the mouth (teeth,
    dark cavity). dlib puts the inner lip points of a toothy smile on the teeth, a few pixels inside the lips: closing
    the mouth along them would leave a band of teeth showing through the new speech's closed lips."""
    outer = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(outer, [np.round(points[OUTER_LIP]).astype(np.int32)], 1)
    inner = np.zeros_like(outer)
    cv2.fillPoly(inner, [np.round(points[INNER_LIP]).astype(np.int32)], 1)
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    lips = (outer > 0) & (inner == 0)
    if lips.sum() < 10:
        return points
    distance = np.linalg.norm((lab - np.median(lab[lips], 0)) * (1.0, 1.5, 1.5), axis=-1)
    inside = (distance > NOT_LIP) & (outer > 0)
    if inside.sum() < INSIDE_MIN * outer.sum():
        return points
    out = points.copy()
    # each column of the inner lips: up to the top and down to the bottom of what shows inside, keeping some lip
    for (upper, lower), (above, below) in zip(INNER_GAPS, OUTER_OF_PAIRS, strict=True):
        x = int(round((points[upper, 0] + points[lower, 0]) / 2))
        rows = np.flatnonzero(inside[:, x]) if 0 <= x < inside.shape[1] else np.zeros(0, int)
        if len(rows):
            top = points[upper, 1] - LIP_KEPT * (points[upper, 1] - points[above, 1])
            bottom = points[lower, 1] + LIP_KEPT * (points[below, 1] - points[lower, 1])
            out[upper, 1] = min(points[upper, 1], max(rows.min() - 0.5, top))
            out[lower, 1] = max(points[lower, 1], min(rows.max() + 0.5, bottom))
    ys, xs = np.nonzero(inside)
    left, right = INNER_CORNERS
    out[left, 0] = max(min(points[left, 0], xs.min() - 0.5), points[MOUTH_CORNERS[0], 0] + 0.5)
    out[right, 0] = min(max(points[right, 0], xs.max() + 0.5), points[MOUTH_CORNERS[1], 0] - 0.5)
    return out


def not_lip(lab: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """0..1 per pixel (8-bit Lab): how much it looks like teeth (greyer or much brighter than the lips) or the
    mouth's cavity (much darker) rather than lips or the skin around them."""
    lightness = lab[..., 0] - float(lip[0])
    greyer = float(np.hypot(lip[1] - 128.0, lip[2] - 128.0)) - np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    return np.maximum.reduce([_ramp(greyer, GREYER), _ramp(lightness, BRIGHTER), _ramp(-lightness, DARKER)])


def _ramp(x: np.ndarray, edges: tuple[float, float]) -> np.ndarray:
    return np.clip((x - edges[0]) / (edges[1] - edges[0]), 0, 1)


def clean_lips(crop: np.ndarray, points: np.ndarray, lip_rgb: np.ndarray) -> None:
    """Paint the lips (outer lip line to the opening, at the moved `points`) lip-coloured wherever the frame's own
    teeth or mouth cavity were carried into them, and draw the line where closed lips meet. In place."""
    frame = FaceFrame.of(points)
    width = frame.mouth_width
    x0, y0 = np.floor(points[OUTER_LIP].min(0) - 2).astype(int).clip(0)
    x1, y1 = np.ceil(points[OUTER_LIP].max(0) + 3).astype(int)
    box = crop[y0:y1, x0:x1]
    if box.size == 0:
        return
    local = (points - (x0, y0)) * 16
    lips, opening = np.zeros(box.shape[:2], np.uint8), np.zeros(box.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(local[OUTER_LIP]).astype(np.int32)], 255, cv2.LINE_AA, 4)
    cv2.fillPoly(opening, [np.round(local[INNER_LIP]).astype(np.int32)], 255, cv2.LINE_8, 4)
    reach = 2 * max(1, round(LIP_REACH * width)) + 1  # dlib's lip line runs inside a smile's dark corners
    lips = cv2.dilate(lips, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach)))
    # what the closing carried in lies along the opening: the lips' outer parts keep their own shading and highlights
    near = np.zeros_like(lips)
    cv2.polylines(
        near,
        [np.round(local[INNER_LIP]).astype(np.int32)],
        True,
        255,
        max(1, 2 * round(LIP_BAND * width)),
        cv2.LINE_AA,
        4,
    )
    lips = np.minimum(lips, near)
    lips[opening > 0] = 0
    lab = cv2.cvtColor(box, cv2.COLOR_RGB2LAB).astype(np.float32)
    foreign = not_lip(lab, cv2.cvtColor(lip_rgb.reshape(1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB)[0, 0])
    weight = cv2.GaussianBlur(foreign * (lips.astype(np.float32) / 255), (0, 0), 0.7)[..., None]
    # one flat lip colour: growing the lips' own shading in (inpainting) took the source's dark rims along
    out = box + weight * (lip_rgb.astype(np.float32) - box)
    upper, lower = (points[list(chain)] for chain in MOUTH_SLIT)
    if np.mean(np.linalg.norm(upper[1:-1] - lower[1:-1], axis=1)) < CLOSED_GAP * width:
        line = np.zeros(box.shape[:2], np.uint8)
        middle = np.round(((upper + lower) / 2 - (x0, y0)) * 16).astype(np.int32)
        cv2.polylines(line, [middle], False, 255, max(1, round(LINE_WIDTH * width)), cv2.LINE_AA, 4)
        out *= 1 - (1 - LIP_LINE) * cv2.GaussianBlur(line.astype(np.float32) / 255, (0, 0), 0.5)[..., None]
    box[:] = np.clip(out, 0, 255).astype(np.uint8)


def lower_face_mask(points: np.ndarray, side: int) -> np.ndarray:
    """(side, side) float32: 1 over the mouth, jaw and chin (and as far below the jaw as the chin may travel),
    falling to exactly 0 at the edge of that area."""
    frame = FaceFrame.of(points)
    chin = points[4:13] + frame.down * CHIN_TRAVEL * frame.mouth_width
    hull = cv2.convexHull(np.concatenate([points[2:15], points[31:36], chin]).astype(np.float32))
    mask = np.zeros((side, side), np.float32)
    cv2.fillConvexPoly(mask, np.round(hull * 16).astype(np.int32), 1.0, cv2.LINE_AA, shift=4)
    feather = max(2, int(FEATHER * frame.width))
    core = cv2.erode(mask, np.ones((2 * feather + 1,) * 2, np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.GaussianBlur(core, (0, 0), feather / 2)


class MouthDriver:
    """Re-draws the mouth of one video's frames; keeps the colour memory across frames."""

    def __init__(self, work_size: int):
        self.work_size = work_size
        self.colours: np.ndarray | None = None  # (2, 3) lip, skin

    def crop(self, points: np.ndarray) -> tuple[np.ndarray, int]:
        """The 2x3 matrix taking frame pixels to a square crop around the face, and the crop's side."""
        extent = float(np.ptp(points, 0).max())
        side = extent / FACE_FILL
        work = max(64, min(self.work_size, int(np.ceil(side / GRID)) * GRID))
        scale = work / side
        cx, cy = (points.min(0) + points.max(0)) / 2
        return np.array([[scale, 0, work / 2 - scale * cx], [0, scale, work / 2 - scale * cy]], np.float32), work

    def frame(self, rgb: np.ndarray, points: np.ndarray, controls: dict[str, float]) -> np.ndarray:
        matrix, side = self.crop(points)
        crop = cv2.warpAffine(rgb, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        local = open_mouth_outline(crop, lips_uncrossed((points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)))
        colours = np.stack([lip_colour(crop, local), skin_colour(crop, local)]).astype(np.float32)
        if self.colours is None:
            self.colours = colours
        self.colours = COLOUR_MEMORY * self.colours + (1 - COLOUR_MEMORY) * colours
        face = FaceAnalysis(
            image=crop,
            landmarks=local,
            box=np.concatenate([local.min(0), local.max(0)]),
            pose=np.zeros(3, np.float32),
            skin_rgb=self.colours[1].astype(np.uint8),
            lip_rgb=self.colours[0].astype(np.uint8),
            teeth_visible=teeth_visible(crop, local, mouth_opening(local)),
            mouth_open_px=mouth_opening(local),
            embedding=None,
            n_faces=1,
            face_index=0,
            source_hash="",
            notes=[],
        )
        puppet = Puppet(
            face, eyes=False, mouth_box=True, chin_closes=False, teeth_reach=OWN_TEETH_REACH, parted_rest=False
        )
        mouth = {name: controls.get(name, 0.0) for name in MOUTH_CHANNELS}
        driven = puppet.frame(mouth)
        moved = local + np.tensordot(puppet.rig.coefficients(mouth), puppet.rig.bases[:, : len(local)], axes=1)
        clean_lips(driven, moved, self.colours[0])
        mask = lower_face_mask(local, side)
        x, y, w, h = cv2.boundingRect((mask > 0).astype(np.uint8))
        if w == 0:
            return rgb
        box = (slice(y, y + h), slice(x, x + w))
        change = (driven[box].astype(np.float32) - crop[box].astype(np.float32)) * mask[box][..., None]
        return paste_change(rgb, change, matrix, (x, y))


def paste_change(rgb: np.ndarray, change: np.ndarray, matrix: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """`rgb` plus `change` (made at `at` in the crop that `matrix` maps frame pixels to), mapped back in place.
    Pixels where the change is 0 keep their exact values (x + 0 + 0.5 rounds back to x)."""
    inverse = cv2.invertAffineTransform(matrix)
    inverse[:, 2] += inverse[:, :2] @ np.array(at, np.float32)  # from the change's own pixels
    h, w = change.shape[:2]
    corners = cv2.transform(np.array([[[0, 0], [w, 0], [0, h], [w, h]]], np.float32), inverse)[0]
    height, width = rgb.shape[:2]
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, [width, height])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 1, 0, [width, height])
    if x1 <= x0 or y1 <= y0:
        return rgb
    inverse[:, 2] -= (x0, y0)
    back = cv2.warpAffine(change, inverse, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR)
    region = rgb[y0:y1, x0:x1]
    region[:] = np.clip(region + back + 0.5, 0, 255).astype(np.uint8)
    return rgb


class DubWarpRenderer(FrameRenderer):
    """The warp renderer for a video face source (the `warp` entry of models.backends.DUBBERS)."""

    name = "warp"
    resource: Resource = "cpu"

    def available(self) -> Availability:
        return Availability(True)

    def notes(self) -> list[str]:
        return ["the mouth and jaw follow the new speech; head, eyes and expression are the video's own"]

    def frames(self, face: VideoFace, controls: ControlTrack, audio_wav: Path) -> Iterator[np.ndarray]:
        driver = MouthDriver(get_settings().dub_work_size)
        for i, (rgb, points) in enumerate(face.frames()):
            yield rgb if points is None else driver.frame(rgb, points, controls.frame(min(i, controls.n_frames - 1)))
