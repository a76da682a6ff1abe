"""Orientation: a page fed sideways or upside down comes out upright."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.ocr import TesseractEngine
from pipeline.preprocess import MIN_ORIENTATION_CONFIDENCE, OSD_MAX_SIDE, preprocess
from tests.synth import render_page, rotate, sample_fields


class _FixedEngine:
    """An engine whose OSD answer is given; read is never called here."""

    def __init__(self, degrees: int, confidence: float) -> None:
        self.answer = (degrees, confidence)
        self.seen: list[tuple[int, int]] = []

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        self.seen.append(image.size)
        return self.answer

    def read(self, image: Image.Image, number: int, dpi: int) -> object:
        raise AssertionError("preprocess must not OCR")


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


@pytest.fixture(scope="module")
def card() -> Image.Image:
    image, _ = render_page("citizen_id_card", sample_fields("citizen_id_card", 4), seed=4)
    return image.convert("L")


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


def test_synth_rotate_turns_clockwise() -> None:
    # A black pixel in the top-left corner ends in the top-right after a clockwise quarter turn.
    image = Image.new("L", (4, 2), 255)
    image.putpixel((0, 0), 0)
    turned = rotate(image, 90)
    assert turned.size == (2, 4)
    assert turned.getpixel((1, 0)) == 0


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_turned_card_is_detected_and_made_upright(
    engine: TesseractEngine, card: Image.Image, turn: int
) -> None:
    upright, applied = preprocess(rotate(card, turn), engine)
    assert applied == (360 - turn) % 360
    assert _same(upright, card)


def test_upright_page_is_left_alone(engine: TesseractEngine, card: Image.Image) -> None:
    out, applied = preprocess(card.convert("RGB"), engine)
    assert applied == 0
    assert out.mode == "L"
    assert _same(out, card)


def test_large_page_is_checked_on_a_small_copy_and_still_turned(engine: TesseractEngine) -> None:
    image, _ = render_page("application_form", sample_fields("application_form", 5), dpi=300)
    gray = image.convert("L")
    spy = _FixedEngine(0, 0.0)
    preprocess(gray, spy)
    assert max(spy.seen[0]) == OSD_MAX_SIDE
    upright, applied = preprocess(rotate(gray, 90), engine)
    assert applied == 270
    assert _same(upright, gray)


def test_unsure_orientation_is_ignored() -> None:
    image = Image.new("RGB", (300, 200), "white")
    out, applied = preprocess(image, _FixedEngine(180, MIN_ORIENTATION_CONFIDENCE - 0.1))
    assert applied == 0
    assert out.size == (300, 200)


def test_sure_orientation_is_applied_clockwise() -> None:
    image = Image.new("L", (4, 2), 255)
    image.putpixel((0, 0), 0)
    out, applied = preprocess(image, _FixedEngine(90, MIN_ORIENTATION_CONFIDENCE))
    assert applied == 90
    assert out.size == (2, 4)
    assert out.getpixel((1, 0)) == 0
