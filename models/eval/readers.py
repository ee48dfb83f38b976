"""Which landmarks the evaluator reads the lips and lids from: dlib's 68 points, or the face mesh.

dlib's fit does not follow a face turned much past 30 degrees (on the cameraman, turned ~50, its lips and lids
stay put while the rendered ones move), so `auto` reads such a face with the mesh (models.face.mesh) where that
is installed. The mesh's closed lips read a little open (0.02 of the mouth width on the sample renders, more on
a lip band without a dark line between the lips), so dlib stays the reader of frontal faces, whose p/b/m
thresholds were set on its readings. Every report says which reader it used and why.

Where the mesh reads the lips, it also gives the quality measures their points (models.eval.quality): its
vertices nearest dlib's 68 (models.face.mesh.DLIB_68), which follow the turned face where dlib's do not. The lids
are the mesh's wherever it is installed, frontal faces included: its eye model follows a blink over eyes that look
down (two held-out faces looking down at cards: a lid drawn shut read 20 blinks a minute by the mesh, none by dlib,
whose eye aspect stayed at its open value), and on the frontal sample photos it counts the blinks dlib counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.errors import BackendUnavailable
from models.face import landmarks as lm
from models.face import mesh

READERS = ("auto", "dlib", "mesh")
TURNED_DEG = 30.0  # auto: a face turned further than this (median over the frames) is read with the mesh


@dataclass(frozen=True)
class MeshReading:
    """The mesh's measures per frame (NaN where it finds no face)."""

    apertures: np.ndarray  # inner-lip gap over mouth width
    eye_openings: np.ndarray  # lid gap over eye width: both eyes' mean, or the nearer eye's on a turned face
    yaw_deg: float | None  # median over the frames with a face
    points: np.ndarray  # (frames, 68, 2): the mesh's points in dlib's layout (mesh.as_dlib68)


@dataclass(frozen=True)
class Choice:
    reader: str  # "dlib" or "mesh"
    why: str
    mesh: MeshReading | None  # the mesh's reading of every frame, wherever it was run: it reads the lids then
    yaw_deg: float | None = None  # how far the face is turned (the mesh's; None where it was not run)


def _face_box(frame: np.ndarray) -> tuple[float, float, float, float] | None:
    faces = lm.detect_faces(frame)
    return lm.corners(faces[0]) if faces else None


def read_with_mesh(frames: Iterable[np.ndarray]) -> MeshReading:
    fits = list(mesh.track(frames, _face_box))
    found = [f for f in fits if f is not None]
    yaw = float(np.median([mesh.yaw_degrees(f.points) for f in found])) if found else None
    widths = np.median([[np.linalg.norm(e[0, :2] - e[8, :2]) for e in f.eyes] for f in found], 0) if found else None
    nearer = int(np.argmax(widths)) if widths is not None else 0

    def openness(fit: mesh.MeshFit) -> float:
        values = [mesh.eye_opening(e) for e in fit.eyes]
        return values[nearer] if yaw is not None and yaw > TURNED_DEG else float(np.mean(values))

    return MeshReading(
        apertures=np.array([mesh.mouth_aperture(f.points) if f else np.nan for f in fits], np.float32),
        eye_openings=np.array([openness(f) if f else np.nan for f in fits], np.float32),
        yaw_deg=yaw,
        points=np.array([mesh.as_dlib68(f.points) if f else np.full((68, 2), np.nan) for f in fits], np.float32),
    )


def choose(reader: str, frames: Iterable[np.ndarray]) -> Choice:
    """The reader for a video's `frames`: `reader` is "dlib", "mesh" (an error when it is not
    installed) or "auto" (the mesh for a face turned past TURNED_DEG, where it is installed; dlib otherwise; the
    mesh's reading of the lids comes along wherever the mesh ran)."""
    if reader not in READERS:
        raise ValueError(f"unknown landmark reader {reader!r}; one of {', '.join(READERS)}")
    if reader == "dlib":
        return Choice("dlib", "asked for", None)
    available = mesh.availability()
    if not available.ok:
        if reader == "mesh":
            raise BackendUnavailable(available.reason)
        return Choice("dlib", f"auto: the face mesh is not installed ({available.reason})", None)
    reading = read_with_mesh(frames)
    if reader == "mesh":
        return Choice("mesh", "asked for", reading, reading.yaw_deg)
    yaw = reading.yaw_deg
    if yaw is None:
        return Choice("dlib", "auto: the mesh found no face", None)
    why = f"auto: face turned {yaw:.0f} degrees ({'over' if yaw > TURNED_DEG else 'within'} {TURNED_DEG:.0f})"
    return Choice("mesh" if yaw > TURNED_DEG else "dlib", why, reading, yaw)
