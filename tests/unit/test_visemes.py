"""Phones to mouth curves: closure on p/b/m, teeth on f/v, rounding and spreading, silence shut, no jumps."""

from __future__ import annotations

import numpy as np
import pytest

from models.audio.phones import PhoneTrack
from models.audio.prosody import Prosody
from models.audio.visemes import mouth_curves
from models.types import Phone


def loud(duration: float, rate: int = 100) -> Prosody:
    n = int(duration * rate)
    return Prosody(rate, np.full(n, -20, np.float32), np.ones(n, np.float32), np.full(n, 120, np.float32))


def track(*phones: tuple[str, float, float]) -> PhoneTrack:
    return PhoneTrack([Phone(*p) for p in phones], "alignment", None)


def at(curve: np.ndarray, t: float, rate: int = 100) -> float:
    return float(curve[int(t * rate)])


def test_lips_close_on_bilabials_and_open_on_vowels():
    # "mama": M AA M AA between silences
    tr = track(
        ("SIL", 0, 0.2),
        ("M", 0.2, 0.3),
        ("AA", 0.3, 0.5),
        ("M", 0.5, 0.58),
        ("AA", 0.58, 0.8),
        ("SIL", 0.8, 1.0),
    )
    c = mouth_curves(tr, loud(1.0), 1.0)
    assert len(c.open) == 100 and c.rate == 100
    for t in (0.25, 0.54):
        assert at(c.closed, t) == pytest.approx(1.0) and at(c.open, t) == pytest.approx(0.0)
    for t in (0.4, 0.7):
        assert at(c.open, t) > 0.8 and at(c.closed, t) == 0.0
    assert at(c.open, 0.1) == 0.0 and at(c.open, 0.95) == 0.0  # silence: mouth shut


@pytest.mark.parametrize(
    ("phone", "field", "low", "high"),
    [
        ("F", "teeth", 0.99, 1.0),
        ("V", "teeth", 0.99, 1.0),
        ("UW", "round", 0.9, 1.0),
        ("W", "round", 0.9, 1.0),
        ("IY", "width", 0.5, 1.0),
        ("UW", "width", -1.0, -0.3),
    ],
)
def test_viseme_targets(phone, field, low, high):
    c = mouth_curves(track(("SIL", 0, 0.2), (phone, 0.2, 0.4), ("SIL", 0.4, 0.6)), loud(0.6), 0.6)
    assert low <= at(getattr(c, field), 0.3) <= high


def test_boundaries_cross_fade_without_jumps_and_lips_close_at_once():
    tr = track(("AA", 0.0, 0.2), ("M", 0.2, 0.28), ("IY", 0.28, 0.5))
    c = mouth_curves(tr, loud(0.5), 0.5, rate=1000)
    # The opening moves in steps no larger than a cross-fade allows, never a hard switch, except where the lips
    # meet: the closure is all or nothing over the m (a half closure around each boundary halved the vowel's
    # gap on top of the opening's own cross-fade, and shut its last frame).
    steps = np.abs(np.diff(c.open))
    meet = np.abs(np.diff(c.closed)) > 0
    assert steps[~meet].max() < 0.1
    assert set(np.unique(c.closed).tolist()) == {0.0, 1.0}
    assert c.closed[200:280].min() == 1.0 and c.closed[:200].max() == 0.0 and c.closed[280:].max() == 0.0


def test_a_stop_is_closed_through_its_silence_before_the_burst():
    """espeak-ng labels a p from its burst, and the classifier learned its labels: the quiet closure before it is
    the vowel's. The lips shut where the loudness falls into that dip, not at the burst; a nasal, loud up to its
    label, is not moved."""
    tr = track(("AA", 0.0, 0.3), ("P", 0.3, 0.34), ("AA", 0.34, 0.6), ("M", 0.6, 0.7), ("AA", 0.7, 1.0))
    prosody = loud(1.0)
    prosody.loudness[26:30] = (0.7, 0.5, 0.05, 0.05)  # the vowel fades into the closure, quiet from 0.28
    c = mouth_curves(tr, prosody, 1.0)
    assert c.closed[:28].max() == 0.0
    assert c.closed[28:34].min() == 1.0 and at(c.open, 0.285) == 0.0
    assert c.closed[55:60].max() == 0.0 and at(c.closed, 0.6) == 1.0  # the m: from its label


def test_a_bilabial_after_silence_shuts_the_lips_before_it():
    """A clip that opens on "Peter" (its p 50 ms in) or a p/b/m after a pause: no dip in loudness to find, the lips
    shut STOP_REACH before it, in the silence (they shut at its label: a clip's first frame was drawn at rest, open on
    a photo that shows its teeth). Within speech a loud m is not moved."""
    tr = track(("SIL", 0.0, 0.05), ("P", 0.05, 0.09), ("IY", 0.09, 0.4), ("SIL", 0.4, 0.7), ("B", 0.7, 0.75),
               ("AA", 0.75, 0.95), ("M", 0.95, 1.0), ("AA", 1.0, 1.2))  # fmt: skip
    prosody = loud(1.2)
    prosody.loudness[:5] = prosody.loudness[40:70] = 0.0
    c = mouth_curves(tr, prosody, 1.2)
    assert c.closed[:9].min() == 1.0  # from the clip's first sample
    assert c.closed[40:64].max() == 0.0 and c.closed[64:75].min() == 1.0  # from 60 ms before the b, in the pause
    assert c.closed[90:95].max() == 0.0 and at(c.closed, 0.95) == 1.0
    # a live stream's chunk that starts in speech: an m 20 ms in is not taken for one after silence
    chunk = mouth_curves(track(("AA", 0.0, 0.02), ("M", 0.02, 0.08), ("AA", 0.08, 0.3)), loud(0.3), 0.3)
    assert chunk.closed[:2].max() == 0.0 and chunk.closed[2:8].min() == 1.0


def test_opening_follows_loudness():
    tr = track(("AA", 0.0, 1.0))
    quiet = loud(1.0)
    quiet.loudness[:] = 0.2
    assert at(mouth_curves(tr, quiet, 1.0).open, 0.5) < 0.6 * at(mouth_curves(tr, loud(1.0), 1.0).open, 0.5)


def test_curves_cover_the_duration_beyond_the_phones():
    c = mouth_curves(track(("AA", 0.0, 0.3)), loud(2.0), 2.0, rate=25)
    assert len(c.open) == 50 and c.open[-1] == 0.0 and len(c.energy) == 50
