"""Frames made in forked processes: each process renders every n-th frame into memory shared with the parent,
which yields them in order.

Threads share one interpreter: the Python between a frame's NumPy and OpenCV calls holds the GIL for about a
third of a warp frame, so two render threads made frames only 1.2x as fast as one on two cores. Forked copies
of the renderer share nothing but the pages they read, and the encoder thread keeps the parent's interpreter.
Linux only (fork after the renderer is built: its arrays are shared copy-on-write, not sent); elsewhere, and
where the setting `render_processes` is off, frames are made on threads (models/render/base.in_order).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import mmap
import os
import select
import signal
import struct
import time
import traceback
from collections.abc import Callable, Iterator

import numpy as np

from models.threads import single_threaded_opencv

log = logging.getLogger(__name__)

AHEAD_PER_PROCESS = 2  # frames a process makes ahead of the parent: each has a slot of its own
WAIT_S = 1.0  # how often a waiting parent checks that its processes still live
# A process that reports no frame for this long is stuck, not slow (a warp frame takes milliseconds, at 1024 px under
# load well under a second): one forked while another thread of the parent held a lock, or a library object that
# frees threads of its own, can hang in the fork (models/media/video.rgb_array). The parent ends the processes and
# makes the remaining frames itself, so a job is slower instead of hanging for ever.
STALL_S = 60.0
_DONE = struct.Struct("<qq")  # (frame index, 0) when made; (-1, length) before a failure's message


class RenderProcessError(RuntimeError):
    """A forked render process failed (its traceback is the message) or died."""


class _Stalled(Exception):
    """A render process reported no frame for STALL_S."""


def can_fork() -> bool:
    return hasattr(os, "fork") and hasattr(os, "register_at_fork")


def in_order_forked(make: Callable[[int], np.ndarray], total: int, processes: int) -> Iterator[np.ndarray]:
    """make(0) .. make(total - 1) in `processes` forked processes, yielded in order (copied out of the shared
    memory). Frame 0 is made here: its shape sizes the shared slots."""
    with single_threaded_opencv():  # set before forking: a child must not touch OpenCV's pool, whose
        yield from _forked(make, total, processes)  # threads it does not have


def _forked(make: Callable[[int], np.ndarray], total: int, processes: int) -> Iterator[np.ndarray]:
    if total == 0:
        return
    first = make(0)
    yield first
    if total == 1:
        return
    slots = processes * AHEAD_PER_PROCESS
    memory = mmap.mmap(-1, slots * first.nbytes)  # anonymous and shared: the children write, the parent reads
    frames = np.frombuffer(memory, first.dtype).reshape(slots, *first.shape)
    workers: list[tuple[int, int, int]] = []
    try:
        try:
            for k in range(processes):
                workers.append(_start(make, k, total, processes, frames))
        except OSError as err:  # no process or pipe to be had (memory, process limits): the frames made here
            log.warning("could not start a render process (%s): making the frames in this one", str(err))
            _stop(workers)
            workers = []
        if not workers:
            yield from map(make, range(1, total))
            return
        for i in range(1, total):
            pid, done, free = workers[(i - 1) % processes]
            try:
                _wait_for(i, pid, done)
            except _Stalled:
                log.warning(
                    "a render process made no frame in %.0f s: making the frames from %d on in this one", STALL_S, i
                )
                _stop(workers)
                workers = []
                yield from map(make, range(i, total))
                return
            frame = frames[(i - 1) % slots].copy()
            if i + slots < total:  # its slot is filled again, by frame i + slots: freed only then (_free)
                _free(free)
            yield frame
    finally:
        _stop(workers)
        del frames
        with contextlib.suppress(BufferError):  # a view still held (by a traceback): unmapped when collected
            memory.close()


def _start(
    make: Callable[[int], np.ndarray], k: int, total: int, processes: int, frames: np.ndarray
) -> tuple[int, int, int]:
    """Fork process k, which makes frames 1 + k, 1 + k + processes, ...; returns (pid, its done pipe, its free
    pipe): it writes each finished frame's index to `done` and waits for a byte on `free` before reusing a slot."""
    done_read, done_write = os.pipe()
    free_read, free_write = os.pipe()
    os.write(free_write, b"\0" * AHEAD_PER_PROCESS)
    try:
        pid = os.fork()
    except OSError:
        for fd in (done_read, done_write, free_read, free_write):
            os.close(fd)
        raise
    if pid == 0:  # the child: render, report, and leave without running the parent's exit handlers
        code = 1
        try:
            os.close(done_read), os.close(free_write)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            gc.disable()  # no finaliser of the parent's objects runs here
            for i in range(1 + k, total, processes):
                if not os.read(free_read, 1):
                    break  # the parent went away
                np.copyto(frames[(i - 1) % len(frames)], make(i))
                os.write(done_write, _DONE.pack(i, 0))
            code = 0
        except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
            message = traceback.format_exc().encode()
            with contextlib.suppress(OSError):
                os.write(done_write, _DONE.pack(-1, len(message)) + message)
        finally:
            os._exit(code)
    os.close(done_write), os.close(free_read)
    return pid, done_read, free_write


def _free(free: int) -> None:
    """Let a process fill a slot again. A process leaves once its last frame is made, maybe before the frames ahead
    of it are taken: a slot is freed only for a frame it will still make, or the write finds no reader (a broken
    pipe). One that left early failed or died: its next frame's wait (_wait_for) says so."""
    with contextlib.suppress(BrokenPipeError):
        os.write(free, b"\0")


def _wait_for(i: int, pid: int, done: int) -> None:
    """Block until process `pid` reports frame i made; raise its failure, or its death, or _Stalled."""
    since = time.monotonic()
    while not select.select([done], [], [], WAIT_S)[0]:
        # WNOWAIT: not reaped here, so its pid stays its own until _stop kills and reaps it
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            raise RenderProcessError(f"the render process making frame {i} died")
        if time.monotonic() - since >= STALL_S:
            raise _Stalled
    header = _read(done, _DONE.size)
    if len(header) < _DONE.size:
        raise RenderProcessError(f"the render process making frame {i} died")
    index, length = _DONE.unpack(header)
    if index == -1:
        raise RenderProcessError(f"making frame {i} failed:\n{_read(done, length).decode(errors='replace')}")
    if index != i:
        raise RenderProcessError(f"expected frame {i}, a render process reported frame {index}")


def _read(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size and (chunk := os.read(fd, size - len(data))):
        data += chunk
    return data


def _stop(workers: list[tuple[int, int, int]]) -> None:
    """End the processes (those still rendering: the consumer stopped early, or one failed) and reap them."""
    for pid, done, free in workers:
        os.close(free)  # a process waiting for a slot reads end-of-file and leaves
        os.close(done)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid, _, _ in workers:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
