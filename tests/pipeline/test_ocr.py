"""The Tesseract engine on rendered pages: real OCR, real diacritics."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import OcrFailed
from pipeline.ocr import OcrEngine, TesseractEngine
from pipeline.types import PageText
from tests.synth import render_page, sample_fields

DPI = 300


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


@pytest.fixture(scope="module")
def card() -> tuple[dict[str, str], PageText]:
    fields = sample_fields("citizen_id_card", seed=2)
    image, _ = render_page("citizen_id_card", fields, dpi=DPI)
    return fields, TesseractEngine().read(image.convert("L"), number=3, dpi=DPI)


def test_engine_satisfies_the_protocol(engine: TesseractEngine) -> None:
    checked: OcrEngine = engine
    assert checked is engine
    assert os.environ["OMP_THREAD_LIMIT"] == "1"


def test_read_keeps_vietnamese_diacritics(card: tuple[dict[str, str], PageText]) -> None:
    fields, page = card
    assert fields["full_name"] in page.lines
    assert any(line.startswith("Quốc tịch / Nationality: Việt Nam") for line in page.lines)
    assert fields["personal_id"] in page.text


def test_read_returns_words_with_boxes_in_reading_order(
    card: tuple[dict[str, str], PageText],
) -> None:
    _, page = card
    assert page.number == 3
    assert (page.width, page.height) == (2022, 1276)
    assert page.words and all(w.text.strip() for w in page.words)
    assert all(0.0 <= w.confidence <= 1.0 for w in page.words)
    assert 0.8 < page.mean_confidence <= 1.0
    assert page.lines[0] == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    # Lines are numbered top to bottom, and the line numbers are dense.
    tops = [min(w.top for w in page.words if w.line == i) for i in range(len(page.lines))]
    assert tops == sorted(tops)
    assert page.rotation == 0


def test_one_pass_gives_hocr_and_text_layer(card: tuple[dict[str, str], PageText]) -> None:
    fields, page = card
    assert "class='ocr_page'" in page.hocr
    assert fields["full_name"].split()[-1] in page.hocr
    assert page.text_layer_pdf.startswith(b"%PDF")


def test_page_text_round_trips_through_dict(card: tuple[dict[str, str], PageText]) -> None:
    _, page = card
    assert PageText.from_dict(page.to_dict()) == page


def test_orientation_of_a_blank_page_is_unknown_not_an_error(engine: TesseractEngine) -> None:
    assert engine.orientation(Image.new("L", (600, 800), 255)) == (0, 0.0)


def test_blank_page_reads_as_no_words(engine: TesseractEngine) -> None:
    page = engine.read(Image.new("L", (600, 800), 255), number=1, dpi=DPI)
    assert page.words == []
    assert page.mean_confidence == 0.0


def test_tesseract_failure_is_ocr_failed() -> None:
    broken = TesseractEngine(lang="no_such_language")
    with pytest.raises(OcrFailed) as info:
        broken.read(Image.new("L", (100, 100), 255), number=1, dpi=DPI)
    assert info.value.code == "ocr_failed"
    assert not info.value.permanent


def test_orientation_of_noise_is_unknown(engine: TesseractEngine) -> None:
    # OSD reports a confident 180° turn on noise, but not in the Latin script.
    rng = np.random.default_rng(0)
    noise = Image.fromarray((rng.random((800, 600)) * 255).astype("uint8"))
    assert engine.orientation(noise) == (0, 0.0)
