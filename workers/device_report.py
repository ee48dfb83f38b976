"""A gpu worker says at start whether it has a CUDA device, and keeps saying it while it runs.

- its log, at start: `gpu worker <name>: CUDA: 1 x NVIDIA H200 ...`, or a WARNING naming why there is none and
  what this worker does with work that was planned for a GPU;
- `celery -A workers.celery_app:app inspect device` (and so any Celery monitor) answers with the same record;
- core.gpu_workers: the record in Redis, refreshed every REFRESH_SECONDS, which the planner and
  GET /api/v1/status read.

The check runs in a spawned child: CUDA initialised in Celery's prefork parent breaks its forked pool children.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from typing import Any

from celery.worker.control import inspect_command

from core import gpu_workers

log = logging.getLogger(__name__)

_report: dict[str, Any] = {}  # this worker's record once it started (empty: not a gpu worker)
_stop = threading.Event()


def _probe() -> tuple[bool, str]:
    from models.device import cuda_status

    status = cuda_status()
    return status.ok, status.reason


def probe_in_child() -> tuple[bool, str]:
    """models.device.cuda_status(), asked in a fresh spawned process."""
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_probe)
    except Exception as exc:  # noqa: BLE001 - a broken CUDA install is a report, not a crashed worker
        return False, f"no CUDA device: the device check failed ({type(exc).__name__}: {exc})"


def start(name: str, queues: list[str]) -> None:
    """At worker start: for a worker on the gpu queue, find its device, log it, publish it and keep it fresh."""
    if "gpu" not in queues:
        return
    cuda, device = probe_in_child()
    _report.update(name=name, queues=queues, cuda=cuda, device=device)
    if cuda:
        log.info("gpu worker %s: %s", name, device)
    else:
        log.warning(
            "gpu worker %s: %s. Work planned for a GPU (SadTalker or GFPGAN chosen by auto) "
            "is refused here and falls back down its chain (sadtalker -> wav2lip -> warp, gfpgan -> none), the "
            "reason recorded in the job; Wav2Lip and backends asked for by name run on this CPU, slower. Run "
            "gpu workers on a machine with a CUDA device and a CUDA build of torch, or send gpu work to the cpu "
            "workers with AVATAR_GPU_QUEUE_FALLBACK_TO_CPU=true",
            name,
            device,
        )
    _stop.clear()
    threading.Thread(target=_keep_published, name="gpu-device-report", daemon=True).start()


def _keep_published() -> None:
    while True:
        try:
            gpu_workers.publish(_report["name"], _report["cuda"], _report["device"])
        except Exception as exc:  # noqa: BLE001 - the broker is away: the next refresh tries again
            log.warning("could not publish this gpu worker's device report: %s", exc)
        if _stop.wait(gpu_workers.REFRESH_SECONDS):
            return


def stop() -> None:
    if not _report:
        return
    _stop.set()
    try:
        gpu_workers.withdraw(_report["name"])
    except Exception as exc:  # noqa: BLE001 - it expires on its own
        log.warning("could not withdraw this gpu worker's device report: %s", exc)


@inspect_command()
def device(state: Any) -> dict[str, Any]:
    """This worker's device: {name, queues, cuda, device}; {} for a worker that does not take gpu work."""
    return dict(_report)
