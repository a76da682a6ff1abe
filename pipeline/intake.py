"""Intake: hash the original and decide whether it can be digitised at all.

Triage reads headers only (magic bytes, the PDF's page tree, an image's
declared size) so that a hostile file is refused before anything decodes it.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from datetime import datetime

import pikepdf
from PIL import Image

from pipeline import errors
from pipeline.types import FileKind, Limits, Triage

_MAGIC: tuple[tuple[bytes, FileKind, str], ...] = (
    (b"%PDF-", FileKind.pdf, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", FileKind.png, "image/png"),
    (b"\xff\xd8\xff", FileKind.jpeg, "image/jpeg"),
    (b"II*\x00", FileKind.tiff, "image/tiff"),
    (b"MM\x00*", FileKind.tiff, "image/tiff"),
)

DOSSIER_CODE = re.compile(
    r"^(?P<agency>\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})-(?P<date>\d{6})-(?P<seq>\d{4})$"
)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_name(name: str, limit: int = 200) -> str:
    """A file name fit for display and storage metadata: no path, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = base.strip().lstrip(".") or "unnamed"
    return base[:limit]


def check_dossier_code(code: str | None) -> str | None:
    if code is None or code == "":
        return None
    m = DOSSIER_CODE.match(code)
    if m is None:
        raise errors.InvalidDossierCode(f"Invalid dossier code: {code[:40]!r}")
    try:
        datetime.strptime(m["date"], "%y%m%d")
    except ValueError:
        raise errors.InvalidDossierCode("The dossier code's date (yyMMdd) is not a date.") from None
    return code


def _sniff(data: bytes) -> tuple[FileKind, str]:
    head = data[:1024]
    for magic, kind, mime in _MAGIC:
        if kind is FileKind.pdf:
            # A PDF header may sit after some junk bytes in the first kilobyte.
            if magic in head:
                return kind, mime
        elif head.startswith(magic):
            return kind, mime
    raise errors.UnsupportedType()


def _triage_pdf(data: bytes, limits: Limits) -> int:
    if b"%%EOF" not in data[-1024:]:
        raise errors.TruncatedPdf()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise errors.EncryptedPdf() from exc
    except (pikepdf.PdfError, ValueError, RecursionError) as exc:
        raise errors.CorruptPdf() from exc
    with pdf:
        if pdf.is_encrypted:
            raise errors.EncryptedPdf("The PDF is encrypted.")
        try:
            count = len(pdf.pages)
        except (pikepdf.PdfError, RecursionError) as exc:
            raise errors.CorruptPdf() from exc
        if count == 0:
            raise errors.CorruptPdf("The PDF has no pages.")
        if count > limits.max_pages:
            raise errors.TooManyPages(
                f"The PDF has {count} pages; the limit is {limits.max_pages}."
            )
        for page in pdf.pages:
            try:
                box = [float(v) for v in page.mediabox]
            except (pikepdf.PdfError, TypeError, ValueError) as exc:
                raise errors.CorruptPdf("A page has no readable size.") from exc
            w_in = abs(box[2] - box[0]) / 72.0
            h_in = abs(box[3] - box[1]) / 72.0
            # At 300 dpi; rasterise lowers the resolution for oversize pages instead.
            if w_in * h_in > 20 * 20:
                raise errors.ImageTooLarge("A PDF page is larger than 20 x 20 inches.")
    return count


def _triage_image(data: bytes, limits: Limits) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit below, before decoding
            img = Image.open(io.BytesIO(data))
            frames = getattr(img, "n_frames", 1)
            if frames > limits.max_pages:
                raise errors.TooManyPages(
                    f"The image has {frames} frames; the limit is {limits.max_pages}."
                )
            for i in range(frames):
                img.seek(i)
                w, h = img.size
                if w * h > limits.max_page_pixels:
                    raise errors.ImageTooLarge(
                        f"A page is {w} x {h} pixels; the limit is {limits.max_page_pixels} pixels."
                    )
                if w < 16 or h < 16:
                    raise errors.UnreadableImage("The image is too small to hold text.")
    except errors.SohoaError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise errors.UnreadableImage() from exc
    return frames


def triage(data: bytes, limits: Limits) -> Triage:
    """Refuse what cannot be digitised, with a typed error; count the pages otherwise."""
    if len(data) == 0:
        raise errors.EmptyFile()
    if len(data) > limits.max_file_bytes:
        raise errors.FileTooLarge(
            f"The file is {len(data)} bytes; the limit is {limits.max_file_bytes}."
        )
    kind, mime = _sniff(data)
    if kind is FileKind.pdf:
        return Triage(kind=kind, page_count=_triage_pdf(data, limits), mime=mime)
    return Triage(kind=kind, page_count=_triage_image(data, limits), mime=mime)
