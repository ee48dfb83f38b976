"""A turned mouth's upper inner lip is read over its teeth, whose brightness ripples (models/face/analysis.py).

On a held-out smirk turned past TURNED_YAW, read across the lips from the dark inside upwards, the upper teeth ran
136, 134, 134, 136, 138: the climb to their brightest stopped at the first 136, read no teeth above the dark
inside, and put the upper inner lip's middle landmark under the teeth (a zigzag inner lip: a wedge of teeth stayed
between the pressed lips, a chevron of teeth and lip opened). Reproduced on the astronaut's smile, edited to show
the dark inside of an open mouth under her upper teeth: her central incisor ripples so at one column."""

from __future__ import annotations

import numpy as np

from models.face import analysis
from models.face.analysis import FaceAnalysis

INSIDE = 40.0  # grey of the mouth's inside painted under her upper teeth
INSIDE_ROWS = 8


def test_a_turned_mouths_upper_lip_edge_is_read_over_teeth_that_ripple(astronaut_face: FaceAnalysis) -> None:
    """Across her upper teeth (between the inner-lip landmarks 61 and 63), each column read upwards from the dark
    inside finds the upper lip's edge over the teeth, within 4 px of her inner upper lip (dlib's, 301.7 at 512 px):
    before, at her central incisor (x 255), the climb stopped on a ripple of the teeth's brightness and read the
    edge at the dark inside's top, 13 px under the lip."""
    grey = analysis._soft_grey(astronaut_face.image)
    points = astronaut_face.landmarks
    top_row, bottom_row = int(points[62, 1]) - 50, int(points[66, 1]) + 20
    lip = float(points[62, 1])
    off = []
    for x in range(int(points[61, 0]) + 2, int(points[63, 0]) + 1):  # (at 61 itself the lip's corner)
        profile = grey[top_row:bottom_row, x].copy()
        rows = np.arange(top_row, bottom_row)
        teeth = (rows > lip) & (rows < lip + 20)
        brightest = int(np.flatnonzero(teeth)[np.argmax(profile[teeth])])
        under = brightest + int(np.argmax(profile[brightest:] < 0.9 * profile[brightest]))  # the teeth's lower edge
        profile[under : under + INSIDE_ROWS] = INSIDE
        edge = rows[analysis._over_teeth(profile, under)]
        off.append((x, float(edge - lip)))
    assert len(off) > 20
    assert all(abs(d) <= 4 for _, d in off), off
