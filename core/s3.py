"""S3-compatible object storage (AWS S3, MinIO, SeaweedFS) for `AVATAR_STORAGE_URL=s3://BUCKET[/prefix]`.

Credentials and endpoint come from the standard AWS_* variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3). Path-style addressing and SigV4 are set explicitly so
self-hosted servers work without wildcard DNS. `fetch` downloads into a local cache under data_dir.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from core.keys import check_key
from core.settings import get_settings

_CLIENT_CONFIG = Config(
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    retries={"max_attempts": 5, "mode": "standard"},
)


def _client(endpoint_url: str | None) -> object:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=_CLIENT_CONFIG)


class S3Storage:
    def __init__(self, url: str):
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError(f"storage URL {url!r} names no bucket: use s3://BUCKET[/prefix]")
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        settings = get_settings()
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        self.client = _client(endpoint)
        # presigned URLs are handed to clients, who may reach the store under another name than workers do
        public = settings.s3_public_endpoint_url
        self.presign_client = _client(public) if public else self.client
        self.cache = (settings.data_dir / "cache" / "s3" / self.bucket).resolve()

    def _object(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def store(self, key: str, path: Path) -> str:
        self.client.upload_file(str(path), self.bucket, self._object(key))
        return key

    def fetch(self, key: str) -> Path:
        dest = self.cache / check_key(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{dest.name}.{os.getpid()}.part")
        try:
            self.client.download_file(self.bucket, self._object(key), str(tmp))
        except ClientError as exc:
            tmp.unlink(missing_ok=True)
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise FileNotFoundError(f"no object {key!r} in {self.url}") from exc
            raise
        tmp.replace(dest)
        return dest

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def delete_prefix(self, prefix: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._object(check_key(prefix.rstrip("/"))) + "/"
        )
        for page in pages:
            if objects := [{"Key": o["Key"]} for o in page.get("Contents", [])]:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        shutil.rmtree(self.cache / prefix.rstrip("/"), ignore_errors=True)

    def presigned_url(self, key: str, expires: int = 3600) -> str | None:
        return self.presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._object(key)}, ExpiresIn=expires
        )
