"""analyze_face on real photos: framing, measurements, caching, and which face is chosen."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import InputError
from models.face.analysis import FaceAnalysis, analyze_face, detect_photo_faces


def test_astronaut_is_framed_and_measured(astronaut_face: FaceAnalysis) -> None:
    face = astronaut_face
    assert face.image.shape == (512, 512, 3) and face.image.dtype == np.uint8
    assert face.landmarks.shape == (68, 2)
    extent = np.ptp(face.landmarks, axis=0).max() / 512
    assert 0.45 <= extent <= 0.55
    assert abs(face.landmarks[:, 0].mean() - 256) < 20
    assert face.n_faces == 1 and face.face_index == 0
    assert face.teeth_visible  # she smiles showing her teeth
    assert face.mouth_open_px > 5
    assert np.all(np.abs(face.pose) < 20)
    assert face.embedding is not None and face.embedding.shape == (128,)
    assert face.lip_rgb[0] > face.lip_rgb[2]  # lips are red-ish
    assert face.skin_rgb.mean() > 100


def test_save_load_round_trip(astronaut_face: FaceAnalysis, tmp_path: Path) -> None:
    path = tmp_path / "face.npz"
    astronaut_face.save(path)
    loaded = FaceAnalysis.load(path)
    assert np.array_equal(loaded.image, astronaut_face.image)
    assert np.allclose(loaded.landmarks, astronaut_face.landmarks)
    assert loaded.teeth_visible is True and loaded.source_hash == astronaut_face.source_hash


def test_second_analysis_comes_from_the_cache(astronaut: np.ndarray, data_dir: Path) -> None:
    first = analyze_face(astronaut, size=256)
    assert list((data_dir / "cache" / "faces").glob("*.npz"))
    started = time.perf_counter()
    second = analyze_face(astronaut, size=256)
    assert time.perf_counter() - started < 0.2
    assert second.image.shape == (256, 256, 3)
    assert np.allclose(first.landmarks, second.landmarks)


def test_the_detection_is_cached_and_an_unreadable_cache_is_searched_again(
    astronaut: np.ndarray, data_dir: Path
) -> None:
    found = detect_photo_faces(astronaut)
    (cached,) = (data_dir / "cache" / "detections").glob("*.json")
    again = detect_photo_faces(astronaut)
    assert [(b.left(), b.top(), b.right(), b.bottom()) for b in again.boxes] == [
        (b.left(), b.top(), b.right(), b.bottom()) for b in found.boxes
    ]
    cached.write_text("{not json")
    assert len(detect_photo_faces(astronaut).boxes) == 1
    assert json.loads(cached.read_text())["boxes"]  # written again


def test_no_face(data_dir: Path) -> None:
    from skimage import data

    with pytest.raises(InputError) as err:
        analyze_face(data.chelsea())
    assert err.value.code == "no_face"
    assert "front-facing photo" in err.value.message


@pytest.fixture(scope="module")
def two_faces(astronaut: np.ndarray) -> np.ndarray:
    """A colour astronaut beside a smaller grey one, so the chosen face can be told apart by its colour."""
    head = astronaut[20:300, 110:350]
    small = cv2.cvtColor(cv2.cvtColor(cv2.resize(head, None, fx=0.7, fy=0.7), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    canvas = np.full((300, 480, 3), 230, np.uint8)
    canvas[10:290, 0:240] = head
    canvas[50 : 50 + small.shape[0], 280 : 280 + small.shape[1]] = small
    return canvas


def _is_grey(face: FaceAnalysis) -> bool:
    centre = face.image[200:320, 200:320].astype(int)
    return bool(np.abs(centre[..., 0] - centre[..., 2]).mean() < 3)


def test_largest_face_by_default_and_index_picks_another(two_faces: np.ndarray, data_dir: Path) -> None:
    largest = analyze_face(two_faces)
    assert largest.n_faces == 2 and largest.face_index == 0
    assert not _is_grey(largest)
    other = analyze_face(two_faces, face_index=1)
    assert other.face_index == 1 and _is_grey(other)


def test_face_index_out_of_range(two_faces: np.ndarray, data_dir: Path) -> None:
    with pytest.raises(InputError) as err:
        analyze_face(two_faces, face_index=2)
    assert err.value.code == "face_index_out_of_range"
    assert "2 face(s) found" in err.value.message


def test_a_photo_seen_before_is_not_decoded_again(
    astronaut_png: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check_photo and load_face find a known photo's cached detection and analysis by its file's hash: no decode
    (10 ms a job at 512 px); each caller gets its own copy, and a cache file that is gone is made again."""
    from models.face import load

    decoded: list[Path] = []
    real = load.load_image
    monkeypatch.setattr(load, "load_image", lambda path, **kw: decoded.append(path) or real(path, **kw))
    assert load.check_photo(astronaut_png) == 1
    first = load.load_face(astronaut_png, 256)
    before = len(decoded)
    assert load.check_photo(astronaut_png) == 1
    second = load.load_face(astronaut_png, 256)
    assert len(decoded) == before
    assert np.array_equal(second.image, first.image) and np.array_equal(second.landmarks, first.landmarks)
    second.image[:] = 0
    assert np.array_equal(load.load_face(astronaut_png, 256).image, first.image)
    for cached in (data_dir / "cache" / "faces").glob("*.npz"):
        cached.unlink()
    assert np.array_equal(load.load_face(astronaut_png, 256).image, first.image)
    assert len(decoded) == before + 1


