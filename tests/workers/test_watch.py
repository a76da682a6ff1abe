"""The hot folder: complete files only, dossier sub-folders, .done/ and .rejected/."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from schemas.db import Document
from tests import badfiles
from tests.conftest import embedded_env, settings_from
from workers.app import configure
from workers.services import Services, original_key
from workers.watch import HotFolder


def test_hot_folder(tmp_path: Path) -> None:
    settings = settings_from(embedded_env(tmp_path))
    configure(settings)
    services = Services.from_settings(settings)
    root = tmp_path / "hot"
    hot = HotFolder(root, services)
    dossier = root / "000.00.00.H55-251125-0007"
    dossier.mkdir()
    good = badfiles.small_pdf()
    (dossier / "scan.pdf").write_bytes(good)
    (root / "locked.pdf").write_bytes(badfiles.encrypted_pdf())

    # First sighting only notes the size: a scanner may still be writing.
    assert hot.poll() == []
    assert (dossier / "scan.pdf").exists()
    # Growing file: not taken.
    partial = root / "growing.pdf"
    partial.write_bytes(good[:100])
    events = hot.poll()
    assert len(events) == 2
    assert partial.exists()

    assert (root / ".done" / "000.00.00.H55-251125-0007" / "scan.pdf").read_bytes() == good
    reason = json.loads((root / ".rejected" / "locked.pdf.reason.json").read_text())
    assert reason["code"] == "encrypted_pdf"
    with services.sessions() as s:
        docs = {d.source: d for d in s.scalars(select(Document))}
    assert docs["scan.pdf"].dossier_code == "000.00.00.H55-251125-0007"
    assert docs["locked.pdf"].status == "rejected"
    assert services.store.exists(original_key(docs["locked.pdf"].sha256))

    partial.write_bytes(good[:200])
    assert hot.poll() == []
    assert [e.split(":")[0] for e in hot.poll()] == ["growing.pdf"]
    assert (root / ".rejected" / "growing.pdf.reason.json").exists()
