"""The long-lived things a process needs (store, database), built once from Settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from config.settings import Settings
from pipeline.storage import ObjectStore, open_store
from pipeline.types import Limits
from schemas.db import make_engine, make_sessionmaker, migrate


@dataclass
class Services:
    settings: Settings
    store: ObjectStore
    engine: Engine
    sessions: sessionmaker[Any]

    @property
    def limits(self) -> Limits:
        s = self.settings
        return Limits(
            max_file_bytes=s.max_file_bytes,
            max_pages=s.max_pages,
            max_page_pixels=s.max_page_pixels,
        )

    @classmethod
    def from_settings(cls, settings: Settings, migrate_db: bool = True) -> Services:
        settings.ensure_dirs()
        if migrate_db:
            migrate(settings.db_url)
        engine = make_engine(settings.db_url)
        store = open_store(
            settings.object_store_url,
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            settings.s3_region,
        )
        return cls(
            settings=settings, store=store, engine=engine, sessions=make_sessionmaker(engine)
        )


def original_key(sha256: str) -> str:
    return f"originals/{sha256}"


def page_key(document_id: str, number: int, kind: str) -> str:
    """Per-page artifacts: json (words, quality), hocr, textlayer.pdf, archive.jpg."""
    return f"pages/{document_id}/{number:04d}.{kind}"


def record_key(record_code: str, name: str, version: int = 1) -> str:
    """Each version of a record has its own artifacts: old versions stay verifiable.

    The folder is a digest of the record code, not the code: codes start with the
    owner's ID number, and object keys end up in request and access logs.
    """
    folder = hashlib.sha256(record_code.encode()).hexdigest()[:32]
    return f"records/{folder}/v{version}/{name}"
