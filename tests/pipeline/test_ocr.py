"""The Tesseract engine on rendered pages: real OCR, real diacritics."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import OcrFailed
from pipeline.ocr import OcrEngine, TesseractEngine, parse_hocr
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
    hocr_chars = "".join(re.findall(r"'ocrx_cinfo'[^>]*>([^<]+)</span>", page.hocr))
    assert fields["full_name"].replace(" ", "") in hocr_chars
    assert page.text_layer_pdf.startswith(b"%PDF")


def test_hocr_carries_character_boxes_and_keeps_true_colons(
    card: tuple[dict[str, str], PageText],
) -> None:
    _, page = card
    assert "class='ocrx_cinfo'" in page.hocr
    assert any(w.text.endswith(":") and len(w.text) > 1 for w in page.words)


def _hocr_word(
    chars: list[tuple[str, int, int, float]], wconf: int = 80, top: int = 10, bottom: int = 40
) -> str:
    spans = "".join(
        f"<span class='ocrx_cinfo' title='x_bboxes {x0} {top} {x1} {bottom}; x_conf {conf}'>"
        f"{c}</span>"
        for c, x0, x1, conf in chars
    )
    x0, x1 = chars[0][1], max(c[2] for c in chars)
    box = f"bbox {x0} {top} {x1} {bottom}; x_wconf {wconf}"
    return f"<span class='ocrx_word' title='{box}'>{spans}</span>"


def _hocr_page(*lines: list[str]) -> str:
    body = "".join(
        f"<span class='ocr_line' title='bbox 0 0 500 50'>{''.join(words)}</span>" for words in lines
    )
    return f"<html><body><div class='ocr_page' title='bbox 0 0 500 500'>{body}</div></body></html>"


def test_a_final_mark_without_ink_of_its_own_is_dropped() -> None:
    words = [
        # "HÀ_": the underscore's box ends inside the À's, read at 96.7 -> a phantom
        [("H", 100, 125, 99.5), ("À", 128, 152, 99.0), ("_", 151, 152, 96.7)],
        # "tên:": the colon has its own ink to the right of the n -> kept
        [
            ("t", 200, 210, 99.6),
            ("ê", 212, 230, 99.6),
            ("n", 232, 250, 99.6),
            (":", 254, 259, 99.6),
        ],
        # "tính:": the box ends on the letter's, but the read is confident -> kept
        [
            ("t", 300, 310, 99.6),
            ("í", 312, 320, 99.6),
            ("n", 322, 340, 99.6),
            ("h", 342, 360, 99.6),
            (":", 350, 360, 99.5),
        ],
        # a lone mark is never emptied
        [(".", 400, 405, 50.0)],
    ]
    body = "".join(_hocr_word(w) for w in words)
    hocr = (
        "<html><body><div class='ocr_page' title='bbox 0 0 500 50'>"
        f"<span class='ocr_line' title='bbox 0 0 500 50'>{body}</span></div></body></html>"
    )
    page = parse_hocr(hocr, 1, 500, 50)
    assert [w.text for w in page.words] == ["HÀ", "tên:", "tính:", "."]
    assert (page.words[0].left, page.words[0].width) == (100, 52)


def test_specks_read_as_marks_are_dropped_and_lines_stay_dense() -> None:
    def line(*words: str) -> str:
        return f"<span class='ocr_line' title='bbox 0 0 500 50'>{''.join(words)}</span>"

    hocr = (
        "<html><body><div class='ocr_page' title='bbox 0 0 500 200'>"
        + line(_hocr_word([("`", 0, 5, 40.0), (".", 6, 9, 40.0)], wconf=31))  # specks alone
        + line(
            _hocr_word([("H", 10, 30, 99.0), ("ọ", 32, 50, 99.0)], wconf=96),
            _hocr_word([(".", 60, 64, 30.0)], wconf=30),  # a speck inside a line
            _hocr_word([("/", 70, 80, 93.0)], wconf=93),  # a true mark, read with belief
            _hocr_word([("1", 90, 100, 40.0)], wconf=40),  # a doubtful digit is still a word
        )
        + "</div></body></html>"
    )
    page = parse_hocr(hocr, 1, 500, 200)
    assert page.lines == ["Họ / 1"]
    assert {w.line for w in page.words} == {0}


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


def test_marks_too_small_beside_their_line_are_specks_however_sure() -> None:
    hocr = _hocr_page(
        [
            _hocr_word([("H", 10, 30, 99.0), ("ọ", 32, 50, 99.0)], wconf=96),  # 30 px high
            _hocr_word([("-", 60, 63, 92.0)], wconf=92, top=30, bottom=33),  # 3 px: a speck
            _hocr_word([("-", 70, 78, 93.0)], wconf=93, top=28, bottom=32),  # a hyphen
            _hocr_word([("/", 90, 100, 93.0)], wconf=93),
            _hocr_word([("_", 110, 121, 50.0)], wconf=50, top=40, bottom=48),  # a dot as "_"
            _hocr_word([("_", 130, 210, 90.0)], wconf=90, top=40, bottom=42),  # a fill-in line
        ],
        [_hocr_word([(".", 10, 12, 90.0)], wconf=90, top=60, bottom=62)],  # on a line of its own
    )
    page = parse_hocr(hocr, 1, 500, 500)
    assert page.lines == ["Họ - / _"]


def test_an_underscore_glued_to_a_words_edge_is_a_speck() -> None:
    hocr = _hocr_page(
        [
            _hocr_word([("H", 10, 30, 99.0), ("À", 32, 50, 99.0), ("_", 51, 60, 60.0)], wconf=90),
            _hocr_word([("_", 70, 78, 60.0), ("A", 80, 100, 99.0)], wconf=90),
            _hocr_word([("B", 110, 130, 99.0), ("_", 131, 140, 60.0), ("_", 141, 150, 60.0)]),
        ]
    )
    assert parse_hocr(hocr, 1, 500, 500).lines == ["HÀ A B__"]


def test_lines_are_read_down_the_page() -> None:
    def line(text: str, top: int, left: int = 10) -> list[str]:
        chars = [(c, left + 20 * i, left + 20 * i + 18, 95.0) for i, c in enumerate(text)]
        return [_hocr_word(chars, wconf=95, top=top, bottom=top + 30)]

    hocr = _hocr_page(
        line("Một", 10),
        line("Ba", 200),
        line("Bốn", 202, left=300),  # the same row as "Ba": Tesseract's order kept
        line("Hai", 100),  # a block Tesseract set apart and read last
    )
    page = parse_hocr(hocr, 1, 500, 500)
    assert page.lines == ["Một", "Hai", "Ba", "Bốn"]
    assert sorted({w.line for w in page.words}) == [0, 1, 2, 3]


def test_dashes_are_told_apart_by_their_length_against_the_cap_height() -> None:
    def word(text: str, left: int, width: int, top: int = 10, bottom: int = 46) -> str:
        step = width // len(text)
        chars = [(c, left + step * i, left + step * (i + 1), 96.0) for i, c in enumerate(text)]
        return _hocr_word(chars, wconf=96, top=top, bottom=bottom)

    # Cap height 36 px (the T and H); dashes 6 px thick, 15, 19 and 44 px long, read "-".
    motto = [
        word("Tự", 0, 60),
        word("-", 80, 15, 30, 36),
        word("Hạnh", 120, 100),
        word("-", 240, 19, 30, 36),
        word("do", 280, 50),
        word("-", 350, 44, 30, 36),
        word("do", 410, 50),
        word("—", 470, 12, 24, 36),  # as tall as wide: not a dash, whatever it is
    ]
    no_capitals = [
        word("xa", 0, 40, 20, 46),
        word("-", 60, 30, 30, 36),
        word("xa", 100, 40, 20, 46),
    ]
    page = parse_hocr(_hocr_page(motto, no_capitals), 1, 500, 500)
    assert page.lines == ["Tự - Hạnh – do — do —", "xa - xa"]  # no cap height: kept as read
