"""load_image: formats, EXIF orientation, alpha, size caps and the messages for bad uploads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from models.face.image import MAX_SIDE, load_image
from models.face.landmarks import detect_faces


def test_exif_orientation_is_applied(tmp_path: Path, astronaut: np.ndarray) -> None:
    # Stored sideways with orientation 6 ("rotate 90 CW to view"), as phones do.
    sideways = np.ascontiguousarray(np.rot90(astronaut, k=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(sideways).save(path, exif=exif, quality=95)

    assert detect_faces(sideways) == []  # the stored pixels alone show no upright face
    upright = load_image(path)
    assert upright.shape == astronaut.shape
    assert np.abs(upright.astype(int) - astronaut).mean() < 6  # same pixels, up to JPEG loss
    largest = detect_faces(upright)[0]
    assert abs(largest.center().x - 222) < 10 and abs(largest.center().y - 126) < 10


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[:, :30] = (200, 10, 10, 255)
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    rgb = load_image(path)
    assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (200, 10, 10)
    assert tuple(rgb[0, -1]) == (255, 255, 255)


def test_grayscale_becomes_rgb(tmp_path: Path, astronaut: np.ndarray) -> None:
    path = tmp_path / "gray.png"
    Image.fromarray(astronaut).convert("L").save(path)
    rgb = load_image(path)
    assert rgb.shape == (512, 512, 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_huge_image_is_downscaled(tmp_path: Path, astronaut: np.ndarray) -> None:
    path = tmp_path / "big.jpg"
    Image.fromarray(astronaut).resize((3000, 2400)).save(path)
    rgb = load_image(path)
    assert max(rgb.shape[:2]) == MAX_SIDE
    assert rgb.shape[:2] == (round(2400 * MAX_SIDE / 3000), MAX_SIDE)


def test_decompression_bomb_is_refused(astronaut_png: Path) -> None:
    with pytest.raises(InputError) as err:
        load_image(astronaut_png, max_pixels=100_000)
    assert err.value.code == "image_too_large"
    assert "megapixels" in err.value.message


def test_garbage_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8not really a jpeg" * 10)
    with pytest.raises(InputError) as err:
        load_image(path)
    assert err.value.code == "unreadable_image"
    assert err.value.message == "photo.jpg could not be read as an image (JPEG, PNG, WebP or BMP expected)."
