"""Phones to mouth shapes: per-phone viseme targets, cross-faded at phone boundaries and scaled by loudness.

Anticipation and smoothing are the controller's job; here a phone reaches its full target in its middle and
blends with its neighbours over a short window around each boundary. Bilabial closure is not blended: the lips
touch or they do not, and the movement toward and away from the closure is the opening's cross-fade (a half
closure ahead of each p/b/m halved the drawn gap a second time, over the end of the vowel before it). A stop's
lips are shut through its silent closure, which espeak-ng's labels, and the viseme classifier that learned them,
leave to the phone before (their p and b start at the burst): the dip in loudness just before a p/b/m closes
the lips too (stop_closures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from models.types import MouthCurves, Phone

if TYPE_CHECKING:  # phones imports this module for the class table
    from models.audio.phones import PhoneTrack
    from models.audio.prosody import Prosody

CROSSFADE_S = 0.03  # half-width of the blend around a boundary (capped at a third of either phone)
# A stop's closure: within STOP_REACH s before a p/b/m, a dip in loudness (0..1) at least STOP_DIP deep below
# the speech before it; the lips shut where the loudness has fallen STOP_FALL of the way to the dip's floor.
# On the gallery sentence espeak-ng's p starts 54 ms (median of 4) after the aligner's, its m and b 19 and 4 ms.
STOP_REACH, STOP_DIP, STOP_FALL = 0.06, 0.2, 0.7
STOP_BEFORE = 0.15  # s before the p/b/m searched for the speech's level before the dip
# A p/b/m after silence (quieter than STOP_DIP from STOP_BEFORE to STOP_REACH before it, and at some point after:
# the clip's start, a pause; not a live stream's chunk that starts loud) has no dip to find: the lips shut STOP_REACH
# before it (its burst may lead its label). They shut at the label, so a clip opening on "Peter" (its p at 50 ms)
# drew its first frame at rest: open, on a photo that shows its teeth


class Shape(NamedTuple):
    open: float = 0.0
    width: float = 0.0
    round: float = 0.0
    closed: float = 0.0
    teeth: float = 0.0


# Viseme classes: the acoustic classifier predicts these; each speaks for its representative ARPAbet phone.
VISEME_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "SIL": ("SIL", ("SIL",)),
    "PBM": ("M", ("P", "B", "M")),
    "FV": ("F", ("F", "V")),
    "OPEN": ("AA", ("AA", "AE", "AH", "AO", "AW", "AY")),
    "MID": ("EH", ("EH", "ER")),
    "SPREAD": ("IY", ("IY", "IH", "EY", "Y")),
    "ROUND": ("UW", ("UW", "UH", "OW", "OY", "W")),
    "SIBILANT": ("S", ("S", "Z")),
    "POSTALVEOLAR": ("SH", ("SH", "ZH", "CH", "JH", "R")),
    "CORONAL": ("T", ("T", "D", "N", "L", "TH", "DH")),
    "DORSAL": ("K", ("K", "G", "NG", "HH")),
}
CLASS_NAMES = tuple(VISEME_CLASSES)
PHONE_TO_CLASS = {p: c for c, (_, phones) in VISEME_CLASSES.items() for p in phones}

SHAPES: dict[str, Shape] = {
    "SIL": Shape(),
    "P": Shape(closed=1.0),
    "B": Shape(closed=1.0),
    "M": Shape(closed=1.0),
    "F": Shape(open=0.1, width=0.1, teeth=1.0),
    "V": Shape(open=0.1, width=0.1, teeth=1.0),
    "AA": Shape(open=0.9),
    "AE": Shape(open=0.8, width=0.3),
    "AH": Shape(open=0.65),
    "AO": Shape(open=0.75, round=0.4),
    "AW": Shape(open=0.8, round=0.3),
    "AY": Shape(open=0.8, width=0.2),
    "EH": Shape(open=0.5, width=0.4),
    "ER": Shape(open=0.35, round=0.3),
    "IY": Shape(open=0.2, width=0.8),
    "IH": Shape(open=0.3, width=0.6),
    "EY": Shape(open=0.4, width=0.6),
    "Y": Shape(open=0.2, width=0.6),
    "UW": Shape(open=0.2, width=-0.6, round=1.0),
    "UH": Shape(open=0.3, width=-0.4, round=0.7),
    "OW": Shape(open=0.45, width=-0.5, round=0.9),
    "OY": Shape(open=0.45, width=-0.3, round=0.7),
    "W": Shape(open=0.1, width=-0.7, round=1.0),
    "S": Shape(open=0.1, width=0.4),
    "Z": Shape(open=0.1, width=0.4),
    "SH": Shape(open=0.15, width=-0.3, round=0.6),
    "ZH": Shape(open=0.15, width=-0.3, round=0.6),
    "CH": Shape(open=0.15, width=-0.3, round=0.6),
    "JH": Shape(open=0.15, width=-0.3, round=0.6),
    "R": Shape(open=0.2, width=-0.2, round=0.5),
    "T": Shape(open=0.2, width=0.2),
    "D": Shape(open=0.2, width=0.2),
    "N": Shape(open=0.2, width=0.2),
    "L": Shape(open=0.3, width=0.1),
    "TH": Shape(open=0.2, width=0.1),
    "DH": Shape(open=0.2, width=0.1),
    "K": Shape(open=0.3),
    "G": Shape(open=0.3),
    "NG": Shape(open=0.25),
    "HH": Shape(open=0.4),
}
FIELDS = Shape._fields


def shape_of(phone: str) -> Shape:
    return SHAPES.get(phone.upper().rstrip("012"), SHAPES["SIL"])


def mouth_curves(track: PhoneTrack, prosody: Prosody, duration: float, rate: int = 100) -> MouthCurves:
    """Mouth curves at `rate` Hz over `duration` s from a PhoneTrack and a Prosody (loudness)."""
    return shape_curves(track.phones, prosody.loudness, prosody.rate, duration, rate)


def shape_curves(
    phones: list[Phone], loudness: np.ndarray, loudness_rate: int, duration: float, rate: int = 100
) -> MouthCurves:
    """Mouth curves at `rate` Hz over `duration` s from phone segments and 0..1 loudness at `loudness_rate` Hz."""
    n = max(1, int(round(duration * rate)))
    t = (np.arange(n) + 0.5) / rate
    energy = np.interp(t, (np.arange(len(loudness)) + 0.5) / loudness_rate, loudness)
    phones = [p for p in phones if p.end > p.start]
    curves = {f: np.zeros(n) for f in FIELDS}
    if phones:
        starts = np.array([p.start for p in phones])
        ends = np.array([p.end for p in phones])
        targets = np.array([shape_of(p.label) for p in phones])  # (n_phones, 5)
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(phones) - 1)
        inside = (t >= starts[idx]) & (t < ends[idx])
        values = _crossfade(t, idx, starts, ends, targets)
        values[~inside] = 0.0  # gaps between phones are silence
        curves = {f: values[:, i] for i, f in enumerate(FIELDS)}
        closing = targets[idx, FIELDS.index("closed")] * inside
        curves["closed"] = stop_closures(closing, energy, rate)
    # Louder speech opens the jaw wider; bilabial closure and lip-to-teeth are not scaled.
    curves["open"] = curves["open"] * (0.4 + 0.6 * energy) * (1 - curves["closed"])
    return MouthCurves(rate=rate, energy=energy.astype(np.float32), **{f: curves[f].astype(np.float32) for f in FIELDS})


def _crossfade(t: np.ndarray, idx: np.ndarray, starts: np.ndarray, ends: np.ndarray, targets: np.ndarray):
    """Per time: the current phone's target blended toward the neighbour whose boundary is within reach."""
    durs = ends - starts
    # Half-width of the blend at each phone's start boundary (with the previous phone) and at its end.
    half_in = np.minimum(CROSSFADE_S, durs / 3)
    half_in[1:] = np.minimum(half_in[1:], durs[:-1] / 3)
    half_out = np.append(half_in[1:], min(CROSSFADE_S, durs[-1] / 3))
    prev_t = np.vstack([SHAPES["SIL"], targets[:-1]])[idx]
    next_t = np.vstack([targets[1:], SHAPES["SIL"]])[idx]
    # Neighbours are only blended in when they actually touch this phone; across a gap they are silence.
    touches_prev = np.append(False, np.isclose(starts[1:], ends[:-1], atol=1e-3))[idx]
    touches_next = np.append(np.isclose(starts[1:], ends[:-1], atol=1e-3), False)[idx]
    prev_t[~touches_prev] = SHAPES["SIL"]
    next_t[~touches_next] = SHAPES["SIL"]
    since = t - starts[idx]
    until = ends[idx] - t
    w_prev = np.clip(0.5 - 0.5 * since / np.maximum(half_in[idx], 1e-6), 0, 0.5)
    w_next = np.clip(0.5 - 0.5 * until / np.maximum(half_out[idx], 1e-6), 0, 0.5)
    cur = targets[idx]
    return cur + w_prev[:, None] * (prev_t - cur) + w_next[:, None] * (next_t - cur)


