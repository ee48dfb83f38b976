"""`avatar batch submit MANIFEST.csv`: many jobs through the HTTP API, resumable and concurrency-limited.

Manifest columns: image (a face photo) or video (a face video to re-voice), audio or text, and optional id and job
options (pipeline.options.JobOptions: fps, size, backend, emotion, seed, face_index, voice, enhancer; for a video
loop, trim, keep_audio). Relative paths are relative to the manifest.
The results CSV is rewritten after every row; rows it lists as succeeded are skipped on the next run, and each
row's Idempotency-Key (a hash of its content) makes a resubmitted row return the job it already has.
"""

from __future__ import annotations

import csv
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cli.client import APIClientError, AvatarClient
from pipeline.options import JobOptions, option_errors

RESULT_COLUMNS = ["id", "image", "video", "audio", "text", "job_id", "status", "output", "seconds", "error"]


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]
    for number, row in enumerate(rows, start=1):
        if bool(row.get("image")) == bool(row.get("video")) or not (row.get("audio") or row.get("text")):
            raise ValueError(f"{path}: row {number} needs an image or a video (one of them) and an audio or a text")
        try:
            _options(row)
        except ValidationError as err:
            raise ValueError(f"{path}: row {number}: {option_errors(err)}") from None
        row["id"] = row.get("id") or str(number)
    return rows


def _options(row: dict[str, str]) -> dict[str, Any]:
    """The row's option columns (empty cells: the server's settings)."""
    return JobOptions.model_validate({k: row[k] for k in JobOptions.model_fields if row.get(k)}).as_dict()


def _idempotency_key(row: dict[str, str], base: Path) -> str:
    digest = hashlib.sha256()
    for column in ("image", "video", "audio"):
        if row.get(column):
            digest.update((base / row[column]).read_bytes())
    digest.update(repr((row.get("text"), sorted(_options(row).items()))).encode())
    return "batch-" + digest.hexdigest()[:40]


class Results:
    """The results CSV, rewritten atomically after every change."""

    def __init__(self, path: Path):
        self.path, self.lock = path, threading.Lock()
        self.rows: dict[str, dict[str, str]] = {}
        if path.exists():
            with path.open(newline="") as f:
                self.rows = {row["id"]: row for row in csv.DictReader(f)}

    def done(self, row_id: str) -> bool:
        return self.rows.get(row_id, {}).get("status") == "succeeded"

    def put(self, row: dict[str, str]) -> None:
        with self.lock:
            self.rows[row["id"]] = row
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w", newline="") as f:
                writer = csv.DictWriter(f, RESULT_COLUMNS)
                writer.writeheader()
                writer.writerows(self.rows.values())
            tmp.replace(self.path)


def run_batch(
    manifest: Path, results_path: Path, out_dir: Path, api: str, api_key: str | None, concurrency: int
) -> dict[str, int]:
    rows = read_manifest(manifest)
    results = Results(results_path)
    client = AvatarClient(api, api_key)
    base = manifest.parent

    def run(row: dict[str, str]) -> str:
        record = {k: row.get(k, "") for k in ("id", "image", "video", "audio", "text")}
        face = "image" if row.get("image") else "video"
        try:
            body: dict[str, Any] = {
                f"{face}_id": client.upload(face, base / row[face]),
                "text": row.get("text") or None,
                "options": _options(row),
            }
            if row.get("audio"):
                body["audio_id"] = client.upload("audio", base / row["audio"])
            job_id = client.submit(body, _idempotency_key(row, base))
            results.put({**record, "job_id": job_id, "status": "queued"})
            info = client.wait(job_id)
            record.update(job_id=job_id, status=info["status"], seconds=str(sum(info["timings"].values())))
            if info["status"] == "succeeded":
                record["output"] = str(client.download(job_id, out_dir / f"{row['id']}.mp4"))
            elif info["error"]:
                record["error"] = f"{info['error']['code']}: {info['error']['message']}"
        except (APIClientError, OSError, TimeoutError, ValueError) as exc:
            record.update(status="failed", error=str(exc))
        results.put(record)
        return record["status"]

    todo = [row for row in rows if not results.done(row["id"])]
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            statuses = list(pool.map(run, todo))
    finally:
        client.close()
    return {
        "rows": len(rows),
        "skipped": len(rows) - len(todo),
        "succeeded": statuses.count("succeeded"),
        "failed": len(statuses) - statuses.count("succeeded"),
    }
