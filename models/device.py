"""Which torch device the neural backends run on: settings.device, narrowed by what this machine has."""

from __future__ import annotations

import importlib.util
import logging

from core.errors import BackendUnavailable
from core.settings import get_settings
from models.types import Availability

log = logging.getLogger(__name__)

NO_TORCH = "torch is not installed: pip install 'avatar-orchestrator[neural]'"


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def cuda_available() -> bool:
    if not torch_installed():
        return False
    import torch

    return torch.cuda.is_available()


def cuda_status() -> Availability:
    """Whether this process can use a CUDA device, and in words which one, or why not.

    It calls into the CUDA runtime: a process that forks workers afterwards (Celery's prefork parent) asks
    in a spawned child instead (workers.device_report)."""
    if not torch_installed():
        return Availability(False, f"no CUDA device: {NO_TORCH}")
    if get_settings().device == "cpu":
        return Availability(False, "no CUDA device: AVATAR_DEVICE=cpu")
    import torch

    if torch.version.cuda is None:
        return Availability(False, f"no CUDA device: torch {torch.__version__} is a CPU-only build")
    if not torch.cuda.is_available():
        import os

        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f"CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else "no driver or no GPU visible"
        return Availability(
            False, f"no CUDA device: torch {torch.__version__} (CUDA {torch.version.cuda}) sees none ({where})"
        )
    names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
    return Availability(True, f"CUDA: {torch.cuda.device_count()} x {', '.join(names)} (torch {torch.__version__})")


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
        raise BackendUnavailable("AVATAR_DEVICE=cuda but no CUDA device is visible (set AVATAR_DEVICE=auto or cpu)")
    return "cpu"


def gpu_for_planning() -> Availability:
    """Whether gpu work will run with CUDA, in words: this machine's device when it runs here (no broker, or
    AVATAR_GPU_QUEUE_FALLBACK_TO_CPU); else what the live gpu workers reported (core.gpu_workers)."""
    from core import gpu_workers

    settings = get_settings()
    if not settings.broker_url or settings.gpu_queue_fallback_to_cpu:
        return cuda_status()
    try:
        workers = gpu_workers.live()
    except Exception as exc:  # noqa: BLE001 - Redis away: plan without a GPU, and say why
        log.warning("could not read the gpu workers' device reports: %s", exc)
        return Availability(False, f"no CUDA device known: the gpu workers' reports could not be read ({exc})")
    if workers is None:
        return cuda_status()  # a broker that keeps no list: this machine's device is the best guess
    with_cuda = [w for w in workers if w.cuda]
    if with_cuda:
        return Availability(True, f"gpu worker {with_cuda[0].name}: {with_cuda[0].device}")
    if not workers:
        return Availability(False, "no CUDA device: no gpu worker is running (avatar worker --queues gpu)")
    return Availability(False, f"no CUDA device on the gpu workers ({workers[0].name}: {workers[0].device})")


def require_planned_cuda(backend: str, needs_cuda: bool) -> None:
    """A backend the plan took because a GPU was there (auto) refuses to run on a machine without one: the
    caller falls back down the chain and records this message."""
    if not needs_cuda:
        return
    status = cuda_status()
    if not status.ok:
        raise BackendUnavailable(
            f"{backend} was planned for a CUDA device, and this worker has none ({status.reason}); "
            "auto runs it on a GPU only"
        )