def stop_closures(closed: np.ndarray, energy: np.ndarray, rate: int) -> np.ndarray:
    """`closed` (per sample at `rate` Hz) with each closure that starts after a dip in loudness (`energy`, 0..1)
    moved back to where the loudness fell into the dip: a stop's silent closure before its burst; one after silence
    moved back STOP_REACH."""
    out = closed.copy()
    reach, before = max(1, round(STOP_REACH * rate)), max(1, round(STOP_BEFORE * rate))
    for start in np.flatnonzero(np.diff(np.concatenate([[0.0], closed])) > 0):
        lo = max(0, start - reach)
        if lo == start:
            continue
        quiet_before = energy[max(0, start - before) : lo].max(initial=0.0) < STOP_DIP
        if quiet_before and energy[lo:start].min() < STOP_DIP:  # after silence (its burst may lead its label)
            out[lo:start] = np.maximum(out[lo:start], closed[start])
            continue
        floor_at = lo + int(np.argmin(energy[lo : start + 1]))
        level = energy[max(0, start - before) : floor_at + 1].max()
        if level - energy[floor_at] < STOP_DIP:
            continue
        fallen = energy[floor_at] + (1 - STOP_FALL) * (level - energy[floor_at])
        onset = floor_at
        while onset > lo and energy[onset - 1] < fallen and out[onset - 1] == 0:
            onset -= 1
        out[onset:start] = np.maximum(out[onset:start], closed[start])
    return out
