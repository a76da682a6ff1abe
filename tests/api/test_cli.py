"""`sohoa process` as a user runs it: a real subprocess, real Tesseract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from schemas.record import Record
from tests import badfiles
from tests.conftest import ROOT
from tests.scans import birth_certificate_png, id_card_pdf


def _process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "process", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)},
    )


def test_process_json_lines_and_exit_status(tmp_path: Path) -> None:
    card, card_truth = id_card_pdf()
    birth, birth_truth = birth_certificate_png()
    (tmp_path / "cccd.pdf").write_bytes(card)
    (tmp_path / "khai-sinh.png").write_bytes(birth)
    done = _process("--json", "cccd.pdf", "khai-sinh.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = [Record.model_validate_json(line) for line in done.stdout.splitlines()]
    assert [r.doc_type for r in records] == ["citizen_id_card", "birth_certificate"]
    assert records[0].pages == [1, 2]
    assert records[0].fields["personal_id"].value == card_truth["personal_id"]
    assert records[1].fields["full_name"].value == birth_truth["full_name"]
    assert all(r.status.value in ("digitised", "needs_review") for r in records)


def test_rejected_input_prints_error_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "locked.pdf").write_bytes(badfiles.encrypted_pdf())
    (tmp_path / "empty.pdf").write_bytes(b"")
    done = _process("--json", "locked.pdf", "empty.pdf", cwd=tmp_path)
    assert done.returncode == 2
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(x["source"], x["status"], x["error"]["code"]) for x in lines] == [
        ("locked.pdf", "rejected", "encrypted_pdf"),
        ("empty.pdf", "rejected", "empty_file"),
    ]


def test_table_output(tmp_path: Path) -> None:
    (tmp_path / "x.pdf").write_bytes(b"not a pdf")
    done = _process("x.pdf", cwd=tmp_path)
    assert done.returncode == 2
    assert "unsupported_type" in done.stdout
