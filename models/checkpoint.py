"""Loading user-provided torch checkpoints in their official layouts, strictly: a wrong file is a clear message."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from core.errors import BackendUnavailable

M = TypeVar("M")
# torch.nn.init's random fills, which every layer's constructor runs (reset_parameters)
RANDOM_INITS = (
    "uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
    "xavier_normal_", "orthogonal_", "sparse_",
)  # fmt: skip
_skeleton_lock = threading.Lock()


def _keep(tensor: Any, *args: Any, **kwargs: Any) -> Any:
    return tensor


def skeleton(build: Callable[[], M]) -> M:
    """`build()` with torch.nn.init's random fills skipped: the layers' weights are left uninitialised, for a
    strict load to replace them all (SadTalker's 181 M parameters: 1-3 s of CPU per process otherwise). Not
    the meta device: its first use imports torch's decompositions and sympy, another second. Only for models
    loaded strictly at once; the fills are restored on return (a lock keeps two skeletons apart)."""
    import torch.nn.init as init

    with _skeleton_lock:
        saved = {name: getattr(init, name) for name in RANDOM_INITS if hasattr(init, name)}
        try:
            for name in saved:
                setattr(init, name, _keep)
            return build()
        finally:
            for name, fill in saved.items():
                setattr(init, name, fill)


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


def load_strict(model: Any, state: dict[str, Any], path: Path, what: str, hint: str, assign: bool = False) -> Any:
    """Load `state` into `model` only if every key and shape matches; `hint` says which files do. `assign`: the
    model takes the state's tensors themselves (cast to its dtypes; on their device), no copy."""
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
    if not assign:
        model.load_state_dict(state)
        return model
    model.load_state_dict({k: state[k].to(expected[k].dtype) for k in expected}, assign=True)
    return model
