"""Demo inputs from installed packages only: scikit-image's public-domain astronaut photo (Eileen Collins, NASA)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def demo_image(directory: Path = Path("data/demo")) -> Path:
    from skimage import data

    path = directory / "astronaut.png"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.astronaut()).save(path)
    return path


if __name__ == "__main__":
    print(demo_image())
