"""Loading user-provided torch checkpoints in their official layouts, strictly: a wrong file is a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import BackendUnavailable


def read_state_dict(path: Path, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The state dict stored under the first of `keys` in the checkpoint at `path` (CPU tensors)."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt/foreign files
        raise BackendUnavailable(f"cannot read {what} checkpoint {path}: {err}") from err
    key = next((k for k in keys if isinstance(checkpoint, dict) and isinstance(checkpoint.get(k), dict)), None)
    if key is None:
        found = sorted(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise BackendUnavailable(
            f"{path} is not a {what} checkpoint: expected the official layout {{'{keys[0]}': ...}}, found {found}"
        )
    return checkpoint[key]


def load_strict(model: Any, state: dict[str, Any], path: Path, what: str, hint: str) -> Any:
    """Load `state` into `model` only if every key and shape matches; `hint` says which files do."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        raise BackendUnavailable(
            f"{path} does not match {what}: {len(missing)} missing keys {missing[:3]}, "
            f"{len(unexpected)} unexpected {unexpected[:3]}, {len(wrong_shape)} with other shapes "
            f"{wrong_shape[:3]} ({hint})"
        )
    model.load_state_dict(state)
    return model
