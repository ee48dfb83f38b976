"""Blinks and idle motion differ between photos, repeat for the same photo, and follow --seed when it is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.types import ControlTrack, MouthCurves
from scripts.sample_photos import astronaut, grace_hopper

DURATION = 30.0


@pytest.fixture
def stored(data_dir: Path, tmp_path: Path) -> dict[str, str]:
    """Storage keys of two photos and of 30 s of silent mouth curves."""
    from core.storage import open_storage

    storage, keys = open_storage(), {}
    for name, make in (("astronaut", astronaut), ("grace", grace_hopper)):
        Image.fromarray(make()).save(tmp_path / f"{name}.png")
        keys[name] = storage.store(f"uploads/{name}.png", tmp_path / f"{name}.png")
    n = int(DURATION * 100)
    curves = MouthCurves(100, *(np.zeros(n, np.float32) for _ in range(6)))
    curves.save(tmp_path / "mouth.npz")
    keys["mouth"] = storage.store("jobs/j/mouth.npz", tmp_path / "mouth.npz")
    return keys


def _blink_starts(stored: dict[str, str], photo: str, seed: int | None) -> list[int]:
    from core.storage import open_storage
    from pipeline.nodes import avatar_control

    state = {
        "job_id": f"{photo}-{seed}",
        "image_key": stored[photo],
        "mouth_key": stored["mouth"],
        "duration": DURATION,
        "emotion": "neutral",
        "options": {"fps": 25, "backend": "warp", "enhancer": "none", "emotion": "neutral", "seed": seed},
    }
    update = avatar_control(state)
    closed = ControlTrack.load(open_storage().fetch(update["controls_key"])).channels["blink"] >= 0.99
    return np.flatnonzero(closed[1:] & ~closed[:-1]).tolist()


def test_each_photo_blinks_in_its_own_rhythm_unless_a_seed_is_given(stored: dict[str, str]) -> None:
    astronaut_blinks = _blink_starts(stored, "astronaut", None)
    assert 5 <= len(astronaut_blinks) <= 13  # 10-25 a minute
    assert _blink_starts(stored, "astronaut", None) == astronaut_blinks  # reproducible
    assert _blink_starts(stored, "grace", None) != astronaut_blinks
    assert _blink_starts(stored, "grace", 7) == _blink_starts(stored, "astronaut", 7)
