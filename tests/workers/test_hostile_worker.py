"""Every hostile input of issue 6 into ONE real worker on the embedded default.

Through the door (ingest_bytes): each ends with its own error code or a record, the
original stored byte for byte and the name sanitised. The refused ones are also sent
straight to the worker, as if they had slipped past intake: the worker refuses them
with the same code. Afterwards the worker is alive and still digitises a good file.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from pipeline.intake import safe_name, sha256_of
from schemas.db import Document, RecordRow
from tests import badfiles
from tests.badfiles import RECORD
from tests.conftest import WorkerProcess, embedded_env, settings_from, wait_final
from tests.pipeline.test_hostile import active_content
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services, original_key

ACTIVE = ("js.pdf", "attached.pdf", "xfa.pdf")


def test_hostile_files_through_one_worker(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    from workers.tasks import rasterise_document

    started = time.monotonic()
    env = embedded_env(tmp_path)
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    worker = start_worker(env)
    cases = badfiles.hostile_inputs()

    expected: dict[str, tuple[badfiles.Hostile, str]] = {}  # document id -> (case, door)
    for case in cases:
        ing = ingest_bytes(services, case.name, case.data)
        assert ing.source == safe_name(case.name)
        if case.expected == RECORD:
            assert ing.error is None, (case.name, ing.error)
        else:
            assert ing.error is not None and ing.error.code == case.expected, case.name
        expected[ing.document_id] = (case, "intake")
        if case.expected != RECORD:
            # The same bytes handed to the worker without intake's triage.
            with services.sessions() as s:
                doc = Document(sha256=ing.sha256, source=ing.source, size=len(case.data))
                s.add(doc)
                s.commit()
            expected[doc.id] = (case, "worker")
            rasterise_document.delay(doc.id)

    statuses = wait_final(services, list(expected), timeout=150, worker=worker)
    with services.sessions() as s:
        for doc_id, (case, door) in expected.items():
            doc = s.get(Document, doc_id)
            assert doc is not None
            rows = list(s.scalars(select(RecordRow).where(RecordRow.document_id == doc_id)))
            if case.expected == RECORD:
                assert statuses[doc_id] in ("ready", "needs_review"), (case.name, doc.error_code)
                assert [r.body["pages"] for r in rows] == [[1]], case.name
                if case.name in ACTIVE:
                    archive = services.store.get(rows[0].artifacts["pdf"])
                    assert active_content(archive) == [], case.name
            else:
                assert (doc.status, doc.error_code) == ("rejected", case.expected), (
                    case.name,
                    door,
                )
                assert rows == []
            assert all(unicodedata.category(ch)[0] != "C" for ch in doc.source)
            assert "/" not in doc.source and "\\" not in doc.source

    # Every original, byte for byte; every key plain, every file inside the store's folder.
    for case in cases:
        assert services.store.get(original_key(sha256_of(case.data))) == case.data, case.name
    root = Path(services.store.url.removeprefix("file://")).resolve()
    keys = services.store.list()
    assert all(k.isascii() and ".." not in k.split("/") for k in keys)
    for path in root.rglob("*"):
        assert path.resolve().is_relative_to(root)

    assert worker.alive()
    good = badfiles.scan_png("Sau cac tep doc\nTrang 1")
    ing = ingest_bytes(services, "after.png", good)
    assert wait_final(services, [ing.document_id], worker=worker)[ing.document_id] in (
        "ready",
        "needs_review",
    )
    assert worker.alive()
    assert time.monotonic() - started < 150
