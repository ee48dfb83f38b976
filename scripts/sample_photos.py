"""Real face photos that ship in installed packages, and edge cases made from them, for the tests and the gallery.

scikit-image's astronaut (Eileen Collins, NASA, public domain) and cameraman, and matplotlib's Grace Hopper (US
Navy, public domain), plus what users upload: a face cut by the image edge, a tight crop, RGBA on a light background,
grayscale, a small face in a big canvas, two people, a tilted head.

    python -m scripts.sample_photos DIR    # writes every photo to DIR as PNG
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    return np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))


def cameraman() -> np.ndarray:
    """scikit-image's cameraman (grayscale, a turned face that only dlib's CNN detector finds)."""
    from skimage import data

    return data.camera()


def astronaut_at_edge() -> np.ndarray:
    """The astronaut with her right cheek (image left) cut off by the left edge of the photo."""
    return np.ascontiguousarray(astronaut()[:, 190:])


def grace_tight() -> np.ndarray:
    """Grace Hopper cropped to her face: a square output must extend the photo on every side."""
    return np.ascontiguousarray(grace_hopper()[120:360, 170:380])


def grace_rgba() -> np.ndarray:
    """Grace Hopper cut out (RGBA, transparent around her): a white background right behind her jaw."""
    rgb = grace_hopper()
    h, w = rgb.shape[:2]
    alpha = np.zeros((h, w), np.uint8)
    cv2.ellipse(alpha, (276, 228), (104, 128), 0, 0, 360, 255, -1)
    cv2.rectangle(alpha, (222, 300), (332, 440), 255, -1)
    cv2.ellipse(alpha, (w // 2, h), (w // 2 - 20, 150), 0, 180, 360, 255, -1)
    return np.dstack([rgb, cv2.GaussianBlur(alpha, (0, 0), 2)])


def grace_gray() -> np.ndarray:
    return np.asarray(Image.fromarray(grace_hopper()).convert("L"))


def astronaut_small() -> np.ndarray:
    """The astronaut at 60 % of her size (a face of 53 px) in a 1600 x 1200 light grey canvas."""
    small = cv2.resize(astronaut(), (307, 307), interpolation=cv2.INTER_AREA)
    canvas = np.full((1200, 1600, 3), 205, np.uint8)
    canvas[600:907, 1000:1307] = small
    return canvas


def two_people() -> np.ndarray:
    """The astronaut and Grace Hopper side by side (Grace's face is the larger one)."""
    grace = grace_hopper()[44:556]
    return np.concatenate([astronaut(), grace], axis=1)


def astronaut_tilted() -> np.ndarray:
    """The astronaut's photo turned 14 degrees about her face."""
    image = astronaut()
    matrix = cv2.getRotationMatrix2D((225.0, 135.0), 14.0, 1.0)
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": astronaut,
    "grace_hopper": grace_hopper,
    "cameraman": cameraman,
    "astronaut_at_edge": astronaut_at_edge,
    "grace_tight": grace_tight,
    "grace_rgba": grace_rgba,
    "grace_gray": grace_gray,
    "astronaut_small": astronaut_small,
    "two_people": two_people,
    "astronaut_tilted": astronaut_tilted,
}


def write_photos(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in PHOTOS.items():
        paths.append(directory / f"{name}.png")
        Image.fromarray(make()).save(paths[-1])
    return paths


if __name__ == "__main__":
    for path in write_photos(Path(sys.argv[1] if len(sys.argv) > 1 else "data/photos")):
        print(path)
