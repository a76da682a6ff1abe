"""Object store: where originals and artifacts live, behind one small interface.

Two implementations: a local folder (the embedded default) and S3 through the
`minio` client (MinIO in production, any S3 endpoint in tests). Keys are
content-addressed where they can be (`originals/<sha256>`), so writing the
same object twice changes nothing.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from pipeline import errors


class ObjectStore(Protocol):
    url: str

    def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> list[str]: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError("invalid object key")
    return key


class LocalFolderStore:
    """Objects as files under a folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise errors.ObjectMissing(f"Missing object {key}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        # Walk only the prefix's folder: listing originals/ must not visit every page image.
        head = prefix.rpartition("/")[0]
        start = self.root
        if head and all(p not in ("", ".", "..") for p in head.split("/")):
            start = self.root / head
        keys = []
        for path in start.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)


def _http_client() -> Any:
    """Bounded waits: a store call that cannot reach the server fails within seconds as
    storage_unavailable, so the task's own backoff waits out an outage instead of a call
    blocked inside a page task until its hard time limit kills it."""
    import urllib3

    return urllib3.PoolManager(
        # A silent server (a partition, not a refusal) costs at most ~3 × 15 s here:
        # within a page task's I/O margin (workers.app.PAGE_IO_MARGIN_S) for most calls.
        timeout=urllib3.Timeout(connect=5.0, read=15.0),
        maxsize=10,
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


class S3Store:
    """Objects in an S3 bucket through the `minio` client; the bucket is created if missing."""

    def __init__(
        self,
        bucket: str,
        endpoint: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
    ) -> None:
        from minio import Minio

        parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
        secure = parsed.scheme == "https"
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.client = Minio(
            parsed.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_http_client(),
        )
        try:
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)
        except Exception as exc:  # minio raises urllib3 and S3 errors alike
            raise errors.StorageUnavailable(f"Cannot reach the S3 bucket {bucket}") from exc

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        full = self._key(key)
        try:
            self.client.put_object(
                self.bucket, full, io.BytesIO(data), len(data), content_type=content_type
            )
        except Exception as exc:
            raise errors.StorageUnavailable(f"Cannot write {key}") from exc

    def get(self, key: str) -> bytes:
        from minio.error import S3Error

        full = self._key(key)
        try:
            resp = self.client.get_object(self.bucket, full)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise errors.ObjectMissing(f"Missing object {key}") from exc
            raise errors.StorageUnavailable(f"Cannot read {key}") from exc
        except Exception as exc:
            raise errors.StorageUnavailable(f"Cannot read {key}") from exc

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        full = self._key(key)
        try:
            self.client.stat_object(self.bucket, full)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise errors.StorageUnavailable(f"Cannot stat {key}") from exc
        except Exception as exc:
            raise errors.StorageUnavailable(f"Cannot stat {key}") from exc

    def delete(self, key: str) -> None:
        full = self._key(key)
        try:
            self.client.remove_object(self.bucket, full)
        except Exception as exc:
            raise errors.StorageUnavailable(f"Cannot delete {key}") from exc

    def list(self, prefix: str = "") -> list[str]:
        base = self.prefix + "/" if self.prefix else ""
        full = base + prefix
        cut = len(self.prefix) + 1 if self.prefix else 0
        try:
            return sorted(
                o.object_name[cut:]
                for o in self.client.list_objects(self.bucket, prefix=full, recursive=True)
                if o.object_name
            )
        except Exception as exc:
            raise errors.StorageUnavailable("Cannot list objects") from exc


def open_store(
    url: str,
    endpoint: str = "",
    access_key: str = "",
    secret_key: str = "",
    region: str = "us-east-1",
) -> ObjectStore:
    """Pick the implementation from the URL: file:///path or s3://bucket[/prefix]."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalFolderStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        if not endpoint:
            raise ValueError("s3:// storage needs SOHOA_S3_ENDPOINT")
        return S3Store(parsed.netloc, endpoint, access_key, secret_key, region, parsed.path)
    raise ValueError(f"unsupported storage URL scheme: {parsed.scheme!r}")
