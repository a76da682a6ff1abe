"""The archive PDF/A: opens, one page per source page, text layer holds the OCR text
where the words are on the page."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from pipeline.archive import ArchivePage, build_archive_pdf
from pipeline.ocr import TesseractEngine
from pipeline.types import PageText
from tests.synth import render_page, sample_fields

DPI = 200


@pytest.fixture(scope="module")
def read_pages() -> list[tuple[Image.Image, PageText, dict[str, str]]]:
    engine = TesseractEngine()
    out = []
    for doc_type, seed in (("birth_certificate", 5), ("application_form", 6)):
        fields = sample_fields(doc_type, seed)
        image, _ = render_page(doc_type, fields, dpi=DPI, seed=seed)
        out.append((image, engine.read(image.convert("L"), number=len(out) + 1, dpi=DPI), fields))
    return out


def _pdf(read_pages: list[tuple[Image.Image, PageText, dict[str, str]]], scale: float) -> bytes:
    pages = []
    for image, page, _ in read_pages:
        archive = image.resize((round(image.width * scale), round(image.height * scale)))
        pages.append(ArchivePage(archive, round(DPI * scale), page.text_layer_pdf))
    return build_archive_pdf(pages, title="test")


def test_pdfa_opens_with_one_page_per_source_page(read_pages, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _pdf(read_pages, 1.0)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 2
        meta = pdf.open_metadata()
        assert meta.pdfa_status == "2B"
        intent = pdf.Root.OutputIntents[0]
        assert intent.S == "/GTS_PDFA1"
        assert int(intent.DestOutputProfile.N) == 3
        assert not pdf.is_encrypted
        # A4 at any resolution is A4.
        width, height = (float(v) for v in pdf.pages[0].mediabox[2:])
        assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_text_layer_holds_the_ocr_text_in_place(read_pages, tmp_path: Path, scale: float) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.pdf"
    path.write_bytes(_pdf(read_pages, scale))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    tokens = set(text.split())
    for _, page, _fields in read_pages:
        words = [w.text for w in page.words]
        found = sum(w in tokens for w in words)
        assert found >= 0.97 * len(words), (found, len(words))
        assert page.lines[0] in text
    # Where is the first page's name in the PDF? It must be where OCR saw it (archive at
    # another resolution than the OCR image: the text layer is scaled to the page).
    bbox = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-"],
        capture_output=True,
        text=True,
    ).stdout
    surname = fields_first = read_pages[0][2]["full_name"].split()[0]
    word = next(w for w in read_pages[0][1].words if w.text == fields_first)
    m = re.search(
        r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">' + re.escape(surname) + "<",
        bbox,
    )
    assert m, surname
    x_pt, y_pt = float(m.group(1)), float(m.group(2))
    assert abs(x_pt - word.left * 72 / DPI) < 6
    assert abs(y_pt - word.top * 72 / DPI) < 6
