"""Which torch device the neural backends run on: settings.device, narrowed by what this machine has."""

from __future__ import annotations

import importlib.util

from core.errors import BackendUnavailable
from core.settings import get_settings

NO_TORCH = "torch is not installed: pip install 'avatar-orchestrator[neural]'"


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def cuda_available() -> bool:
    if not torch_installed():
        return False
    import torch

    return torch.cuda.is_available()


def torch_device() -> str:
    """`cuda` or `cpu` for settings.device (auto|cpu|cuda); BackendUnavailable when it cannot be honoured."""
    if not torch_installed():
        raise BackendUnavailable(NO_TORCH)
    preference = get_settings().device
    if preference == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if preference == "cuda":
        raise BackendUnavailable(
            "AVATAR_DEVICE=cuda but no CUDA device is visible (set AVATAR_DEVICE=auto or cpu)"
        )
    return "cpu"
