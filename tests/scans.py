"""Scans the tests feed through the pipeline, rendered on the fly from tests.synth."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image

from tests.synth import render_page, sample_fields


def pdf_of(images: list[Image.Image], dpi: int) -> bytes:
    buf = io.BytesIO()
    rgb = [im.convert("RGB") for im in images]
    rgb[0].save(buf, format="PDF", save_all=True, append_images=rgb[1:], resolution=float(dpi))
    return buf.getvalue()


@cache
def id_card_pdf(seed: int = 1, dpi: int = 300) -> tuple[bytes, dict[str, str]]:
    """Front and back of a chip ID card as a two-page PDF, with the fields printed on it."""
    fields = sample_fields("citizen_id_card", seed)
    front, _ = render_page("citizen_id_card", fields, dpi=dpi, seed=seed)
    back, _ = render_page("citizen_id_card_back", fields, dpi=dpi, seed=seed)
    return pdf_of([front, back], dpi), fields


@cache
def birth_certificate_png(seed: int = 2, dpi: int = 200) -> tuple[bytes, dict[str, str]]:
    fields = sample_fields("birth_certificate", seed)
    page, _ = render_page("birth_certificate", fields, dpi=dpi, seed=seed)
    buf = io.BytesIO()
    page.save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue(), fields
