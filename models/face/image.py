"""Load a user's photo as RGB uint8: any common format, EXIF orientation applied, alpha flattened."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import InputError

# larger photos are downscaled to this many pixels: detection and a 512 px output gain nothing from more. By area,
# not by the longer side: a 512 x 5000 photo shrunk to 2048 px long left its face too small to be found
MAX_KEPT_PIXELS = 2048 * 2048
MIN_SIDE = 32  # below this no face can be found, let alone animated
MAX_ASPECT = 10  # longer side over shorter: beyond this it is a strip, not a portrait


def load_image(path: Path, max_pixels: int = 80_000_000) -> np.ndarray:
    """`path` as an RGB uint8 HxWx3 array of at most MAX_KEPT_PIXELS pixels.

    Raises InputError("image_too_large") for decompression bombs, InputError("unreadable_image") otherwise."""
    name = Path(path).name
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_pixels(img, name, max_pixels)
                _check_shape(img.width, img.height, name)
                img = ImageOps.exif_transpose(img)
                rgb = _to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(name, max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            "unreadable_image", f"{name} could not be read as an image (JPEG, PNG, WebP or BMP expected)."
        ) from exc
    return _cap_size(rgb)


def _check_pixels(img: Image.Image, name: str, max_pixels: int) -> None:
    if img.width * img.height > max_pixels:
        raise _too_large(name, max_pixels)


def _check_shape(width: int, height: int, name: str) -> None:
    if min(width, height) < MIN_SIDE:
        raise InputError(
            "image_too_small",
            f"{name} is {width}x{height} pixels; send a photo at least {MIN_SIDE} pixels on each side.",
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(
            "bad_image_shape",
            f"{name} is {width}x{height} pixels, more than {MAX_ASPECT} times longer one way than the other; "
            "send a portrait or crop it around the face.",
        )


def _too_large(name: str, max_pixels: int) -> InputError:
    return InputError(
        "image_too_large",
        f"{name} has more than {max_pixels / 1e6:.0f} megapixels (or claims to); upload a smaller photo.",
        status_code=413,
    )


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


def _cap_size(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = (MAX_KEPT_PIXELS / (h * w)) ** 0.5
    if scale >= 1:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
