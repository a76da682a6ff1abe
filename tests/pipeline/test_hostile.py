"""Hostile files (issue 6) through the intake and through `sohoa process --json --out`.

Each input of tests/badfiles.hostile_inputs() ends as its own error code or as a
record; no output path leaves --out, and no archive PDF carries a hostile file's
JavaScript, form scripts or attachments.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pikepdf
import pytest

from pipeline import errors
from pipeline.intake import safe_name, sha256_of, triage
from pipeline.rasterise import render_page
from pipeline.types import FileKind, Limits
from tests import badfiles
from tests.badfiles import RECORD, Hostile
from tests.conftest import ROOT

CASES = badfiles.hostile_inputs()
KINDS = {"photo.pdf": FileKind.jpeg, "polyglot.jpg": FileKind.jpeg}


def active_content(pdf_bytes: bytes) -> list[str]:
    """What in a PDF could run or drop something: scripts, actions, forms, attachments."""
    found = [m.decode() for m in (badfiles.JS_MARKER, badfiles.PAYLOAD_MARKER) if m in pdf_bytes]
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        root = pdf.Root
        found += [k for k in ("/OpenAction", "/AA") if k in root]
        names = root.get("/Names")
        if names is not None:
            found += [k for k in ("/JavaScript", "/EmbeddedFiles") if k in names]
        form = root.get("/AcroForm")
        if form is not None and "/XFA" in form:
            found.append("/XFA")
        for page in pdf.pages:
            if "/AA" in page.obj:
                found.append("page /AA")
            for annot in page.obj.get("/Annots", []):
                if annot.get("/Subtype") == "/FileAttachment" or "/A" in annot:
                    found.append("annotation action or attachment")
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    body = obj.read_bytes()
                except pikepdf.PdfError:
                    continue
                if badfiles.JS_MARKER in body or badfiles.PAYLOAD_MARKER in body:
                    found.append("marker in a stream")
    return found


def test_active_content_detector_can_fail() -> None:
    """The check used on archive PDFs does see what the hostile originals carry."""
    assert "/OpenAction" in active_content(badfiles.javascript_pdf())
    assert "/EmbeddedFiles" in active_content(badfiles.attachment_pdf())
    assert "/XFA" in active_content(badfiles.xfa_pdf())
    assert active_content(badfiles.small_pdf()) == []


@pytest.mark.parametrize("case", CASES, ids=[safe_name(c.name)[:24] for c in CASES])
def test_intake_outcome(case: Hostile) -> None:
    if case.expected == RECORD:
        tri = triage(case.data, Limits())
        assert tri.page_count == 1
        assert tri.kind is KINDS.get(case.name, tri.kind)
        page = render_page(case.data, tri, 1, dpi=150)
        assert min(page.image.size) >= 16
    else:
        with pytest.raises(errors.SohoaError) as info:
            triage(case.data, Limits())
        assert info.value.code == case.expected
        assert case.expected in errors.ERROR_CODES


def test_zip_and_polyglot_are_read_as_their_first_bytes() -> None:
    """The ZIP holds a readable PDF and the JPEG hides one: neither inner PDF is read."""
    with pytest.raises(errors.UnsupportedType, match="ZIP"):
        triage(badfiles.zip_named_pdf(), Limits())
    poly = badfiles.polyglot_jpeg_pdf()
    assert b"%PDF-" in poly[:1024] and b"%%EOF" in poly[-16:]
    assert triage(poly, Limits()).kind is FileKind.jpeg
    # A PDF behind plain-text junk (a mail header) is still a PDF; behind binary it is not.
    pdf = badfiles.text_pdf("x")
    assert triage(b"Content-Type: application/pdf\r\n\r\n" + pdf, Limits()).kind is FileKind.pdf
    with pytest.raises(errors.UnsupportedType):
        triage(b"\x00\x01junk" + pdf, Limits())


def test_page_and_frame_limits_at_the_edge() -> None:
    """500 frames is the default limit: accepted, the last frame renders; 501 is refused."""
    tri = triage(badfiles.tiff_frames(500), Limits())
    assert (tri.kind, tri.page_count) == (FileKind.tiff, 500)
    assert render_page(badfiles.tiff_frames(500), tri, 500).image.size == (64, 64)
    with pytest.raises(errors.TooManyPages):
        triage(badfiles.tiff_frames(501), Limits())
    assert triage(badfiles.many_pages_pdf(500), Limits()).page_count == 500
    with pytest.raises(errors.TooManyPages):
        triage(badfiles.many_pages_pdf(501), Limits())


def test_hostile_names_are_harmless() -> None:
    for name in badfiles.HOSTILE_NAMES:
        clean = safe_name(name)
        assert clean and len(clean) <= 200
        assert "/" not in clean and "\\" not in clean and not clean.startswith(".")
        assert all(unicodedata.category(ch)[0] != "C" for ch in clean)
        assert safe_name(clean) == clean
    assert safe_name("../../../etc/cron.d/ho-so.png") == "ho-so.png"
    assert safe_name("..\\..\\Windows\\System32\\ho-so.png") == "ho-so.png"
    assert safe_name("ctl\x00\x07\x1b[31m\r\n\t\u202egnp.exe\u200b.png") == "ctl[31mgnp.exe.png"
    long = safe_name(badfiles.HOSTILE_NAMES[3])
    assert len(long) == 200 and long.endswith("x.png") and long.startswith("tên-dài-")
    assert safe_name("..") == "unnamed"


def _disk_name(name: str) -> str:
    """The hostile name as a Linux file can carry it: no NUL or '/', at most 255 bytes."""
    disk = name.replace("\x00", "").replace("/", "\\")
    while len(disk.encode()) > 255:
        disk = disk[:-5] + ".png"
    return disk if disk not in (".", "..") else "..png"


def test_sohoa_process_json_and_out(tmp_path: Path) -> None:
    """Every hostile input through `sohoa process --json --out`, one process, one pool."""
    work = tmp_path / "in"
    work.mkdir()
    args, expected = [], []
    for i, case in enumerate(CASES):
        name = _disk_name(case.name)
        folder = work / f"{i:02d}"
        folder.mkdir()
        (folder / name).write_bytes(case.data)
        # A "../" in the argument itself: the file is reached through a sibling folder.
        args.append(f"{i:02d}/../{i:02d}/{name}")
        expected.append((case, safe_name(name)))
    out_dir = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "process",
            "--json",
            "--jobs",
            "2",
            "--out",
            "../out",
            *args,
        ],
        cwd=work,
        capture_output=True,
        timeout=300,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "HOME": str(tmp_path),
            "SOHOA_DATA_DIR": str(tmp_path / "data"),
        },
    )
    assert done.returncode == 2, done.stderr.decode(errors="replace")[-3000:]
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(lines) == len(CASES)
    codes = set()
    for line, (case, source) in zip(lines, expected, strict=True):
        assert line["source"] == source
        assert line["sha256"] == sha256_of(case.data)
        if case.expected == RECORD:
            assert line["status"] != "rejected", (case.name, line["error"])
            assert line["error"] is None and line["pages"] == [1]
            codes.add(line["record_code"])
        else:
            assert (line["status"], line["error"]["code"]) == ("rejected", case.expected)
    # --out holds one folder per record, named by its code, and nothing outside it.
    assert {p.name for p in out_dir.iterdir()} == codes
    root = out_dir.resolve()
    for path in out_dir.rglob("*"):
        assert path.resolve().is_relative_to(root)
        assert all(unicodedata.category(ch)[0] != "C" for ch in path.name)
    assert not any("payload" in p.name for p in tmp_path.rglob("*"))
    for line, (case, _) in zip(lines, expected, strict=True):
        if case.name in ("js.pdf", "attached.pdf", "xfa.pdf"):
            archive = (out_dir / line["record_code"] / "archive.pdf").read_bytes()
            assert active_content(archive) == [], case.name
