"""What is learnt from a photo, kept on disk under <data_dir>/cache/<kind>, keyed by the photo's content: the faces
found in it, its analysis at an output size, its resting expression."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.settings import get_settings


def image_digest(image: np.ndarray) -> str:
    """The content hash of a decoded photo (its pixels and shape)."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes() + str(image.shape).encode()).hexdigest()


def cache_file(kind: str, name: str) -> Path:
    return get_settings().data_dir / "cache" / kind / name


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """`write(temporary path)`, then the file moved to `path`: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a unique temporary name: two jobs may work on the same photo at once
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    write(tmp)
    tmp.replace(path)
