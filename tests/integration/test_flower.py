"""Flower, started by `avatar flower`, sees every worker (two on one host, each under its own default name) and the
task events they send, through the real broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from services import WEBHOOK_SECRET, Process, free_port, redis_server, service_env, wait_until


def test_flower_lists_workers_and_their_task_events(tmp_path: Path):
    with redis_server(tmp_path / "redis") as redis:
        env = service_env(
            {
                "AVATAR_BROKER_URL": redis.url,
                "AVATAR_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "AVATAR_DATA_DIR": str(tmp_path / "data"),
                "FLOWER_UNAUTHENTICATED_API": "true",
            }
        )
        subprocess.run([sys.executable, "-m", "cli.main", "migrate"], env=env, check=True, capture_output=True)
        # the project's own worker command, so the test covers its event settings and names
        workers = [
            Process(
                [sys.executable, "-m", "cli.main", "worker", "--queues", "cpu"], env, tmp_path / f"w{i}.log"
            ).start()
            for i in range(2)
        ]
        worker = workers[0]
        port = free_port()
        flower = Process(
            [sys.executable, "-m", "cli.main", "flower", "--port", str(port)], env, tmp_path / "flower.log"
        ).start()
        base = f"http://127.0.0.1:{port}"
        try:
            listed: list[str] = []

            def workers_listed() -> bool:
                try:
                    found = httpx.get(f"{base}/api/workers", params={"refresh": 1}, timeout=10).json()
                except (httpx.HTTPError, ValueError):
                    return False
                listed[:] = [
                    name
                    for name, info in found.items()
                    if info.get("active_queues") and info["active_queues"][0]["name"] == "cpu"
                ]
                return len(listed) == 2

            wait_until(workers_listed, 90, f"Flower to list both workers\n{flower.tail()}\n{worker.tail()}")
            assert all(name.startswith("avatar-cpu-") for name in listed), listed
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers.celery_app:app",
                    "call",
                    "avatar.reconcile",
                    "--queue",
                    "cpu",
                ],
                env=env,
                check=True,
                capture_output=True,
                cwd=Path(__file__).parents[2],
            )

            def reconcile_seen() -> bool:
                tasks = httpx.get(f"{base}/api/tasks", timeout=10).json()
                return any(t.get("name") == "avatar.reconcile" and t.get("state") == "SUCCESS" for t in tasks.values())

            wait_until(reconcile_seen, 60, f"Flower to record the task's events\n{worker.tail()}")
        finally:
            flower.stop()
            for process in workers:
                process.stop()
