"""OCR stage: the engine interface and its Tesseract implementation.

The engine is an interface so tests and fault injection can swap it out
(a Tesseract that crashes, a fake that returns canned words) without touching
the stages that call it.
"""

from __future__ import annotations

import os
from typing import Protocol

import pytesseract
from PIL import Image

from pipeline.errors import OcrFailed
from pipeline.types import PageText, Word

#: OSD answers only with quarter turns.
_QUARTER_TURNS = (0, 90, 180, 270)


class OcrEngine(Protocol):
    """What the pipeline needs from an OCR engine."""

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        """Degrees clockwise to rotate ``image`` by to make it upright, and a confidence."""
        ...

    def read(self, image: Image.Image, number: int, dpi: int) -> PageText:
        """Words with boxes and confidences of one upright page."""
        ...


class TesseractEngine:
    """Tesseract through pytesseract: one process per call, one thread each."""

    def __init__(self, lang: str = "vie", timeout_s: float = 0, script: str = "Latin") -> None:
        # One OpenMP thread is ~3x faster per page here; parallelism comes from pages.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.lang = lang
        self.timeout_s = timeout_s
        #: OSD's answer counts only when it also sees this script: on a photo or on
        #: noise it reports another script and a confident but arbitrary turn.
        self.script = script

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        """Quarter turn from OSD; (0, 0.0) when the page has too little text to tell."""
        try:
            osd = pytesseract.image_to_osd(
                image, output_type=pytesseract.Output.DICT, timeout=self.timeout_s
            )
        except pytesseract.TesseractError as exc:
            if "Too few characters" in str(exc.message):
                return 0, 0.0
            raise OcrFailed(f"orientation detection failed (status {exc.status})") from exc
        except (RuntimeError, OSError) as exc:
            raise OcrFailed(f"orientation detection failed: {type(exc).__name__}") from exc
        rotate = int(osd.get("rotate", 0)) % 360
        if rotate not in _QUARTER_TURNS or osd.get("script", self.script) != self.script:
            return 0, 0.0
        return rotate, float(osd.get("orientation_conf", 0.0))

    def read(self, image: Image.Image, number: int, dpi: int) -> PageText:
        """One full-page pass; words in reading order, line index by (block, par, line)."""
        try:
            data = pytesseract.image_to_data(
                image,
                lang=self.lang,
                config=f"--dpi {dpi}",
                output_type=pytesseract.Output.DICT,
                timeout=self.timeout_s,
            )
        except (pytesseract.TesseractError, RuntimeError, OSError) as exc:
            raise OcrFailed(f"tesseract failed on page {number}: {type(exc).__name__}") from exc
        return _page_from_data(data, number, image.width, image.height)


def _page_from_data(
    data: dict[str, list[object]], number: int, width: int, height: int
) -> PageText:
    """Turn Tesseract's TSV columns into a PageText, dropping empty and non-word rows."""
    line_index: dict[tuple[int, int, int], int] = {}
    words: list[Word] = []
    for i, raw_text in enumerate(data["text"]):
        text = str(raw_text).strip()
        conf = float(str(data["conf"][i]))
        if not text or conf < 0:
            continue
        key = (
            int(str(data["block_num"][i])),
            int(str(data["par_num"][i])),
            int(str(data["line_num"][i])),
        )
        line = line_index.setdefault(key, len(line_index))
        words.append(
            Word(
                text=text,
                confidence=max(0.0, min(1.0, conf / 100.0)),
                left=int(str(data["left"][i])),
                top=int(str(data["top"][i])),
                width=int(str(data["width"][i])),
                height=int(str(data["height"][i])),
                line=line,
            )
        )
    mean = sum(w.confidence for w in words) / len(words) if words else 0.0
    return PageText(number=number, width=width, height=height, words=words, mean_confidence=mean)