def test_teeth_in_a_warm_cast_photo_are_its_own(astronaut: np.ndarray, grace_hopper_jpg: Path, data_dir: Path) -> None:
    """A photo with a warm cast casts its teeth too: the astronaut with her blue and green dimmed (skin saturation
    about 180, her teeth about 160) still shows her own teeth, read against her skin (TEETH_OF_SKIN); drawn over with
    synthetic ones, a held-out face like her read as another face. Grace Hopper, lips closed, under the same cast
    shows none."""
    from models.face.analysis import WARM_SKIN, skin_colour
    from models.face.image import load_image

    cast = np.array([1.0, 0.75, 0.45], np.float32)
    warm = np.clip(astronaut.astype(np.float32) * cast, 0, 255).astype(np.uint8)
    face = analyze_face(warm)
    skin = cv2.cvtColor(skin_colour(face.image, face.landmarks).reshape(1, 1, 3), cv2.COLOR_RGB2HSV)[0, 0]
    assert skin[1] > WARM_SKIN
    assert face.teeth_visible
    grace = np.clip(load_image(grace_hopper_jpg).astype(np.float32) * cast, 0, 255).astype(np.uint8)
    assert not analyze_face(grace).teeth_visible


def test_an_opening_the_colour_of_its_lips_shows_no_teeth(astronaut_face: FaceAnalysis) -> None:
    """Teeth stand out from the lips around them. Read against the skin alone (bright and unsaturated), a washed-out
    small face's pale closed lips and a moustached mouth's pink lower lip, which dlib's inner lips enclosed, passed
    for the photo's own teeth: opened, they were a skin-coloured slab over a dark slot. The astronaut's opening
    filled with her own lips' colour shows none; her teeth, in colour and in grey, show."""
    from models.face.analysis import lip_colour, teeth_visible
    from models.face.frame import INNER_LIP

    image, points, open_px = astronaut_face.image, astronaut_face.landmarks, astronaut_face.mouth_open_px
    assert teeth_visible(image, points, open_px)
    grey = np.dstack([cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)] * 3)
    assert teeth_visible(grey, points, open_px)
    closed = image.copy()
    cv2.fillPoly(closed, [np.round(points[INNER_LIP]).astype(np.int32)], lip_colour(image, points).tolist())
    assert not teeth_visible(closed, points, open_px)
