"""load_image and check_photo: formats, EXIF orientation, alpha, size caps, faces and the messages for bad photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from models.face.image import MAX_KEPT_PIXELS, load_image
from models.face.landmarks import detect_faces
from models.face.load import check_photo


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
    scale = (MAX_KEPT_PIXELS / (3000 * 2400)) ** 0.5
    assert rgb.shape[:2] == (round(2400 * scale), round(3000 * scale))


@pytest.mark.parametrize("shape", ["tall", "wide"])
def test_a_tall_or_wide_photo_keeps_its_face_findable(tmp_path: Path, astronaut: np.ndarray, shape: str) -> None:
    # a 512 x 5000 photo (under the 10:1 limit) with the 512 px astronaut in it: shrunk by its longer side to
    # 210 x 2048 px, the face was too small to be found and the job failed at the render
    canvas = np.full((5000, 512, 3) if shape == "tall" else (512, 5000, 3), 200, np.uint8)
    if shape == "tall":
        canvas[1000:1512] = astronaut
    else:
        canvas[:, 1000:1512] = astronaut
    path = tmp_path / f"{shape}.png"
    Image.fromarray(canvas).save(path)
    rgb = load_image(path)
    assert rgb.shape == canvas.shape
    assert check_photo(path) >= 1
    largest = detect_faces(rgb)[0].center()
    offset = (0, 1000) if shape == "tall" else (1000, 0)
    assert abs(largest.x - 222 - offset[0]) < 10 and abs(largest.y - 126 - offset[1]) < 10


def test_check_photo_refuses_what_the_render_would(tmp_path: Path, cat_png: Path, astronaut_png: Path) -> None:
    with pytest.raises(InputError) as err:
        check_photo(cat_png)
    assert err.value.code == "no_face"
    with pytest.raises(InputError) as err:
        check_photo(astronaut_png, face_index=3)
    assert err.value.code == "face_index_out_of_range"
    assert "1 face(s) found" in err.value.message


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
