"""Servers started on this machine by `avatar bench`, the benchmarks and the tests: a free loopback port, whether
a port answers, waiting until a server is up, a subprocess with its log, and a real `avatar serve`."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

AVATAR = [sys.executable, "-m", "cli.main"]  # the `avatar` command, run by this interpreter
REPO = Path(__file__).resolve().parent.parent


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(grpc_too: bool = False) -> int:
    """A free loopback TCP port (and, with `grpc_too`, port + 10000 free as well: SeaweedFS's gRPC convention)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not grpc_too or (port + 10000 < 65535 and not port_open("127.0.0.1", port + 10000)):
            return port


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `check` until it is true; TimeoutError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not come up within {seconds:.0f} s")


def answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`cmd` running with this environment minus AVATAR_* plus `env`, its output in `log`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AVATAR_")} | env
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=full_env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def server(env: dict[str, str], workdir: Path, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real `avatar serve` on a free loopback port; yields its base URL and its process."""
    port = free_port()
    base, log = f"http://127.0.0.1:{port}", workdir / f"serve-{port}.log"
    cmd = [*AVATAR, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with process(cmd, env, log) as proc:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"avatar serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            return answers(f"{base}/healthz")

        wait_until(up, 90, f"the API server (log: {log})")
        yield base, proc
