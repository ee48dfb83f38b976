"""A small synchronous client for the HTTP API (used by `avatar batch` and the benchmark)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

TERMINAL = ("succeeded", "failed", "cancelled")


class APIClientError(Exception):
    def __init__(self, response: httpx.Response):
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:300]
        super().__init__(f"HTTP {response.status_code} from {response.request.url.path}: {message}")
        self.status_code = response.status_code


class AvatarClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.is_error:
            raise APIClientError(response)
        return response.json()

    def upload(self, kind: str, path: Path) -> str:
        with path.open("rb") as f:
            return self._check(self.http.post(f"/api/v1/upload/{kind}", files={"file": (path.name, f)}))["id"]

    def submit(self, body: dict[str, Any], idempotency_key: str | None = None) -> str:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._check(self.http.post("/api/v1/jobs", json=body, headers=headers))["job_id"]

    def job(self, job_id: str) -> dict[str, Any]:
        return self._check(self.http.get(f"/api/v1/jobs/{job_id}"))

    def wait(self, job_id: str, timeout: float = 3600, poll: float = 1.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (info := self.job(job_id))["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {info['status']} after {timeout:.0f}s")
            time.sleep(poll)
        return info

    def download(self, job_id: str, dest: Path) -> Path:
        """Save the result, following the redirect to a presigned URL when storage is S3."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.http.stream("GET", f"/api/v1/jobs/{job_id}/result", follow_redirects=True) as response:
            if response.is_error:
                response.read()
                raise APIClientError(response)
            with dest.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        return dest

    def close(self) -> None:
        self.http.close()
