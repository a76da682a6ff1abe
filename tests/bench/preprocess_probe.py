"""Probe: Tesseract's CER on raw degraded pages vs prepare_page's output, and preprocessing CPU.

Not a test: run by hand (``python -m tests.bench.preprocess_probe [pages]``); it renders
a few pages per degradation, so it takes minutes.
"""

from __future__ import annotations

import os
import random
import sys
import time

import pytesseract
from PIL import Image
from rapidfuzz.distance import Levenshtein

from pipeline.preprocess import prepare_page
from pipeline.types import PageText
from tests.degrade import DEGRADATIONS, degrade
from tests.synth import render_page, sample_fields

DOCS = ("citizen_id_card", "birth_certificate", "application_form", "land_use_certificate")


class _NoOsd:
    """Counts fallbacks; answers 'unsure' so the probe measures the cheap path's accuracy."""

    calls = 0

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        _NoOsd.calls += 1
        return 0, 0.0

    def read(self, image: Image.Image, number: int, dpi: int) -> PageText:
        raise AssertionError("not used")


def _cer(truth: str, text: str) -> float:
    a, b = " ".join(truth.split()), " ".join(text.split())
    return Levenshtein.distance(a, b) / max(1, len(a))


def _ocr(image: object, dpi: int, psm: int = 3) -> tuple[str, float]:
    start = time.process_time()
    children = os.times().children_user + os.times().children_system
    text = pytesseract.image_to_string(image, lang="vie", config=f"--dpi {dpi} --psm {psm}")
    cpu = os.times().children_user + os.times().children_system - children
    return text, cpu + time.process_time() - start


def main(pages: int = 2, kinds: tuple[str, ...] = DEGRADATIONS) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    print("kind          raw_cer psm1_cer prep_cer  raw_s prep_s ocr_s  flags")
    for kind in kinds:
        raw = psm1 = prep = 0.0
        raw_t = prep_t = ocr_t = 0.0
        flags: list[str] = []
        for i in range(pages):
            doc = DOCS[i % len(DOCS)]
            dpi = 300
            image, lines = render_page(doc, sample_fields(doc, i), dpi=dpi, seed=i)
            truth = "\n".join(lines)
            bad, true_dpi = degrade(image, kind, random.Random(f"{kind}:{i}"), dpi)
            text, t = _ocr(bad, true_dpi)
            raw += _cer(truth, text)
            raw_t += t
            text, _ = _ocr(bad, true_dpi, psm=1)
            psm1 += _cer(truth, text)
            start = time.process_time()
            page = prepare_page(bad, true_dpi, _NoOsd())
            prep_t += time.process_time() - start
            text, t = _ocr(page.ocr_image, page.ocr_dpi)
            ocr_t += t
            prep += _cer(truth, text)
            q = page.quality
            flags.append(f"{q.rotation}/{q.skew_degrees}/{q.scale}{'b' if q.binarised else ''}")
            flags += q.rescan_reasons
        n = pages
        print(
            f"{kind:13s} {raw / n:7.3f} {psm1 / n:8.3f} {prep / n:8.3f} "
            f"{raw_t / n:6.2f} {prep_t / n:6.2f} {ocr_t / n:5.2f}  {' '.join(flags)}",
            flush=True,
        )
    print("OSD fallbacks:", _NoOsd.calls)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2, tuple(sys.argv[2:]) or DEGRADATIONS)
