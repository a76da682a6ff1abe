"""Rasterise: turn a triaged original into one image per page, exactly once.

A scanned PDF page is usually one JPEG drawn over the whole page: when it is, and
its resolution is the one asked for, the JPEG itself is the page: its pixels as
scanned, ~0.04 s of CPU an A4 page where pdftoppm takes ~0.22 s and resamples them
by a fraction of a pixel (which also hid a photocopy's noise from preprocessing).
Any other PDF page goes through poppler's `pdftoppm` (PPM: no encode cost); images
are decoded frame by frame with Pillow.
The page images are stored by the caller and every later stage reads them;
nothing rasterises the same page twice.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
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


#: Page operators a bare scan's content stream may use (save, matrix, draw image, restore).
_SCAN_OPERATORS = {"q", "Q", "cm", "Do"}
#: Colour spaces whose JPEG decodes to what poppler draws; anything else goes to pdftoppm.
_SCAN_MODES = {"/DeviceRGB": "RGB", "/DeviceGray": "L"}


def _inherited(page: pikepdf.Dictionary, key: str) -> object:
    """A page attribute, looked up the page tree as PDF inheritance says."""
    node: object = page
    for _ in range(64):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node[key]
        node = node.get("/Parent")
    return None


def _times(a: list[float], b: list[float]) -> list[float]:
    """Product of two PDF matrices [a b c d e f] (a applied first)."""
    return [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]


def _scan_image(pdf: pikepdf.Pdf, number: int, dpi: int) -> PageImage | None:
    """The page's own JPEG when the page is nothing else, at ``dpi``; None otherwise.

    Only the plainest case qualifies: no rotation, crop box, annotations or other
    drawing, one 8-bit grey or RGB JPEG without mask or decode array, drawn upright
    over the whole media box at the asked resolution (to the pixel). pdftoppm would
    give the same pixels resampled by a fraction of a pixel (a slight blur that drifts
    across the page); the JPEG's own pixels are the scan as it was made.
    """
    pdf_page = pdf.pages[number - 1]
    page = pdf_page.obj
    rotate = _inherited(page, "/Rotate")
    if (rotate is not None and int(rotate) % 360) or "/Annots" in page:  # type: ignore[call-overload]
        return None
    media = [float(v) for v in _inherited(page, "/MediaBox")]  # type: ignore[attr-defined]
    crop = _inherited(page, "/CropBox")
    if crop is not None and [float(v) for v in crop] != media:  # type: ignore[attr-defined]
        return None
    ctm, drawn, stack = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], [], []
    for instruction in pikepdf.parse_content_stream(pdf_page):
        if not isinstance(instruction, pikepdf.ContentStreamInstruction):
            return None  # an inline image
        operands, op = instruction.operands, str(instruction.operator)
        if op not in _SCAN_OPERATORS:
            return None
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else ctm
        elif op == "cm":
            ctm = _times([float(v) for v in operands], ctm)
        elif op == "Do":
            drawn.append((operands[0], ctm))
    if len(drawn) != 1:
        return None
    name, (a, b, c, d, e, f) = drawn[0]
    resources = _inherited(page, "/Resources")
    xobject = resources.get("/XObject", {}).get(name)  # type: ignore[attr-defined]
    if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != "/Image":
        return None
    filters = xobject.get("/Filter")
    if isinstance(filters, pikepdf.Array) and len(filters) == 1:
        filters = filters[0]
    mode = _SCAN_MODES.get(str(xobject.get("/ColorSpace")))
    if (
        filters != "/DCTDecode"
        or mode is None
        or int(xobject.get("/BitsPerComponent", 0)) != 8
        or any(k in xobject for k in ("/SMask", "/Mask", "/Decode", "/ImageMask"))
    ):
        return None
    width, height = int(xobject.get("/Width", 0)), int(xobject.get("/Height", 0))
    x0, y0 = min(media[0], media[2]), min(media[1], media[3])
    page_w, page_h = abs(media[2] - media[0]), abs(media[3] - media[1])
    pt = 72.0 / dpi  # one output pixel, in points
    upright = abs(b) < 1e-6 and abs(c) < 1e-6 and a > 0 and d > 0
    covers = (
        upright
        and abs(e - x0) < pt / 2
        and abs(f - y0) < pt / 2
        and abs(a - page_w) < pt / 2
        and abs(d - page_h) < pt / 2
    )
    if not covers or abs(width * pt - page_w) >= pt or abs(height * pt - page_h) >= pt:
        return None
    image = Image.open(io.BytesIO(xobject.read_raw_bytes()))
    if image.format != "JPEG" or image.mode != mode or image.size != (width, height):
        return None
    image.load()
    return PageImage(number=number, image=image, dpi=dpi)


def _embedded_scan(data: bytes, number: int, dpi: int) -> PageImage | None:
    """``_scan_image`` on the original's bytes; any doubt about the PDF means None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pikepdf.open(io.BytesIO(data)) as pdf:
                return _scan_image(pdf, number, dpi)
    except (
        pikepdf.PdfError,
        OSError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
        Image.DecompressionBombError,
    ):
        return None  # pdftoppm decides, and reports a broken page as such


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
            yield _embedded_scan(data, number, dpi) or _render_pdf_page(src, number, dpi, timeout_s)


def _frame(img: Image.Image) -> Image.Image:
    """The current frame, grey or RGB, turned as its EXIF says: one pixel copy, not three."""
    mode = "L" if img.mode in ("1", "L", "I;16", "I") else "RGB"
    frame = img.convert(mode) if img.mode != mode else img.copy()
    ImageOps.exif_transpose(frame, in_place=True)
    return frame


def _rasterise_image(data: bytes, triage: Triage) -> Iterator[PageImage]:
    try:
        img = Image.open(io.BytesIO(data))
        for index in range(triage.page_count):
            img.seek(index)
            yield PageImage(number=index + 1, image=_frame(img), dpi=_image_dpi(img))
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
        scan = _embedded_scan(data, number, dpi)
        if scan is not None:
            return scan
        with tempfile.TemporaryDirectory(prefix="sohoa-raster-") as tmp:
            src = Path(tmp, "in.pdf")
            src.write_bytes(data)
            return _render_pdf_page(src, number, dpi, timeout_s)
    try:
        img = Image.open(io.BytesIO(data))
        img.seek(number - 1)
        return PageImage(number=number, image=_frame(img), dpi=_image_dpi(img))
    except Exception as exc:  # any decoder failure on hostile bytes is the file's fault
        raise errors.UnreadableImage() from exc


def encode_jpeg(image: Image.Image, quality: int = 80) -> bytes:
    """Grey or RGB JPEG; an image already in one of those modes is saved without a copy."""
    buf = io.BytesIO()
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode == "1" else "RGB")
    image.save(buf, "JPEG", quality=quality)
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
