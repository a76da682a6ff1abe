"""Rasterise: turn a triaged original into one image per page, exactly once.

PDF pages go through poppler's `pdftoppm` (PPM: no encode cost); images are
decoded frame by frame with Pillow. The page images are stored by the caller
and every later stage reads them; nothing rasterises the same page twice.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from pipeline import errors
from pipeline.types import FileKind, Triage

DEFAULT_IMAGE_DPI = 300


@dataclass
class PageImage:
    number: int  # from 1
    image: Image.Image
    dpi: int


def _image_dpi(img: Image.Image) -> int:
    dpi = img.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        value = 0
    return value if 50 <= value <= 1200 else DEFAULT_IMAGE_DPI


def _render_pdf_page(src: Path, number: int, dpi: int, timeout_s: int) -> PageImage:
    out = src.with_name(f"p{number}")
    try:
        proc = subprocess.run(
            [
                "pdftoppm",
                "-r",
                str(dpi),
                "-f",
                str(number),
                "-l",
                str(number),
                "-singlefile",
                str(src),
                str(out),
            ],
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise errors.PageTimeout(f"Rasterising page {number} took too long.") from exc
    ppm = out.with_suffix(".ppm")
    if proc.returncode != 0 or not ppm.exists():
        raise errors.CorruptPdf(f"Page {number} of the PDF cannot be rendered.")
    with Image.open(ppm) as img:
        img.load()
        page = img.convert("RGB")
    ppm.unlink()
    return PageImage(number=number, image=page, dpi=dpi)


def _rasterise_pdf(data: bytes, triage: Triage, dpi: int, timeout_s: int) -> Iterator[PageImage]:
    with tempfile.TemporaryDirectory(prefix="sohoa-raster-") as tmp:
        src = Path(tmp, "in.pdf")
        src.write_bytes(data)
        for number in range(1, triage.page_count + 1):
            yield _render_pdf_page(src, number, dpi, timeout_s)


def _rasterise_image(data: bytes, triage: Triage) -> Iterator[PageImage]:
    try:
        img = Image.open(io.BytesIO(data))
        for index in range(triage.page_count):
            img.seek(index)
            frame = ImageOps.exif_transpose(img.copy()) or img.copy()
            mode = "L" if frame.mode in ("1", "L", "I;16", "I") else "RGB"
            yield PageImage(number=index + 1, image=frame.convert(mode), dpi=_image_dpi(img))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise errors.UnreadableImage() from exc


def rasterise(
    data: bytes, triage: Triage, dpi: int = 300, timeout_s: int = 300
) -> Iterator[PageImage]:
    """Yield the pages of a triaged original, in order, with the DPI they carry."""
    if triage.kind is FileKind.pdf:
        yield from _rasterise_pdf(data, triage, dpi, timeout_s)
    else:
        yield from _rasterise_image(data, triage)


def render_page(
    data: bytes, triage: Triage, number: int, dpi: int = 300, timeout_s: int = 300
) -> PageImage:
    """Rasterise only page ``number`` (from 1): lets each page's task render its own page."""
    if not 1 <= number <= triage.page_count:
        raise ValueError(f"page {number} out of range 1..{triage.page_count}")
    if triage.kind is FileKind.pdf:
        with tempfile.TemporaryDirectory(prefix="sohoa-raster-") as tmp:
            src = Path(tmp, "in.pdf")
            src.write_bytes(data)
            return _render_pdf_page(src, number, dpi, timeout_s)
    try:
        img = Image.open(io.BytesIO(data))
        img.seek(number - 1)
        frame = ImageOps.exif_transpose(img.copy()) or img.copy()
        mode = "L" if frame.mode in ("1", "L", "I;16", "I") else "RGB"
        return PageImage(number=number, image=frame.convert(mode), dpi=_image_dpi(img))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise errors.UnreadableImage() from exc


def encode_jpeg(image: Image.Image, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    image.convert("L" if image.mode in ("1", "L") else "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def decode_image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def encode_png(image: Image.Image, dpi: int) -> bytes:
    """Lossless page image for the store; fast compression (the OCR reads it once)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1, dpi=(dpi, dpi))
    return buf.getvalue()


def decode_png(data: bytes) -> tuple[Image.Image, int]:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img, _image_dpi(img)
