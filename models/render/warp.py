"""The `warp` renderer: a 2.5D puppet of the photo, fast enough for live streaming on a laptop CPU.

Per face (once): a triangle mesh over the landmarks, the rig's basis shapes, the inside-of-mouth layers.
Per frame: vertex offsets from the controls; for each side of the slits (upper, lower) the exact inverse of
the piecewise-affine warp, rasterised on a coarse grid and composed with the head's affine, which fades out
around the head (models/render/head_region.py: the background stays still); one remap of the part of the frame
that moves; then, inside small boxes around the mouth and eyes, the lower side and what shows through the
slits (teeth, tongue, eyeballs, closing lids) are blended in. Below the jaw the neck, collar and background
stay where the head puts them: a dropping chin slides over them instead of dragging them down; under a rising
chin (a closing mouth lifts it) the neck eases into the face's motion, so no seam runs along the old outline.
The face's moving outline stops inside the photo's own edge where the colour leaves the skin, so a light
background behind the jaw is not carried over the collar (a halo); a markedly darker step is the chin's shadow and
moves with it, and the outline bends smoothly along the jaw. A turned face (FaceAnalysis.mouth_turned: one only the
CNN detector finds, or one turned past models/face/analysis.TURNED_YAW) does not move its jaw line, and its lids
close over the eye found by a second landmark fit on the framed photo (FaceAnalysis.eye_landmarks), drawn with the
head, not through the mesh: its first landmarks are too rough for that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from models.face.analysis import FaceAnalysis
from models.face.frame import EYES, JAW, LEFT_EYE_SLIT, NOSE_BRIDGE, NOSE_TIP, RIGHT_EYE_SLIT, FaceFrame
from models.face.tone import LUMA, over_channels
from models.render.base import FrameRenderer
from models.render.eyes import CORNER_REACH, EyeLayers, build_eyes, close_lid, eyes_past_edge
from models.render.head_region import head_hold
from models.render.mesh import (
    GRID_STEP,
    LOWER,
    SLITS,
    SPLINE_STEPS,
    UPPER,
    FaceMesh,
    build_mesh,
    neck_held,
    spline_matrix,
)
from models.render.mouth import (
    SHADE_BOUNCE,
    MouthLayers,
    build_mouth,
    fuses_closed_lips,
    inside_box,
    lips_over_opening,
    on_commissures,
)
from models.render.softness import photo_softness
from models.render.warp_rig import Rig, build_rig
from models.types import Availability, ControlTrack, Resource

_IDENTITY = np.array([[[1, 0], [0, 1], [0, 0]]], np.float32)  # a (3, 2) affine as _affines gives them
_CELL = np.stack(np.meshgrid(np.arange(GRID_STEP), np.arange(GRID_STEP)), -1).reshape(-1, 2).astype(np.int32)
_CELL += GRID_STEP // 2  # a grid cell's pixels, from its first grid point's
_CORNERS = np.ones((2, 2), np.uint8)  # a grid cell's corners, from its first grid point on
MARGIN = 4  # px around a slit's box
LINE_FADE = 0.04  # mouth widths apart over which closed lips' own meeting line fades out (Puppet._sources)
RIM_MARGIN = 2.5  # ... and around the mouth's, in shadow reaches: the lips' shaded rim fades out inside the box
PUPPET_CACHE = 4
BLINK_VISIBLE = 0.02
JAW_POINT = 66  # the lower teeth move with the middle of the lower inner lip
SHADOW_REACH = (0.06, 0.25)  # blur of the opening that shades what lies behind it, in slit widths (mouth, eyes)
LID_SHADOW_FULL = 0.6  # blink at which a closing lid shades the eyeball fully
SHADE_FLOOR = 0.4  # light left in the narrowest corner of an opening
EMPTY = 1e-3  # side cover under which a pixel of a slit's box shows neither side (_fill_slit)
OWN_TEETH_LIGHT = 0.8  # the least light left on the photo's own teeth in an opening narrower than its own
FOLD_REACH = 2.0  # px a grid point just outside a squeezed triangle may move past its corners' motion (_hold_folds)
SQUEEZED = 2 / 3  # ... squeezed: to this share of its area or less, or of its length along any direction, or
# folded over (a flat one's reached 875 px)
OPENING_SAMPLES = 4  # an opening's mask is counted on a grid this many times finer than the pixels (_opening_pixels)
OPENING_EDGE = 2  # ... less its outline drawn this thick there (3 fine pixels: 0.75 px, as OpenCV's anti-aliased
# outline took off an anti-aliased fill on a wide opening)
# The chin's edge over the neck is anti-aliased over a pixel (a 3 px box: about this Gaussian sigma, px). A small face
# enlarged is far softer around its jaw line (models/render/softness.py, read in the box of its jaw points this much
# grown, nose-to-chin lengths): past SMALL_FACE px there, the chin's edge is blurred to the photo's softness (drawn
# crisp, a dropping chin's edge over the collar read up to 1.36 times the photo's own seam) and the blur of its teeth
# is grown over with its opening (models/render/mouth.OPENING_BLUR). The three held-out thumbnails (faces of 25 to 40
# px) read 3.1 to 4.1 px; all 87 other faces 2.9 and less (150 px photos of larger faces 2.0 to 2.9: softened so,
# one's identity on a blink read 0.353 where it was 0.347)
SEAM_DRAWN = 0.8
SEAM_AROUND = 0.1
SMALL_FACE = 3.0
SEAM_MIN_BLUR = 0.3  # px: a lesser blur of the chin's edge is not drawn (a chin that has hardly dropped)
# Under such a face's dropped chin the neck moves with it (as the nearest point of the jaw's outline moved) for
# NECK_HOLD of its softness (px): the photo's soft edge and the chin's shadow on the neck; then it eases back to the
# head's motion over NECK_EASE times the drop, as under a rising chin (_eased_neck). So does the face's margin under
# its jaw landmarks (jaw_soft), which the mesh squeezed towards its neck anchors (held inside the frame: on a tight
# crop, at its bottom edge just under the chin). Pinned, the neck showed the chin's dark rim over the bright neck or
# over the shadow further down, and the blurred edge drew the squeezed margin as a light rim over a dark collar:
# held-out faces of 60-80 px with the chin near the bottom edge read a seam (p95 over the frames) of 1.35-1.38
# times the photo's, now 1.09-1.25. A larger face whose neck anchors the mesh holds inside the frame (mesh.neck_held)
# moves that margin and drags its neck as a small face's (a pinned neck beside the dragged one tore the cheek's
# edge): squeezed, the margin read 2.37, 1.99, 1.52 and 3.15 times the photo's seam (takeo, franck_02159, hd4,
# test2), now 0.98, 0.99, 1.12 and 1.49
NECK_HOLD = 2.0
NECK_EASE = 2.0
EDGE_SOFTNESS = (0.66, 0.6)  # px: the lips' and lids' inner edges are soft, not cut (mouth, eyes). Both were 0.6
# over OpenCV's anti-aliased fill, which smeared the opening's edge over about 2 px; over its counted mask the mouth
# takes 0.66 (0.6: the astronaut's mouth sharpness over the photo's 2.76 -> 3.21, 0.66: 2.87), the eyes keep 0.6
LIP_RIM = 0.3  # darkening of the lips' inner edge next to an opening
# mouth widths the jaw opens past the photo's own opening over which its own teeth change to their cut, shading
# layer (MouthLayers.opened): at rest and narrower the photo's opening shows as it is
TEETH_CUT = 0.04
JAW_MOVES = slice(2 * SPLINE_STEPS, 14 * SPLINE_STEPS + 1)  # the part of its curve the jaw moves (2 to 14)
JAW_SOFT = (0.01, 0.02)  # soft tissue outside the jaw line that moves with it (sides, chin), nose-to-chin lengths
EDGE_SEARCH = 0.015  # nose-to-chin lengths inside the jaw line where the face's own colour is taken
EDGE_INSET = 3.0  # px: the moving outline stays this far inside such an edge (the photo blends across it, the
# field is interpolated from a grid GRID_STEP px apart)
EDGE_STEP = 60.0  # RGB distance from the skin inside the jaw line at which the photo has left the face
EDGE_SHADE = 0.85  # a step darker than this share of the skin (summed RGB) is its shade, not its edge: carried
# with the chin it reads as the chin's shadow (a light band carried over the collar reads as a halo)
# A shade under the part of the jaw that moves (JAW_MOVES) that runs on past the soft tissue's reach moves with it
# to where it and its soft edge end (the colour settles: less than SHADE_SETTLED summed RGB levels per px), within
# SHADE_REACH nose-to-chin lengths, if that carries SHADE_MORE of them further. Cut at the reach, the
# dropped chin ended in a thin dark band with a hard edge over the bright neck: a tight crop whose shadow runs 0.04
# below the jaw line, and a beard's dark rim, read 1.38 and 1.31 times the photo's own seam (now 1.21 and 1.24)
SHADE_SETTLED = 6.0
SHADE_REACH = 0.08
SHADE_MORE = 0.01
# ... only where the cut would leave a hard edge: over the moving jaw points, the mean extension times how much
# lighter the photo is at the shadow's end than at the reach (share of the skin's light; _cut_shadow), at least
# SHADE_GATE nose-to-chin lengths. Of the 44 gallery and held-out faces only the two above pass (0.0174, 0.0172);
# next come Grace Hopper in two_people 0.0130, grace_rgba 0.0116, a held-out face 0.0095, grace_hopper 0.0053 and
# the astronaut at the photo's edge 0.0013. Ungated, the extension moved 40 of them, and their dlib readings with
# it (Grace Hopper's pressed lips when opened by the rig, the astronaut's shut head turns)
SHADE_GATE = 0.015
SHADOW_FLOOR = 0.3  # ... a shade, not a black collar: at least this share of the skin's light at the reach
# A step lighter than the skin by EDGE_LIGHT of its light also leaves the face under the moving jaw where the margin
# would carry it as a light line over something darker that the chin drops onto (the darkest within HALO_BELOW
# nose-to-chin lengths below the margin's end): over those points, the mean px the margin loses times how much
# lighter than that dark the strip it carried is (shares of the skin's light; _halo), at least HALO_GATE nose-to-chin
# lengths. A dim photo's grey wall between its chin and a black choker lay within EDGE_STEP of the skin (RGB distance
# 20-25): carried over the choker, it drew a light line along the chin's edge at open frames (0.0102). Of the 54
# gallery and held-out faces no other passes: next come walter2 0.0039, two other faces of that photo 0.0029 and
# 0.0028, grace_tight 0.0021 (ungated, the test moved the margins of 27 of them)
EDGE_LIGHT = 0.15
HALO_BELOW = 0.15
HALO_GATE = 0.007
EDGE_SLOPE = 0.15  # px the margin may change per px along the jaw: each point's own edge search jumps between
# neighbours (a shadow under the chin just over or under EDGE_STEP), which drew a zig-zag chin over the collar
TURNED_FAR_EYE = 0.7  # a turned face's farther eye blinks if it lies this share as far from the nose ridge as the
# nearer one: the cameraman's lies at 0.55 (22 px against 40), on the edge of his face beside the nose
EYE_SLITS = (LEFT_EYE_SLIT, RIGHT_EYE_SLIT)
EYE_POINTS = EYES[0] + EYES[1]


@dataclass
class _Maps:
    """Where each output pixel samples the photo, for one side of the slits."""

    grid: np.ndarray  # on the coarse grid: (n, n, 2), or the part of it from grid point `origin` on
    origin: tuple[int, int] = (0, 0)  # (row, column)

    def at(self, puppet: Puppet, box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
        """The maps (x, y) of the pixels of `box`, upsampled from the grid (held at its edges), contiguous."""
        extended = _planes(cv2.copyMakeBorder(self.grid, 1, 1, 1, 1, cv2.BORDER_REPLICATE))
        return _contiguous(puppet._upsampled(extended, box, self.origin))


class _Outlines(NamedTuple):
    """The face's outlines in output pixels (Puppet._face_outlines): its outline now, the part of the photo's it
    still covers, the photo's; and what the frame reads of them before the head's motion: the outline now (`jaw`,
    for _chin_back) and the jaw landmarks now with the head's affine (for _jaw_polygon, on the dragged neck's path
    alone: computed every frame, the polygon was used on few)."""

    now: np.ndarray
    held: np.ndarray
    photo: np.ndarray
    jaw: np.ndarray
    landmarks: np.ndarray
    head: np.ndarray


@dataclass
class _Slit:
    index: int  # 0 = mouth, then the eyes
    box: tuple[slice, slice]  # output pixels it can change
    outline: np.ndarray  # (2K, 2) the opening in the face frame: upper curve, then lower curve back
    opening: np.ndarray  # (2K, 2) the same in output pixels
    jaw: np.ndarray  # (2,) offset of the lower teeth
    blink: float


def _box_of(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The smallest box holding every true element of the 2-D `mask`; None when there is none."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    return (slice(y, y + h), slice(x, x + w)) if w else None


class Puppet:
    """One analysed face, ready to render frames from control values.

    A puppet that only ever moves the mouth (a video's re-drawn frame, models/render/dub.py) can skip the eye
    layers (`eyes=False`: it never blinks) and build the inner-mouth layers only around the lips
    (`mouth_box=True`, `models/render/mouth.inside_box`): the same frames, set up in about half the time. A video
    frame also closes its mouth without lifting the chin (`chin_closes=False`, models/render/warp_rig.build_rig),
    and its own teeth, where it shows them, reach `teeth_reach` mouth widths under its lips: a mouth opened wider
    than the frame's shows the frame's own mouth edge there, not a dark rim of the synthetic cavity. A photo that
    shows its teeth rests with its lips parted (`parted_rest`, warp_rig.build_rig); a video's frame caught mid-word
    does not."""

    def __init__(
        self,
        face: FaceAnalysis,
        *,
        eyes: bool = True,
        mouth_box: bool = False,
        chin_closes: bool = True,
        teeth_reach: float = 0.0,
        parted_rest: bool = True,
    ):
        self.size = size = face.size
        frame = face.frame
        self.turned = face.mouth_turned
        # eyes behind dark glasses do not blink: lids drawn over the lenses only smeared them
        self.blinks = eyes = eyes and not face.eyes_hidden
        # the opening's corners (mesh, rig, outline) on a toothy smile's dark commissures, which then move with
        # them; the photo and its mouth layers keep dlib's corners (its opening grown over, its teeth, as before)
        points = on_commissures(face.image, face.landmarks, frame, face.teeth_visible and not face.mouth_turned)
        # an eye cut by the frame's edge runs on past it in the mesh, the rig and the lids, so it closes up to the edge
        # (a puppet that never blinks keeps it as fitted)
        points = eyes_past_edge(points, size) if eyes and not face.mouth_turned else points
        jaw_softness = _jaw_softness(face.image, points, frame)
        small = jaw_softness >= SMALL_FACE
        # the chin's edge over the neck blurred by this much (px; 0: anti-aliased alone)
        self.seam_softness = jaw_softness if small else 0.0
        # px: the jaw line's softness, on a face whose margin under its jaw landmarks moves with its outline (and on a
        # small one the neck under its chin, _dragged_neck): a small face, or one whose chin lies near the frame's
        # bottom edge, where the mesh holds its neck anchors (mesh.neck_held); None on others
        self.neck_softness = jaw_softness if small or neck_held(points, frame, size) else None
        self.src = np.ascontiguousarray(lips_over_opening(face.image, face.landmarks, frame, blurred=small))
        # what the warp samples while the lips are closed, fading to the grown-over photo as they open (LINE_FADE):
        # closed lips whose meeting line growing over would erase, the photo's own mouth
        # (models/render/mouth.MEETING_LINE); a mouth that dlib fitted inside its opening, the photo with the dark
        # inside's round corners grown over too (mouth.CAVITY_SHADE; opened, the photo's corners stay)
        self.own_mouth: tuple[np.ndarray, np.ndarray, tuple[slice, slice]] | None = None
        own = None
        if fuses_closed_lips(face.image, self.src, face.landmarks, frame):
            own = np.ascontiguousarray(face.image)
        elif face.opening_refitted and not face.mouth_turned:
            own = np.ascontiguousarray(lips_over_opening(face.image, face.landmarks, frame, cavity_corners=True))
        differs = None if own is None else _box_of(np.any(own != self.src, axis=2))
        if differs is not None:
            self.own_mouth = (own, cv2.cvtColor(own, cv2.COLOR_RGB2RGBA), differs)
        self.line_fade = LINE_FADE * frame.mouth_width
        self.mesh: FaceMesh = build_mesh(points, frame, size)
        self.rest_corners = corners = self.mesh.vertices[self.mesh.triangles]  # (T, 3, 2)
        self.rest_area = _twice_area(corners[:, 1:] - corners[:, :1])
        self.rig: Rig = build_rig(
            points,
            frame,
            len(self.mesh.vertices),
            size,
            jaw_moves=not face.mouth_turned,
            chin_closes=chin_closes,
            rests_parted=parted_rest and face.teeth_visible,
            yaw_deg=float(face.pose[1]),
            lips_apart=face.lips_apart,
        )
        box = inside_box(face.landmarks, frame, size) if mouth_box else None
        self.mouth: MouthLayers = build_mouth(face, box, teeth_reach=teeth_reach, small=small)
        # the lips' inner edge as soft as the photo around them and the inside drawn behind it (MouthLayers.softness)
        self.edge_softness = [float(np.hypot(EDGE_SOFTNESS[0], self.mouth.softness))] + [EDGE_SOFTNESS[1]] * 2
        self.teeth_cut = TEETH_CUT * frame.mouth_width
        upper_bases = np.einsum("ij,kjd->kid", self.mesh.upper_extend, self.rig.bases)
        lower_bases = np.einsum("ij,kjd->kid", self.mesh.lower_extend, self.rig.bases)
        # the mesh's, the upper side's and the lower side's bases in one array: one product a frame, not three
        self.bases = np.concatenate([self.rig.bases, upper_bases, lower_bases], axis=1)
        self.bases_flat = self.bases.reshape(len(self.bases), -1)  # (k, 6N): as np.tensordot reshapes it
        self.upper_order = np.argsort(self.mesh.labels == UPPER, kind="stable")
        self.lower_order = np.argsort(self.mesh.labels == LOWER, kind="stable")
        # OpenCV's remap of a float32 image is twice as fast with 4 channels as with 3, for the same values: the
        # layers sampled per frame get a fourth, unused one
        self.eyeball = _four_channels(face.image.astype(np.float32)) if eyes else None
        self.mouth_lower = _four_channels(self.mouth.lower)
        # a turned face's lids: on the eyes of its second fit that are to be seen, not on its rough eye landmarks
        self.lids = _turned_lids(face) if eyes and face.mouth_turned else []
        # (`points` differ from the photo's landmarks only at the mouth: their eyes are the ones stretched above)
        eye_points = face.eye_landmarks if face.mouth_turned else points
        self.eyes: EyeLayers | None = build_eyes(face.image, eye_points) if eyes and eye_points is not None else None
        # each slit's upper and lower chains of mesh vertices, as index arrays, and their rest positions
        self.slit_chains = [
            tuple((np.array(chain), self.mesh.vertices[list(chain)]) for chain in chains) for chains in SLITS
        ]
        self.jaw_spline = spline_matrix(points[JAW])
        self.down = frame.down
        self.jaw_soft, self.jaw_lift = _jaw_margins(face.image, points, frame)
        jaw = self._jaw_curve(points)
        self.jaw_outline = np.concatenate([jaw, jaw[[-1, 0]] + self.jaw_lift]).astype(np.float32)
        self.splines = [  # the mouth's corners round (an open mouth is an oval, not a trapezoid)
            (
                spline_matrix(points[list(upper)], round_ends=i == 0),
                spline_matrix(points[list(lower)], round_ends=i == 0)[::-1],
            )
            for i, (upper, lower) in enumerate(SLITS)
        ]
        # OpenCV's remap is vectorised for 4 channels, not 3: the whole-frame warp samples an RGBA copy, twice
        # as fast for the same RGB values
        self.src_rgba = cv2.cvtColor(self.src, cv2.COLOR_RGB2RGBA)
        self.slit_widths = [float(np.linalg.norm(points[u[0]] - points[u[-1]])) for u, _ in SLITS]
        # the mouth's box reaches as far as its rim's shade: cut off at the box, it drew the box's edge at 1024 px
        self.box_margins = [max(MARGIN, int(np.ceil(RIM_MARGIN * self._shadow_reach(0))))] + [MARGIN] * 2
        self.photo_shade = self._photo_shade(points)
        # the side masks and the photo's lip rim, sampled at the same positions: a float32 remap is as fast with
        # 4 channels as with 1, for the same values
        rim = np.zeros_like(self.mesh.side_upper) if self.photo_shade is None else self.photo_shade[1]
        self.sides = cv2.merge([self.mesh.side_upper, self.mesh.side_lower, rim, np.zeros_like(rim)])
        n = self.mesh.grid_shape[0]
        centres = (np.arange(n) * GRID_STEP + (GRID_STEP - 1) / 2).astype(np.float32)
        self.grid = np.dstack(np.meshgrid(centres, centres))  # (n, n, 2) grid point positions
        # (n, n, 2): the share of the head's motion each grid point follows, once for x and y (contiguous: a
        # broadcast (n, n, 1) runs NumPy's inner loop 2 at a time)
        self.hold = np.repeat(head_hold(frame, self.grid)[..., None], 2, axis=2)
        full = (np.arange(size, dtype=np.float32) - (GRID_STEP - 1) / 2) / GRID_STEP
        self.up_x, self.up_y = (np.ascontiguousarray(a) for a in np.meshgrid(full, full))
        self.pixels = np.dstack(np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)))

    def frame(self, controls: dict[str, float]) -> np.ndarray:
        blink = min(max(float(controls.get("blink", 0.0)), 0.0), 1.0) if self.blinks else 0.0
        # a turned face's rough eye landmarks stay put: its lids are drawn at self.lids
        if self.turned or not self.blinks:
            controls = {**controls, "blink": 0.0}
        coefficients = self.rig.coefficients(controls)
        src, src_rgba = self._sources(coefficients)
        # np.tensordot's own product (its (1, k) by (k, 6N) dot), without its dispatch
        offsets, upper_offsets, lower_offsets = np.split(np.dot(coefficients[None], self.bases_flat).reshape(-1, 2), 3)
        head = self.rig.head_affine(controls)
        inverse_head = cv2.invertAffineTransform(head)
        still = self._still(inverse_head)
        upper = self._maps(upper_offsets, self.upper_order, still)
        moved = self.mesh.vertices + offsets
        outlines = self._face_outlines(moved, head)
        back = None if outlines is None else self._chin_back(outlines)
        seam_blur = self._seam_blur(back)
        field, neck, cells = (
            (upper.grid, None, None)
            if outlines is None
            else self._pin_neck(upper.grid, outlines, still, back, seam_blur)
        )
        extended = _planes(_extended(field))  # x and y apart: OpenCV resizes and remaps one channel faster
        # grid points that sample elsewhere than themselves (a point's x, y compared as one 64-bit word: 20x faster)
        moving = _box_of(field.view(np.uint64)[..., 0] != self.grid.view(np.uint64)[..., 0])
        if moving is None:
            out = src.copy()
        else:  # ... and the pixels whose maps read them: the rest shows the photo as it is
            box = self._pixels_of(moving)
            out = self._photo_around(box, src)
            warped = cv2.remap(
                src_rgba, *self._upsampled(extended, box), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB, dst=out[box])
        if outlines is not None:
            self._mend_seam(out, upper, outlines, neck, cells, still, src_rgba, seam_blur)
        slits = []
        for index, vertices in enumerate(self.mesh.slit_vertices):
            if index > 0 and (blink < BLINK_VISIBLE or self.eyes is None or self.turned):
                continue  # open lids move together: the upper side's warp alone is exact enough there
            box = self._box(moved[vertices], head, self.box_margins[index])
            if box is None:
                continue
            upper_curve, lower_curve = self.splines[index]
            (upper_chain, upper_rest), (lower_chain, lower_rest) = self.slit_chains[index]
            opening = np.concatenate(
                [
                    upper_curve @ (upper_rest + upper_offsets[upper_chain]),
                    lower_curve @ (lower_rest + lower_offsets[lower_chain]),
                ]
            )
            slits.append(_Slit(index, box, opening, cv2.transform(opening[None], head)[0], offsets[JAW_POINT], blink))
        if slits:  # the lower side shows only in the slits' boxes: its maps are needed there alone
            window = self._grid_window([slit.box for slit in slits])
            lower = self._maps(lower_offsets, self.lower_order, still, window)
            for slit in slits:
                upper_maps = _contiguous(self._upsampled(extended, slit.box))
                self._fill_slit(out, slit, upper_maps, lower.at(self, slit.box), inverse_head, src_rgba)
        if blink >= BLINK_VISIBLE and self.eyes is not None:
            for eye, outline in self.lids:
                self._close_turned_lid(out, eye, outline + offsets[EYE_POINTS].mean(0), blink, head, inverse_head)
        return out

    def _close_turned_lid(
        self, out: np.ndarray, eye: int, outline: np.ndarray, blink: float, head: np.ndarray, inverse_head: np.ndarray
    ) -> None:
        """Draw a turned face's lid over eye `eye` (its `outline` in the face frame, moved with the face) into
        `out`: the lid alone, over the eye as the warp left it (the lower lid does not rise)."""
        layers = self.eyes
        reach = float(layers.crease[eye] + max(CORNER_REACH) * layers.width[eye]) + layers.blur_reach + MARGIN
        box = self._box(outline, head, int(np.ceil(reach)))
        if box is None:
            return
        face = out[box].astype(np.float32)
        half = len(outline) // 2
        close_lid(
            face, cv2.transform(self.pixels[box], inverse_head), layers, eye, outline[:half], outline[half:], blink
        )
        face += 0.5
        np.copyto(out[box], np.clip(face, 0, 255, out=face), casting="unsafe")

    def _still(self, inverse_head: np.ndarray) -> np.ndarray:
        """Where each grid point samples the photo with the face at rest: the head's motion on the head, fading to
        none around it (models/render/head_region.py)."""
        still = cv2.transform(self.grid, inverse_head)
        still -= self.grid
        still *= self.hold
        still += self.grid
        return still

    def _pixels_of(self, cells: tuple[slice, slice]) -> tuple[slice, slice]:
        """The output pixels whose upsampled maps read any of the grid points in `cells` (and a few more)."""
        rows, cols = (
            slice(max((part.start - 1) * GRID_STEP, 0), min((part.stop + 1) * GRID_STEP, self.size)) for part in cells
        )
        return rows, cols

    def _photo_around(self, box: tuple[slice, slice], src: np.ndarray) -> np.ndarray:
        """A frame with the photo's pixels (`src`) outside `box` (inside it: not set)."""
        out = np.empty_like(src)
        (y0, y1), (x0, x1) = ((part.start, part.stop) for part in box)
        out[:y0], out[y1:] = src[:y0], src[y1:]
        out[y0:y1, :x0], out[y0:y1, x1:] = src[y0:y1, :x0], src[y0:y1, x1:]
        return out

    def _sources(self, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the warp samples for a frame of rig `coefficients`, RGB and RGBA: the photo with its opening grown
        over, or where that erases the line where its closed lips meet or leaves a mouth's dark corners (`own_mouth`),
        the photo's own mouth or its corners grown over too with the lips closed, fading to the grown-over one as they
        part by LINE_FADE mouth widths."""
        if self.own_mouth is None:
            return self.src, self.src_rgba
        own, own_rgba, box = self.own_mouth
        gap = float(coefficients[1]) + self.rig.photo_gap * (1 - float(coefficients[0]))  # px the lips are apart
        weight = min(max(1 - gap / self.line_fade, 0.0), 1.0)
        if weight >= 1:
            return own, own_rgba
        if weight <= 0:
            return self.src, self.src_rgba
        src, src_rgba = self.src.copy(), self.src_rgba.copy()
        src[box] = cv2.addWeighted(own[box], weight, self.src[box], 1 - weight, 0)
        src_rgba[box] = cv2.cvtColor(src[box], cv2.COLOR_RGB2RGBA)
        return src, src_rgba

    def _upsampled(
        self, extended: np.ndarray, box: tuple[slice, slice], origin: tuple[int, int] = (0, 0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """A field on the coarse grid (its x and y, `extended` by a point on each side, _extended; or the part of it
        from grid point `origin` on) upsampled to the pixels of `box` (x and y), from the grid points around the box
        alone: linear to the frame's edges, where a resize of the field itself holds the last grid point's value
        over half a step (the outer pixels smeared). One channel at a time: OpenCV's resize of a two-channel float
        image is 1.6x slower than two of one. A resize, not a remap at each pixel's grid position: 10x faster."""
        start, stop = [], []
        for part in box:  # the extended grid's points from the one before the box's first pixel to the one after
            start.append(int(np.floor((part.start - (GRID_STEP - 1) / 2) / GRID_STEP)) + 1)
            stop.append(int(np.floor((part.stop - 1 - (GRID_STEP - 1) / 2) / GRID_STEP)) + 3)
        size = ((stop[1] - start[1]) * GRID_STEP, (stop[0] - start[0]) * GRID_STEP)
        y0, x0 = ((s - 1) * GRID_STEP for s in start)  # the output pixel of the resize's first
        rows, cols = (slice(part.start - s, part.stop - s) for part, s in zip(box, (y0, x0), strict=True))
        (r0, r1), (c0, c1) = ((a - o, b - o) for a, b, o in zip(start, stop, origin, strict=True))
        x, y = (cv2.resize(plane[r0:r1, c0:c1], size, interpolation=cv2.INTER_LINEAR)[rows, cols] for plane in extended)
        return x, y

    def _grid_window(self, boxes: list[tuple[slice, slice]]) -> tuple[slice, slice]:
        """The coarse grid points that upsampling reads for the output pixels of `boxes` (_Maps.at)."""
        n = self.mesh.grid_shape[0]
        rows = [np.floor(self.up_y[(box[0].start, box[0].stop - 1), 0]) for box in boxes]
        cols = [np.floor(self.up_x[0, (box[1].start, box[1].stop - 1)]) for box in boxes]
        r0, r1 = int(max(min(r[0] for r in rows), 0)), int(min(max(r[1] for r in rows) + 2, n))
        c0, c1 = int(max(min(c[0] for c in cols), 0)), int(min(max(c[1] for c in cols) + 2, n))
        return slice(r0, r1), slice(c0, c1)

    def _maps(
        self,
        offsets: np.ndarray,
        order: np.ndarray,
        still: np.ndarray,
        window: tuple[slice, slice] | None = None,
    ) -> _Maps:
        """Photo position sampled by each output grid point (those of `window`, default all): the exact inverse
        of the piecewise-affine mesh warp (moved triangles rasterised on the grid, this side's own triangles last
        so they win where folds overlap), then composed with the head's motion (`still`, _still)."""
        m = self.mesh
        head_grid = still if window is None else still[window]
        at = (head_grid - (GRID_STEP - 1) / 2) / GRID_STEP  # where each samples the face-frame grid
        # the face-frame grid points those samples read (bilinear: the point below and the next)
        n = m.grid_shape[0]
        if window is None:
            r0, r1, c0, c1 = 0, n, 0, n
        else:
            r0, c0 = (max(int(np.floor(at[..., k].min())), 0) for k in (1, 0))
            r1, c1 = (min(int(np.floor(at[..., k].max())) + 2, n) for k in (1, 0))
            if r1 <= r0 or c1 <= c0:  # all outside the photo's grid: nothing moves there
                return _Maps(head_grid, (window[0].start, window[1].start))
        face_grid = self.grid[r0:r1, c0:c1]
        moved = m.vertices + offsets
        corners = moved[m.triangles]  # (T, 3, 2)
        edges = corners[:, 1:] - corners[:, :1]
        twice = _twice_area(edges)
        area = np.abs(twice)
        ids = np.full(m.grid_shape, -1, np.int32)  # the whole grid: OpenCV clips a polygon at the image's edge
        on_grid = np.round((corners - (GRID_STEP - 1) / 2) / GRID_STEP * 16).astype(np.int32)
        changed = np.abs(offsets).max(1) > 1e-2
        draw = (area >= 1e-3) & changed[m.triangles].any(1)  # not degenerate (a closed slit), and moved
        if window is not None:  # triangles that miss the part (by a grid step: rounding) need not be drawn
            low, high = on_grid.min(1) // 16 - 1, on_grid.max(1) // 16 + 1
            draw &= (high[:, 0] >= c0) & (high[:, 1] >= r0) & (low[:, 0] < c1) & (low[:, 1] < r1)
        drawn = order[draw[order]]
        for triangle, t in zip(on_grid[drawn], drawn.tolist(), strict=True):
            cv2.fillConvexPoly(ids, triangle, t, cv2.LINE_8, 4)  # positional: keywords cost 0.3 us a call
        ids = ids[r0:r1, c0:c1]
        affines = np.empty((len(corners) + 1, 3, 2), np.float32)  # the identity last, for ids of -1
        affines[-1] = _IDENTITY
        if len(drawn):
            affines[drawn] = _affines(corners[drawn], self.rest_corners[drawn])
        # One affine per grid point, the identity (last) where no moved triangle lies: the photo stays put
        # there, so only the box around the drawn triangles is computed. x and y apart: OpenCV remaps one
        # channel of float faster than two (and in float, where two go through fixed point).
        local = np.zeros((2, r1 - r0, c1 - c0), np.float32)  # how far each samples from itself, x and y
        part = _box_of(ids >= 0)
        if part is not None:
            # one row per coefficient (contiguous), not (n, 6) columns: twice as fast
            at_ids = ids[part].ravel()
            a = np.take(affines.reshape(-1, 6).T, at_ids, axis=1)
            x, y = face_grid[part].reshape(-1, 2).T
            shape = local[0][part].shape
            back = x * a[0] + y * a[2] + a[4] - x, x * a[1] + y * a[3] + a[5] - y
            # moved area over rest area below SQUEEZED (folded: negative), whichever way the triangle turns at rest,
            # or squeezed as much along any one direction: a triangle that is flat at rest (the photo's closed
            # mouth) and opened a little has no area to compare, and its inverse stretched 55-fold (a light speck on
            # Grace Hopper's pressed lips, read 112 px away)
            rest = self.rest_area[drawn]
            squeezed = drawn[
                (twice[drawn] * rest < SQUEEZED * rest * rest) | (_stretch(affines[drawn, :2]) > 1 / SQUEEZED**2)
            ]
            if len(squeezed):
                _hold_folds(back, at_ids, squeezed, -offsets[m.triangles[squeezed]], len(affines))
            local[0][part], local[1][part] = (plane.reshape(shape) for plane in back)
        if (r0, c0) != (0, 0):
            at = at - np.array([c0, r0], np.float32)
        sampled = cv2.merge([cv2.remap(plane, at, None, cv2.INTER_LINEAR) for plane in local])  # 0 beyond
        sampled += head_grid
        return _Maps(sampled, (0, 0) if window is None else (window[0].start, window[1].start))

    def _face_outlines(self, moved: np.ndarray, head: np.ndarray) -> _Outlines | None:
        """The face's outline now, the part of the photo's it still covers and the photo's, in output pixels (the
        polygon of its jaw landmarks now: _jaw_polygon, on the path that needs it alone); None while the jaw is where
        it was. The face covers the photo's outline where the jaw dropped or moved aside, and its own where it rose (a
        closing mouth lifts the chin): the neck shows in the band it left."""
        jaw = self._jaw_curve(moved)
        photo = self.jaw_outline[: len(jaw)]
        apart = jaw - photo
        if np.abs(apart)[JAW_MOVES].max() < 0.1:
            return None
        rose = apart @ self.down < -0.1
        curves = np.stack([jaw, np.where(rose[:, None], jaw, photo)])  # the outline now, the part held
        shapes = np.concatenate([curves, curves[:, [-1, 0]] + self.jaw_lift], 1).astype(np.float32)
        # one transform of the three outlines (each point on its own: the same values as three calls)
        now, held, photo_now = cv2.transform(np.concatenate([shapes, self.jaw_outline[None]]), head)
        return _Outlines(now, held, photo_now, jaw, moved[JAW], head)

    def _jaw_polygon(self, outlines: _Outlines) -> np.ndarray:
        """The polygon of the jaw landmarks now (the mesh's own edges, inside the margins: jaw_soft), closed above
        the brows as the outlines are, in output pixels."""
        landmarks = outlines.landmarks
        polygon = np.concatenate([landmarks, landmarks[[-1, 0]] + self.jaw_lift])[None].astype(np.float32)
        return cv2.transform(polygon, outlines.head)[0]

    def _jaw_curve(self, points: np.ndarray) -> np.ndarray:
        """The jaw's outline (a spline through the jaw landmarks of `points`, the photo's or moved ones, held its
        margins out: jaw_soft) in pixels, before the head's motion."""
        return self.jaw_spline @ points[JAW] + self.jaw_soft

    def _chin_back(self, outlines: _Outlines) -> np.ndarray | None:
        """(k, 2) px: how far back to the photo's outline each point of the jaw outline has moved (the `outlines`'
        own curve before the head's motion, _face_outlines), on a face whose margin moves with it (`neck_softness`;
        None on others)."""
        if self.neck_softness is None:
            return None
        jaw = outlines.jaw
        return self.jaw_outline[: len(jaw)] - jaw

    def _chin_drop(self, back: np.ndarray | None) -> float:
        """px the chin has dropped below the photo's outline (0 where it has not, or `back` is None: _chin_back)."""
        return 0.0 if back is None else max(-float((back[JAW_MOVES] @ self.down).min()), 0.0)

    def _seam_blur(self, back: np.ndarray | None) -> float:
        """px: the blur of the chin's edge over the neck now: as many px as the chin has dropped below the photo's
        outline (_chin_drop of its motion `back`), up to `seam_softness`. A chin that has not dropped (lips pressed:
        it rises) keeps its edge as it was: blurred in full as soon as it dropped a little, a small man's pressed lips
        read apart a pixel more often (dlib at one pixel's steps: closed on 0.95 of his p/b/m, not all)."""
        blur = min(self._chin_drop(back), self.seam_softness)
        return blur if blur >= SEAM_MIN_BLUR else 0.0

    def _pin_neck(
        self,
        grid: np.ndarray,
        outlines: _Outlines,
        still: np.ndarray,
        back: np.ndarray | None = None,
        blur: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The face field inside the face (the first two `outlines`, _face_outlines); outside it, the photo as
        the head alone moves it: the warp's stretch there (a dropped chin pulls the neck and the collar down) is
        dropped, so the chin slides over the neck. In and below the band a rising chin left inside the photo's
        outline, that neck field eases into the face's (_eased_neck, returned; None where there is no such
        band); under the dropped chin of a face with `neck_softness` (its jaw outline's motion `back`, _chin_back: a
        small one, or one whose chin lies near the frame's bottom edge), it follows the chin near it (_dragged_neck,
        returned), and the face's margin moves with the outline (on the `grid` itself). Also the (N, 2) x, y grid
        cells (of the 2x2 grid points from x, y on) with corners on both sides of the face's edge where the two fields
        differ: upsampling blends the two sides' positions there; with a `blur` of the edge (_seam_blur), those within
        twice it of the edge too."""
        inside = np.zeros(grid.shape[:2], np.uint8)  # the two outlines filled in turn: their union
        for shape in (outlines.now, outlines.held):
            _fill_on_grid(inside, shape)
        still = still.copy()  # _eased_neck eases it in place
        lift = float(np.linalg.norm(outlines.photo - outlines.held, axis=1).max()) / GRID_STEP  # grid steps
        eased = None
        if lift >= 0.1:  # else no band (_eased_neck): the photo's outline need not be drawn
            left = cv2.subtract(_fill_on_grid(np.zeros_like(inside), outlines.photo), inside)  # 1 - 1 saturates at 0
            eased = self._eased_neck(grid, inside, left, still, lift)
        elif back is not None and self._chin_drop(back) >= 0.1 * GRID_STEP:
            eased = self._dragged_neck(inside, still, outlines.now[: len(back)], back)
            # and so does the face outside its jaw landmarks' polygon, in `grid` itself (the exact field, which
            # _mend_seam samples too): the mesh's triangles from the landmarks to the still neck squeezed the
            # margins below the jaw line (jaw_soft) into a hard edge (where the neck anchors are held inside the
            # frame, far more), and beyond the outline the chin's blurred edge (_seam_blur) drew what they squeezed,
            # a light rim over a dark collar
            cv2.copyTo(eased, 1 - _fill_on_grid(np.zeros_like(inside), self._jaw_polygon(outlines)), grid)
        neck = still if eased is None else eased
        difference = cv2.absdiff(grid, neck)
        # x or y moves more than 0.25: a grid point's two bools read as one uint16, 3x faster than a max of the two
        moves = (difference > 0.25).view(np.uint16)[..., 0].astype(bool).view(np.uint8)
        # at each grid point, the largest and smallest of its cell's corners (the last row and column start none)
        high, low = cv2.dilate(inside, _CORNERS, anchor=(0, 0)), cv2.erode(inside, _CORNERS, anchor=(0, 0))
        edge = high ^ low
        if blur:  # a blurred edge reaches this many grid cells either side of it
            reach = 2 * int(np.ceil(2 * blur / GRID_STEP)) + 1
            edge = cv2.dilate(edge, np.ones((reach, reach), np.uint8))
        cells = cv2.findNonZero((cv2.dilate(moves, _CORNERS, anchor=(0, 0)) & edge)[:-1, :-1])
        cells = np.zeros((0, 2), np.int32) if cells is None else cells.reshape(-1, 2)
        return cv2.copyTo(grid, inside, neck), eased, cells

    @staticmethod
    def _eased_neck(
        grid: np.ndarray, inside: np.ndarray, left: np.ndarray, still: np.ndarray, lift: float
    ) -> np.ndarray | None:
        """The neck's field (`still`) blended towards the face's (`grid`) near the band `left` that a chin
        rising by up to `lift` grid steps left inside the photo's outline: fully at the face's edge, not at all
        twice the lift below it or that far beside the band. Continuous, so no edge runs along the photo's old
        outline (the still neck there met the face field's stretch: a straight dark band under the chin, with
        bright specks), and slower than the lift, so it folds nothing: the shadow under the chin rises with it,
        stretched. Only the box around the band and that reach is computed, in `still` itself (the caller's
        own copy, _pin_neck, which calls it for a lift of 0.1 grid steps or more); None without a band."""
        box = _box_of(left)
        if box is None:
            return None
        reach = 2 * lift + 1
        pad = int(np.ceil(reach)) + 1
        rows = slice(max(box[0].start - pad, 0), box[0].stop + pad)
        cols = slice(max(box[1].start - pad, 0), box[1].stop + pad)
        depth = cv2.distanceTransform(1 - inside[rows, cols], cv2.DIST_L2, 3)  # grid steps from the face
        beside = cv2.distanceTransform(1 - left[rows, cols], cv2.DIST_L2, 3)
        # the first factor lies in [0, 1] as it is (depth >= 0), the second only needs its floor: np.clip is slow
        weight = (1 - np.minimum(depth, reach) / reach) * np.maximum(1 - beside / reach, 0)
        neck = still  # the caller's own copy (_pin_neck): eased in place, in the box alone
        neck[rows, cols] += cv2.merge([weight, weight]) * (grid[rows, cols] - still[rows, cols])
        return neck

    def _dragged_neck(self, inside: np.ndarray, still: np.ndarray, jaw: np.ndarray, back: np.ndarray) -> np.ndarray:
        """The neck's field (`still`, the caller's own copy: moved in place) under a dropped chin (a face with
        `neck_softness`: a small one, or one whose neck anchors the mesh holds inside the frame): each
        grid point moved as the nearest point of the jaw's outline (`jaw`, in output pixels) has moved (`back`: the
        way back to where it was, _chin_back), in full within NECK_HOLD softnesses of the face (`inside`, the grid's
        face mask), less and less over NECK_EASE drops beyond. The photo's soft edge and the shadow under the chin
        move down with it; what lies further down is squeezed where it is eased back (to two thirds of its length
        over a reach of twice the drop), and nothing folds. The outline is drawn on a grid with room around it, for a
        chin dropped past the frame's edge; each point takes its motion from the outline, not from the face's field
        at the nearest grid point inside: that changes across the margin's width (the mesh squeezes it) and stepped
        along the grid's rows and columns (a jagged chin over a dark collar)."""
        drop = self._chin_drop(back) / GRID_STEP
        hold = NECK_HOLD * self.neck_softness / GRID_STEP
        reach = NECK_EASE * drop + 1
        pad = int(np.ceil(hold + reach))
        n = len(still)
        on_grid = (jaw - (GRID_STEP - 1) / 2) / GRID_STEP + pad
        curve = np.ones((n + 2 * pad, n + 2 * pad), np.uint8)  # the outline at 0, for the distance transform
        cv2.polylines(curve, [np.round(on_grid * 16).astype(np.int32)], False, 0, 1, cv2.LINE_8, 4)
        _, nearest = cv2.distanceTransformWithLabels(curve, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
        drawn = cv2.findNonZero(1 - curve).reshape(-1, 2)  # x, y, row-major: as the labels count them (from 1)
        # each one's outline point: the nearest by squared distance in float64, x and y apart (contiguous planes,
        # the same sums as over a trailing axis of 2, 4x faster)
        dx, dy = (drawn[:, k, None] - on_grid[None, :, k] for k in (0, 1))
        dx *= dx
        dy *= dy
        dx += dy
        closest = np.argmin(dx, axis=1)
        # each label's motion (labels count from 1; a label 0, which no point gets, reads the last as it did), taken
        # along the rows: np.take, 15x faster than indexing by the (n, n) labels
        table = back[np.concatenate([closest[-1:], closest])]
        moves = np.take(table, nearest[pad : pad + n, pad : pad + n], axis=0)
        depth = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3)  # grid steps from the face
        weight = _clip(1 - (depth - hold) / reach, 0, 1)
        moves *= cv2.merge([weight, weight])  # a broadcast (n, n, 1) runs NumPy's inner loop 2 at a time
        still += moves
        return still

    def _mend_seam(
        self,
        out: np.ndarray,
        exact: _Maps,
        outlines: _Outlines,
        eased: np.ndarray | None,
        cells: np.ndarray,
        still: np.ndarray,
        src_rgba: np.ndarray,
        blur: float = 0.0,
    ) -> None:
        """Redraw the pixels of the grid `cells` (_pin_neck): the face (exact field) over the neck (the head's
        motion alone, `still`, or the `eased` field), anti-aliased along the face's edge (the first two `outlines`),
        or blurred by `blur` px (a small face's dropped chin, _seam_blur), sampling `src_rgba`."""
        if len(cells) == 0:
            return
        seam = (cells[:, None] * GRID_STEP + _CELL).reshape(-1, 2)  # x, y pixels
        x0, y0 = cells.min(0) * GRID_STEP + GRID_STEP // 2 - 1  # the seam's box and a pixel around it
        x1, y1 = cells.max(0) * GRID_STEP + GRID_STEP // 2 + GRID_STEP + 1
        pad = _blur_radius(blur) if blur else 0  # the face beyond the box blurs in
        face = np.zeros((y1 - y0 + 2 * pad, x1 - x0 + 2 * pad), np.uint8)
        for outline in (outlines.now, outlines.held):
            cv2.fillPoly(face, [np.round((outline - [x0 - pad, y0 - pad]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        if blur:
            face = cv2.GaussianBlur(face.astype(np.float32), (0, 0), blur)[pad:-pad, pad:-pad]
        else:
            face = cv2.blur(face, (3, 3))
        in_box = (seam[:, 1] - y0) * (x1 - x0) + seam[:, 0] - x0  # flat indices: one gather, not two
        # a row of pixels per cell: OpenCV remaps maps under 32767 px a side (one row of a small face's seam at
        # 1024 px, blurred, was longer)
        keep = face.ravel()[in_box].astype(np.float32).reshape(len(cells), -1) / 255
        pixels = seam.astype(np.float32).reshape(len(cells), -1, 2)
        on_grid = (pixels - (GRID_STEP - 1) / 2) / GRID_STEP
        at = cv2.remap(exact.grid, on_grid, None, cv2.INTER_LINEAR)
        neck = cv2.remap(still if eased is None else eased, on_grid, None, cv2.INTER_LINEAR)
        face_rgb, neck_rgb = (
            cv2.cvtColor(
                cv2.remap(src_rgba, m, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), cv2.COLOR_RGBA2RGB
            ).astype(np.float32)
            for m in (at, neck)
        )
        face_rgb -= neck_rgb
        face_rgb *= over_channels(keep)
        face_rgb += neck_rgb + 0.5  # rounded: truncated, a pixel inside the face read a level under its own
        blend = face_rgb.reshape(-1, 3).astype(np.uint8)
        out.reshape(-1, 3)[seam[:, 1] * self.size + seam[:, 0]] = blend  # flat indices: one scatter, not two

    def _shadow_reach(self, index: int) -> float:
        return SHADOW_REACH[min(index, 1)] * self.slit_widths[index]

    def _photo_shade(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The light left behind the photo's own mouth opening and the darkening of its lips' rim (as
        `_fill_slit` shades an opening), over the photo; None when its lips are closed. The photo's lips and teeth
        show that shade already: the renderer adds only what a wider or narrower opening changes."""
        upper, lower = self.splines[0]
        chains = [points[list(chain)] for chain in SLITS[0]]
        behind = _opening_mask(np.concatenate([upper @ chains[0], lower @ chains[1]]), (self.size, self.size))
        if behind.max() < 0.5:
            return None
        shade = _blur(behind, self._shadow_reach(0))
        return _light(shade), _rim(shade, _blur(behind, self.edge_softness[0]))

    def _box(self, points: np.ndarray, head: np.ndarray, margin: int = MARGIN) -> tuple[slice, slice] | None:
        out = cv2.transform(points[None], head)[0]
        x0, y0 = np.floor(out.min(0)).astype(int) - margin
        x1, y1 = np.ceil(out.max(0)).astype(int) + margin
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.size), min(y1, self.size)
        return (slice(y0, y1), slice(x0, x1)) if x1 > x0 and y1 > y0 else None

    def _fill_slit(
        self,
        out: np.ndarray,
        slit: _Slit,
        upper: tuple[np.ndarray, np.ndarray],
        lower: tuple[np.ndarray, np.ndarray],
        inverse_head: np.ndarray,
        src_rgba: np.ndarray,
    ) -> None:
        """Inside `slit.box` (whose pixels sample the photo, `src_rgba`, at `upper` and `lower`, x and y, on the two
        sides): the lower side where it covers, and what shows through the opening.

        Per-pixel factors are computed on one channel and spread over the three (`_wide`) before they scale
        colours: NumPy broadcasting (h, w, 1) over (h, w, 3) runs an inner loop of 3, several times slower."""
        box = slit.box
        # Beyond the photo's edge (a head turned near it) the sides go on as they end: never a black hole.
        edge = cv2.BORDER_REPLICATE
        # the side masks and the photo's lip rim sampled at once on each side (`sides`; views: cv2.split costs more
        # than the remap)
        sides_upper, sides_lower = (
            cv2.remap(self.sides, *at, cv2.INTER_LINEAR, borderMode=edge) for at in (upper, lower)
        )
        cover_upper, rim_upper = sides_upper[..., 0], sides_upper[..., 2]
        cover_lower, rim_lower = sides_lower[..., 1], sides_lower[..., 2]
        # from the RGBA copy, as the whole frame (4 channels are vectorised), then made contiguous RGB: both faster
        # than a 3-channel remap, and a strided view's float conversion is slower than either
        lower_rgb = cv2.cvtColor(cv2.remap(src_rgba, *lower, cv2.INTER_LINEAR, borderMode=edge), cv2.COLOR_RGBA2RGB)
        # The opening is drawn from the moved lip (lid) outlines, anti-aliased in the output: sampling the
        # photo's side masks would blur the edge wherever the warp stretches a closed slit open.
        corner = np.array([box[1].start, box[0].start], np.float32)
        shape = lower_rgb.shape[:2]
        mask = _opening_pixels(slit.opening - corner, shape)
        reach = self._shadow_reach(slit.index)
        softness = self.edge_softness[slit.index]
        # Its blurs are zero farther than their kernels reach from the opening: they are computed (the same
        # values) only around it, and what shows through only where the soft edge is not zero. A closed slit
        # (nothing drawn) shows nothing through.
        opening = _box_of(mask)
        if opening is not None:  # `lit`: where the blurs reach, `seen`: where the soft edge does (both in the box)
            lit = _grown(opening, max(_blur_radius(reach), _blur_radius(softness)) + 1, shape)
            seen = _grown(opening, _blur_radius(softness) + 1, shape)
            soft = mask[lit].astype(np.float32) / 255
            # What lies behind is shaded by the lips (lids) around it: darkest in the narrow corners.
            shade = _blur(soft, reach)
            behind = _blur(soft, softness)
            in_lit = tuple(slice(a.start - b.start, a.stop - b.start) for a, b in zip(seen, lit, strict=True))
            # where neither side covers (the slit's own triangles) the face is black: what shows through fills it,
            # and as softly as the edge (under a soft photo's lips' edge, not yet whole there, the black showed as a
            # crisp dark line inside the opening)
            empty = (cover_upper[seen] + cover_lower[seen] < EMPTY).astype(np.float32)
            behind_seen = np.maximum(behind[in_lit], np.maximum(_blur(empty, softness), empty))
            shade_seen, behind_seen = shade[in_lit], over_channels(behind_seen)
        scale = 1 / (cover_upper + cover_lower + 1e-6)
        if slit.index == 0:  # the lips curl in at their inner edge: a shaded rim gives them volume
            rim = np.zeros_like(scale)
            if opening is not None:
                rim[lit] = _rim(shade, behind)
            if self.photo_shade is not None:  # ... which the photo's lips show already next to its own opening
                for cover, photo_rim in ((cover_upper, rim_upper), (cover_lower, rim_lower)):  # where lips come from
                    rim -= cover * scale * photo_rim
            scale *= 1 - LIP_RIM * _clip(rim, 0, 1)
        # float32 first: NumPy mixes uint8 and a broadcast float32 through buffered copies, 1.5x slower
        face, lower_rgb = out[box].astype(np.float32), lower_rgb.astype(np.float32)
        # (cover_upper * scale) * upper_rgb + (cover_lower * scale) * lower_rgb
        face *= over_channels(cover_upper * scale)
        lower_rgb *= over_channels(cover_lower * scale)
        face += lower_rgb
        if slit.index == 0:
            if opening is not None:
                self._show_mouth(face, slit, seen, shade_seen, behind_seen, inverse_head)
        else:
            rigid = cv2.transform(self.pixels[box], inverse_head)  # face-frame position of each pixel
            if opening is not None:
                light = _light(shade_seen)  # the photo's eye has its own shading: only a closing lid adds its shadow
                light = 1 - min(slit.blink / LID_SHADOW_FULL, 1.0) * (1 - light)
                inside = cv2.remap(self.eyeball, rigid[seen], None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                inside = cv2.cvtColor(inside, cv2.COLOR_RGBA2RGB)
                inside *= over_channels(light)
                _blend_in(face[seen], inside, behind_seen)
            half = len(slit.outline) // 2
            close_lid(face, rigid, self.eyes, slit.index - 1, slit.outline[:half], slit.outline[half:], slit.blink)
        face += 0.5  # rounded: truncated, the box read 1 level darker
        np.copyto(out[box], _clip(face, 0, 255, out=face), casting="unsafe")

    def _show_mouth(
        self,
        face: np.ndarray,
        slit: _Slit,
        seen: tuple[slice, slice],
        shade: np.ndarray,
        behind: np.ndarray,
        inverse_head: np.ndarray,
    ) -> None:
        """Blend what shows through the mouth's opening into `face` (its box's float pixels) inside `seen` (the
        part of the box that `shade`, one channel, and `behind`, three, cover): the upper teeth stay with the
        skull, the lower teeth and tongue ride on the jaw."""
        box = tuple(slice(b.start + p.start, b.start + p.stop) for b, p in zip(slit.box, seen, strict=True))
        rigid = cv2.transform(self.pixels[box], inverse_head)  # face-frame position of each pixel
        light = _light(shade)
        teeth_light = light
        if self.photo_shade is not None and self.mouth.own_teeth:
            # the photo's teeth are shaded already: only a narrower opening adds shade, and little of it (they are
            # lit from the front: lips closing over them hide them more than they darken them)
            own_light = cv2.remap(self.photo_shade[0], rigid, None, cv2.INTER_LINEAR)
            teeth_light = _clip(light / np.maximum(own_light, 1e-3), OWN_TEETH_LIGHT, 1)
        at = rigid - self.mouth.corner  # in the layers' own pixels
        inside = cv2.remap(self.mouth_lower, at - slit.jaw, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.cvtColor(inside, cv2.COLOR_RGBA2RGB)
        inside *= over_channels(light)
        # the jaw opened past the photo's opening shows its own teeth ending at their edge (MouthLayers.opened)
        cut = 0.0 if self.mouth.opened is None else min(max(float(slit.jaw @ self.down) / self.teeth_cut, 0.0), 1.0)
        teeth = cv2.remap(self.mouth.upper if cut < 1 else self.mouth.opened, at, None, cv2.INTER_LINEAR)
        if 0 < cut < 1:
            opened = cv2.remap(self.mouth.opened, at, None, cv2.INTER_LINEAR)
            teeth = cv2.addWeighted(opened, cut, teeth, 1 - cut, 0)
        # inside += teeth alpha * (teeth rgb * teeth_light - inside), without the temporaries
        over = cv2.cvtColor(teeth, cv2.COLOR_RGBA2RGB)
        if not self.mouth.own_teeth:  # drawn teeth, shaded, take the hue the mouth's red inside bounces onto them
            over *= np.exp(np.multiply.outer(SHADE_BOUNCE * (1 - teeth_light), self.mouth.bounce))
        over *= over_channels(teeth_light)
        over -= inside
        over *= over_channels(teeth[..., 3])
        inside += over
        _blend_in(face[seen], inside, behind)


def _affines(corners: np.ndarray, to: np.ndarray) -> np.ndarray:
    """(n, 3, 2) affines A with [x, y, 1] @ A = `to` at each of the (n, 3, 2) triangles' `corners` (none
    degenerate). In closed form: 1.5x faster than `np.linalg.solve` on the stacked 3x3 systems, as accurate."""
    edges, ends = corners[:, 1:] - corners[:, :1], to[:, 1:] - to[:, :1]  # (n, 2, 2) from each first corner
    det = _twice_area(edges)
    adjugate = np.empty_like(edges)
    adjugate[:, 0, 0], adjugate[:, 0, 1] = edges[:, 1, 1], -edges[:, 0, 1]
    adjugate[:, 1, 0], adjugate[:, 1, 1] = -edges[:, 1, 0], edges[:, 0, 0]
    out = np.empty_like(to)
    out[:, :2] = adjugate @ ends
    out[:, :2] /= det[:, None, None]
    out[:, 2] = to[:, 0] - (corners[:, :1] @ out[:, :2])[:, 0]
    return out


def _twice_area(edges: np.ndarray) -> np.ndarray:
    """Twice the signed areas of triangles given as (n, 2, 2) edges from each one's first corner: their
    determinants."""
    return edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]


def _stretch(linear: np.ndarray) -> np.ndarray:
    """The square of the most that each of the (n, 2, 2) linear maps stretches any direction (its largest
    singular value), in closed form."""
    squares = np.square(linear).sum((1, 2))
    det = linear[:, 0, 0] * linear[:, 1, 1] - linear[:, 0, 1] * linear[:, 1, 0]
    return (squares + np.sqrt(np.maximum(squares * squares - 4 * det * det, 0))) / 2


def _hold_folds(
    back: tuple[np.ndarray, np.ndarray], ids: np.ndarray, squeezed: np.ndarray, moves: np.ndarray, n: int
) -> None:
    """Hold the x and y motion `back` of grid points in triangles `ids` (of `n`) within FOLD_REACH of their
    triangle's corners' motion (`moves`: (k, 3, 2), back to the photo) where that triangle is one of `squeezed`,
    in place.

    Inside a moved triangle a point moves back by a mix of its corners' motion. The raster takes in points up to a
    grid step outside it too, where the inverse of a squeezed triangle (pressed lips fold the slit's inside flat)
    reaches far: such a point read the hair or the collar, a speck on the lips."""
    bounds = np.empty((4, n), np.float32)  # least x, y and most x, y motion of each squeezed triangle
    bounds[:2, squeezed], bounds[2:, squeezed] = (moves.min(1) - FOLD_REACH).T, (moves.max(1) + FOLD_REACH).T
    flagged = np.zeros(n, bool)
    flagged[squeezed] = True
    at = np.flatnonzero(flagged[ids])
    low, high = np.take(bounds, ids[at], axis=1).reshape(2, 2, -1)
    for k, plane in enumerate(back):
        plane[at] = _clip(plane[at], low[k], high[k])


def _clip(values: np.ndarray, low: float, high: float, out: np.ndarray | None = None) -> np.ndarray:
    """np.clip's values with two ufunc calls: np.clip's own dispatch costs several microseconds a call."""
    return np.minimum(np.maximum(values, low, out=out), high, out=out)


def _contiguous(maps: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`maps` (x, y) as contiguous arrays: OpenCV remaps a mouth-sized box 1.3x faster from contiguous maps than
    from views into larger ones, and the copy costs far less (the whole frame's maps are as fast either way)."""
    return np.ascontiguousarray(maps[0]), np.ascontiguousarray(maps[1])


def _planes(field: np.ndarray) -> np.ndarray:
    """The (h, w, 2) `field`'s x and y apart, (2, h, w) contiguous (NumPy's copy: twice as fast as cv2.split)."""
    return np.ascontiguousarray(field.transpose(2, 0, 1))


def _four_channels(image: np.ndarray) -> np.ndarray:
    """The (h, w, 3) `image` with a fourth channel of zeros."""
    return np.dstack([image, np.zeros(image.shape[:2], image.dtype)])


def _blend_in(face: np.ndarray, inside: np.ndarray, behind: np.ndarray) -> None:
    """face += behind * (inside - face), in place (`inside` is used up)."""
    inside -= face
    inside *= behind
    face += inside


def _blur_radius(sigma: float) -> int:
    """How far _blur with `sigma` reaches: 3 sigmas (OpenCV's own choice for float images, 4, costs a third more
    for the wide shade and adds under 0.3 % of the weight), and at least 3 px: the lips' soft edge keeps the 7 taps
    OpenCV gives it."""
    return max(int(np.ceil(3 * sigma)), 3)


def _blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of the float32 `mask` with `sigma`, reaching _blur_radius."""
    reach = 2 * _blur_radius(sigma) + 1
    return cv2.GaussianBlur(mask, (reach, reach), sigma)


def _grown(box: tuple[slice, slice], by: int, shape: tuple[int, int]) -> tuple[slice, slice]:
    """`box` grown by `by` pixels on each side, within an array of `shape`."""
    return tuple(slice(max(part.start - by, 0), min(part.stop + by, n)) for part, n in zip(box, shape, strict=True))


def _extended(field: np.ndarray) -> np.ndarray:
    """The coarse grid's `field` with one more point on each side, continued linearly."""
    edge = cv2.copyMakeBorder(field, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    edge *= 2
    edge -= cv2.copyMakeBorder(field, 1, 1, 1, 1, cv2.BORDER_REFLECT_101)  # 2 f[0] - f[1] beyond, f inside
    return edge


def _fill_on_grid(mask: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """`mask` (the coarse grid) with 1 at the grid points inside `outline` (output pixels), returned. Filled at the
    pixels' resolution and read at the grid points: OpenCV's fill takes in points up to 0.73 of its own pixels
    outside an outline, which on the grid itself was up to 3 px, and the face's field there drew its edge a grid
    step out where the edge ran along a grid row (a stepped chin over the collar)."""
    on_grid = (outline - (GRID_STEP - 1) / 2) / GRID_STEP
    low = np.maximum(np.floor(on_grid.min(0)).astype(int), 0)
    high = np.minimum(np.ceil(on_grid.max(0)).astype(int) + 1, mask.shape[::-1])
    if np.any(high <= low):
        return mask
    fine = np.zeros(((high[1] - low[1]) * GRID_STEP, (high[0] - low[0]) * GRID_STEP), np.uint8)
    cv2.fillPoly(fine, [np.round((on_grid - low) * GRID_STEP * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    mask[low[1] : high[1], low[0] : high[0]] |= fine[::GRID_STEP, ::GRID_STEP]
    return mask


def _opening_mask(opening: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) float32, 1 inside the `opening` outline (pixels of a box of `shape`), anti-aliased; a closed
    opening leaves nothing (no seam of teeth between closed lips)."""
    return _opening_pixels(opening, shape).astype(np.float32) / 255


def _opening_pixels(opening: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """_opening_mask in uint8, 255 for 1: each pixel's share of the opening less a band of 0.375 px either side of
    its outline (OPENING_EDGE), counted on a grid OPENING_SAMPLES times finer. Lips (lids) that meet, or whose
    outline crosses itself by up to 0.75 px, leave nothing. OpenCV's anti-aliased fill drew half a pixel's worth
    along any outline, closed or not, and its anti-aliased outline in black took off only part of it: a grey line
    between pressed lips."""
    behind = np.zeros(shape, np.uint8)
    low = np.maximum(np.floor(opening.min(0)).astype(int) - 1, 0)
    high = np.minimum(np.ceil(opening.max(0)).astype(int) + 2, shape[::-1])
    if np.any(high <= low):
        return behind
    n = OPENING_SAMPLES
    fine = np.zeros(((high[1] - low[1]) * n, (high[0] - low[0]) * n), np.uint8)
    # a pixel's centre is its own position: the fine pixels of pixel i are n i .. n i + n - 1
    outline = [np.round(((opening - low + 0.5) * n - 0.5) * 16).astype(np.int32)]
    cv2.fillPoly(fine, outline, 255, cv2.LINE_8, 4)
    cv2.polylines(fine, outline, True, 0, OPENING_EDGE, cv2.LINE_8, 4)
    counted = cv2.resize(fine, None, fx=1 / n, fy=1 / n, interpolation=cv2.INTER_AREA)
    behind[low[1] : high[1], low[0] : high[0]] = counted
    return behind


def _light(shade: np.ndarray) -> np.ndarray:
    """Light left behind an opening whose blurred mask is `shade`: darkest in its narrow corners."""
    return _clip(SHADE_FLOOR + (1.05 - SHADE_FLOOR) * shade, 0, 1)


def _rim(shade: np.ndarray, behind: np.ndarray) -> np.ndarray:
    """How much the lips' inner edge next to an opening (`shade` blurred mask, `behind` soft mask) darkens."""
    return _clip(2 * shade - behind, 0, 1)


def _jaw_margins(image: np.ndarray, points: np.ndarray, frame: FaceFrame) -> tuple[np.ndarray, np.ndarray]:
    """Outward offsets of the jaw curve's points that take in the soft tissue outside the jaw line (dlib
    fits it a little inside the face's edge; most under the chin), and the lift that closes the outline
    above the brows.

    Each offset stops short of where the photo leaves the face (a colour step away from the skin just inside
    the line, unless darker: the chin's shadow moves with the chin): what lies beyond, a light background or
    collar, must stay still, or a dropping chin drags a light band of it over what is below. A shadow under the jaw
    still on at the reach goes on with it to where it ends (_shadow_end), where cut there it would leave a hard
    edge (SHADE_GATE). Along the curve the offsets change by at most EDGE_SLOPE px per px, never past a point's own
    stop: one point's search stopping where its neighbours' did not drew a zig-zag outline over the collar."""
    curve = spline_matrix(points[JAW]) @ points[JAW]
    chin = np.clip(1 - np.abs(np.linspace(-1, 1, len(curve))) / 0.5, 0, 1)[:, None]
    reach = frame.height * (JAW_SOFT[0] + (JAW_SOFT[1] - JAW_SOFT[0]) * chin)
    normal = frame.outward(curve)
    steps = np.arange(-EDGE_INSET, max(float(reach.max()), SHADE_REACH * frame.height) + 2, 0.5, dtype=np.float32)
    at = (curve[:, None] + steps[None, :, None] * normal[:, None]).astype(np.float32)  # (n, steps, 2)
    smooth = cv2.GaussianBlur(image, (0, 0), 1.0).astype(np.float32)
    colours = cv2.remap(smooth, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    skin_at = (curve - EDGE_SEARCH * frame.height * normal)[:, None].astype(np.float32)
    inside = cv2.remap(smooth, skin_at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # (n, steps): no longer the face's colour, and not its shade (darker: the chin's shadow, a dark collar), looked
    # for within the soft reach only (the shadow's end is looked for further)
    brightness = colours.sum(-1)
    shade = brightness <= EDGE_SHADE * inside.sum(-1)
    searched = steps < float(reach.max()) + 2
    left = (np.linalg.norm(colours - inside, axis=-1) > EDGE_STEP) & ~shade & searched
    own = np.minimum(reach, _inside_first(left, steps))
    cut = _inside_first((brightness >= (1 + EDGE_LIGHT) * inside.sum(-1)) & ~shade & searched, steps)
    halo = _halo(smooth, curve, normal, own, np.minimum(own, cut), brightness, steps, inside.sum(-1), frame)
    if halo / frame.height >= HALO_GATE:
        own = np.where(_moving(own), np.minimum(own, cut), own)
    shadow = _shadow_end(brightness, shade & (brightness >= SHADOW_FLOOR * inside.sum(-1)), steps, reach)
    extension = _shadow_extension(own, shadow, frame.height)
    if _cut_shadow(extension, brightness / inside.sum(-1), steps, own) / frame.height >= SHADE_GATE:
        own = own + extension
    own = np.clip(own, -EDGE_INSET, None)[:, 0]
    soft = _smooth_below(own, curve, EDGE_SLOPE)[:, None] * normal
    return soft.astype(np.float32), (-2 * frame.height * frame.down).astype(np.float32)


def _jaw_softness(image: np.ndarray, points: np.ndarray, frame: FaceFrame) -> float:
    """px: the blur the chin's edge over the neck needs to be as soft as the photo around its jaw line (0: sharp)."""
    jaw = points[JAW]
    grow = SEAM_AROUND * frame.height
    x0, y0 = np.maximum(np.floor(jaw.min(0) - grow).astype(int), 0)
    x1, y1 = np.ceil(jaw.max(0) + grow).astype(int) + 1
    return photo_softness(image[y0:y1, x0:x1].astype(np.float32) @ LUMA, SEAM_DRAWN)


def _inside_first(found: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """(n, 1) px: EDGE_INSET inside the first of `steps` each row of `found` ((n, steps) bool) holds; inf where none."""
    return np.where(found.any(1), steps[np.argmax(found, axis=1)] - EDGE_INSET, np.inf)[:, None]


def _moving(own: np.ndarray) -> np.ndarray:
    """A mask shaped as the jaw points' (n, 1) margins `own`: the points the jaw moves (JAW_MOVES)."""
    moves = np.zeros_like(own, bool)
    moves[JAW_MOVES] = True
    return moves


def _step_at(steps: np.ndarray, px: np.ndarray) -> np.ndarray:
    """Index of the first of `steps` at or past each of `px` (the last step beyond them)."""
    return np.minimum(np.searchsorted(steps, px), len(steps) - 1)


def _halo(
    smooth: np.ndarray,
    curve: np.ndarray,
    normal: np.ndarray,
    own: np.ndarray,
    cut: np.ndarray,
    brightness: np.ndarray,
    steps: np.ndarray,
    skin: np.ndarray,
    frame: FaceFrame,
) -> float:
    """How bright a line the moving outline would carry over what the chin drops onto: over the moving jaw points,
    the mean of the px each margin `own` ((n, 1) px) loses when `cut` short of a lighter step, times how much lighter
    (share of the `skin`'s light, (n, 1) summed RGB) the photo at the margin's end is than the darkest of the `smooth`
    photo within HALO_BELOW nose-to-chin lengths below it. `brightness`: (n, steps) summed RGB at `steps` px out."""
    own = np.clip(own, -EDGE_INSET, None)
    below = np.arange(0, HALO_BELOW * frame.height + 1, 1.0, dtype=np.float32)
    end = curve + own * normal
    at = (end[:, None] + below[None, :, None] * frame.down).astype(np.float32)
    dark = cv2.remap(smooth, at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).sum(-1).min(1, keepdims=True)
    carried = brightness[np.arange(len(own)), _step_at(steps, own[:, 0])][:, None]
    lost = own - np.clip(cut, -EDGE_INSET, None)
    return float((lost * np.clip(carried - dark, 0, None) / skin)[JAW_MOVES].mean())


def _shadow_extension(own: np.ndarray, shadow: np.ndarray, height: float) -> np.ndarray:
    """(n, 1) px each moving jaw point's margin `own` grows by to reach the end of its `shadow` (_shadow_end), where
    that carries it SHADE_MORE nose-to-chin lengths (`height`) further; zero everywhere else."""
    return np.where(_moving(own) & (shadow >= own + SHADE_MORE * height), shadow - own, 0.0)


def _cut_shadow(extension: np.ndarray, light: np.ndarray, steps: np.ndarray, own: np.ndarray) -> float:
    """How hard an edge the moving outline cuts into the chin's shadow: over the moving jaw points, the mean of each
    point's `extension` (px) to its shadow's end times how much lighter (share of the skin's light) the photo is
    there than at its margin `own` (px). `light`: (n, steps) the skin's share of light at `steps` px outside."""
    rows = np.arange(len(own))
    at = _step_at(steps, np.stack([own[:, 0], own[:, 0] + extension[:, 0]]))
    lighter = np.clip(light[rows, at[1]] - light[rows, at[0]], 0, None)
    return float((extension[:, 0] * lighter)[JAW_MOVES].mean())


def _shadow_end(brightness: np.ndarray, shade: np.ndarray, steps: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """(n, 1) px outside each jaw point where a shade still on at its `reach` ends, its soft edge with it: the first
    step past the shade where the colour settles; -inf where there is none within the `steps` searched.
    `brightness`: (n, steps) summed RGB at `steps` px along the outward normals, `shade`: its shaded ones."""
    change = np.zeros_like(brightness)
    change[:, 1:] = np.abs(np.diff(brightness, axis=1)) / float(steps[1] - steps[0])
    at_reach = _step_at(steps, reach[:, 0])
    on = shade[np.arange(len(shade)), at_reach]
    past = np.maximum.accumulate(shade & (steps[None] >= reach), axis=1)  # from the shade at the reach on
    settled = past & ~shade & (change < SHADE_SETTLED)
    return np.where(on & settled.any(1), steps[np.argmax(settled, axis=1)], -np.inf)[:, None]


def _smooth_below(values: np.ndarray, curve: np.ndarray, slope: float) -> np.ndarray:
    """The largest function of the points of `curve` that stays at or under `values` and changes by at most
    `slope` per pixel along it: each point's margin is lowered to where a neighbour's stops, plus the way there.
    Never above a point's own value, so every margin still stops where that point's edge search did."""
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    return (values[None, :] + slope * np.abs(along[:, None] - along[None, :])).min(1)


def _turned_lids(face: FaceAnalysis) -> list[tuple[int, np.ndarray]]:
    """(eye index, outline in the face frame: upper curve, then lower curve back) of each eye of a turned face's
    second landmark fit (FaceAnalysis.eye_landmarks) that shows: the eye nearer the camera, and the other one
    unless it lies much nearer the nose ridge (TURNED_FAR_EYE), where it is hidden behind the nose or lies on
    the face's edge (the cameraman's)."""
    points = face.eye_landmarks
    if points is None:
        return []
    ridge = points[NOSE_TIP] - points[NOSE_BRIDGE]
    across = np.array([-ridge[1], ridge[0]]) / max(float(np.linalg.norm(ridge)), 1e-6)
    centres = [points[list(upper + lower)].mean(0) for upper, lower in EYE_SLITS]
    apart = [abs(float((centre - points[NOSE_BRIDGE]) @ across)) for centre in centres]
    lids = []
    for eye, (upper, lower) in enumerate(EYE_SLITS):
        if apart[eye] >= TURNED_FAR_EYE * max(apart):
            top, bottom = points[list(upper)], points[list(lower)]
            outline = np.concatenate([spline_matrix(top) @ top, spline_matrix(bottom)[::-1] @ bottom])
            lids.append((eye, outline.astype(np.float32)))
    return lids


def puppet_for(face: FaceAnalysis) -> Puppet:
    """The prepared puppet for `face`, reused across calls (a live stream renders one face
    for a long time)."""
    key = f"{face.source_hash}:{face.size}:{face.face_index}"
    puppet = _PUPPETS.pop(key, None) or Puppet(face)
    _PUPPETS[key] = puppet
    while len(_PUPPETS) > PUPPET_CACHE:
        _PUPPETS.pop(next(iter(_PUPPETS)))
    return puppet


_PUPPETS: dict[str, Puppet] = {}  # insertion-ordered: oldest first


class WarpRenderer(FrameRenderer):
    name = "warp"
    resource: Resource = "cpu"

    def available(self) -> Availability:
        return Availability(True)

    def frame_maker(self, face: FaceAnalysis, controls: ControlTrack, audio_wav: Path) -> Callable[[int], np.ndarray]:
        puppet = puppet_for(face)
        return lambda i: puppet.frame(controls.frame(i))
