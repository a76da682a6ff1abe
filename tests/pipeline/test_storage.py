from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline import errors
from pipeline.storage import LocalFolderStore, ObjectStore, S3Store, open_store


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return LocalFolderStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Store(f"t-{uuid.uuid4().hex[:8]}", endpoint, "testing", "testing")


def test_round_trip(store: ObjectStore) -> None:
    data = bytes(range(256)) * 4000
    store.put("originals/abc", data)
    assert store.exists("originals/abc")
    assert store.get("originals/abc") == data
    store.put("records/x/text.txt", "chữ Việt".encode())
    assert store.list("records/") == ["records/x/text.txt"]
    store.delete("originals/abc")
    assert not store.exists("originals/abc")


def test_missing_object_is_typed(store: ObjectStore) -> None:
    with pytest.raises(errors.ObjectMissing):
        store.get("originals/none")


@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", ""])
def test_keys_cannot_escape(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_unreachable_s3_is_storage_unavailable() -> None:
    from tests.conftest import free_port

    with pytest.raises(errors.StorageUnavailable):
        S3Store("b", f"127.0.0.1:{free_port()}", "k", "s")


def test_open_store_by_url(tmp_path: Path, s3_endpoint: str) -> None:
    assert isinstance(open_store((tmp_path / "o").as_uri()), LocalFolderStore)
    s3 = open_store("s3://bucket-one/prefix", s3_endpoint, "testing", "testing")
    s3.put("k", b"v")
    assert s3.get("k") == b"v"
    with pytest.raises(ValueError):
        open_store("ftp://x")
