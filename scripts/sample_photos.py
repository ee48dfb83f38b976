"""Real face photos that ship in installed packages, and edge cases made from them, for the tests and the gallery.

scikit-image's astronaut (Eileen Collins, NASA, public domain) and cameraman, and matplotlib's Grace Hopper (US
Navy, public domain), plus what users upload: a face cut by the image edge, a tight crop, RGBA on a light background,
grayscale, a small face in a big canvas, two people, a tilted head, dark glasses.

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


def grace_on_white() -> np.ndarray:
    """Grace Hopper cut out along her jaw line onto white, a narrow neck and a dark collar right under the chin:
    white lies directly behind the jaw, where a dropping chin must not drag a light band over the collar."""
    from models.face import landmarks as lm

    rgb = grace_hopper()
    points = lm.landmarks(rgb, lm.detect_faces(rgb)[0])
    height = float(np.linalg.norm(points[8] - points[27]))
    head = np.concatenate([points[:17], points[26:16:-1] - [0, 0.7 * height]]).astype(np.int32)
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(alpha, [head], 255)
    alpha = cv2.dilate(alpha, np.ones((5, 5), np.uint8))
    chin = points[8]
    neck = np.array([points[6], points[10], [points[10, 0], rgb.shape[0]], [points[6, 0], rgb.shape[0]]], np.int32)
    cv2.fillPoly(alpha, [neck], 255)
    out = np.full_like(rgb, 255)
    keep = cv2.GaussianBlur(alpha, (0, 0), 1.0)[..., None].astype(np.float32) / 255
    out = (out + keep * (rgb.astype(np.float32) - out)).astype(np.uint8)
    # the collar: dark cloth just under the chin, rising beside the neck to under the jaw
    side = chin[1] - 0.08 * height
    collar = np.array(
        [
            [points[4, 0], side],
            [points[7, 0], chin[1] + 0.06 * height],
            [points[9, 0], chin[1] + 0.06 * height],
            [points[12, 0], side],
            [points[12, 0], rgb.shape[0]],
            [points[4, 0], rgb.shape[0]],
        ],
        np.int32,
    )
    cv2.fillPoly(out, [collar], (28, 32, 58), cv2.LINE_AA)
    return out


def astronaut_sunglasses(lenses: tuple[float, float] = (0.95, 0.7)) -> np.ndarray:
    """The astronaut behind dark round sunglasses (a glint on each lens, a bridge): no eye to blink. `lenses`: half
    each lens's width and height, in eye widths."""
    from models.face import landmarks as lm

    image = astronaut().copy()
    points = lm.landmarks(image, lm.detect_faces(image)[0])
    dark = (18, 20, 24)
    for eye in (points[36:42], points[42:48]):
        centre, width = eye.mean(0), float(np.linalg.norm(eye[0] - eye[3]))
        lens = (int(centre[0]), int(centre[1] - 0.1 * width))
        cv2.ellipse(image, lens, tuple(int(share * width) for share in lenses), 0, 0, 360, dark, -1, cv2.LINE_AA)
        glint = (int(centre[0] - 0.4 * width), int(centre[1] - 0.35 * width))
        cv2.circle(image, glint, 2, (235, 235, 235), -1, cv2.LINE_AA)
    inner, across = points[39], points[42] - points[39]
    ends = [np.round(inner + share * across - [0, 8]).astype(int) for share in (0.2, 0.8)]
    cv2.line(image, tuple(ends[0]), tuple(ends[1]), dark, 3, cv2.LINE_AA)
    return image


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
    "grace_on_white": grace_on_white,
    "astronaut_sunglasses": astronaut_sunglasses,
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
