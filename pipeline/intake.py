"""Intake: hash the original and decide whether it can be digitised at all.

Triage reads headers only (magic bytes, the PDF's page tree, an image's
declared size) so that a hostile file is refused before anything decodes it.

The type is what the file's first bytes say, never its name, and only one type is
ever read from a file: a polyglot (a JPEG that also holds a PDF, say) is digitised as
what an ordinary viewer shows, the type at offset 0. A PDF header may follow up to a
kilobyte of plain-text junk, as PDF readers allow; after binary bytes (a ZIP's local
header, another format's signature) it is not looked for, so an archive holding a
PDF is refused as unsupported_type rather than opened by a lenient parser.

The parsers (qpdf, Pillow) see untrusted bytes: whatever they raise on them is the
file's fault and becomes this module's typed error, so callers only ever see
``errors.SohoaError`` (tests/pipeline/test_fuzz_intake.py holds it to that).
"""

from __future__ import annotations

import hashlib
import io
import math
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
#: Pillow's name for each image kind: triage opens an image with that decoder only.
_PILLOW_FORMATS = {FileKind.png: "PNG", FileKind.jpeg: "JPEG", FileKind.tiff: "TIFF"}
#: Signatures of formats people send by mistake, named in the error for the operator.
_FOREIGN: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP, AVI, WAV)"),
    (b"%!PS", "a PostScript file"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)
#: Bytes allowed before a late PDF header: printable ASCII and line breaks (mail or HTTP
#: headers some senders prepend), after an optional UTF-8 byte-order mark.
_TEXT_JUNK = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0C, 0x0D}

#: ASCII digits only (``\d`` would take any script's digits) and nothing after the code
#: (``$`` would let a trailing newline through).
DOSSIER_CODE = re.compile(
    r"^(?P<agency>\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})-(?P<date>\d{6})-(?P<seq>\d{4})\Z",
    re.ASCII,
)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_name(name: str, limit: int = 200) -> str:
    """A file name fit for display and storage metadata: no path, no control characters.

    Only the last path component is kept; control, format (bidi overrides, zero-width)
    and unpaired surrogate characters are dropped; leading dots go (no hidden or
    ``..`` names). A long name is cut in its stem so the extension an operator
    recognises survives. Never empty, at most ``limit`` characters, and idempotent.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = base.strip()
    while base.startswith("."):
        base = base.lstrip(".").strip()
    base = base or "unnamed"
    if len(base) > limit:
        stem, dot, ext = base.rpartition(".")
        if dot and stem and len(ext) <= 10 and len(ext) + 1 < limit:
            base = stem[: limit - len(ext) - 1].rstrip() + "." + ext
        else:
            base = base[:limit].rstrip()
    return base


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
    """The one type the file is read as: its signature at offset 0 (see the module doc)."""
    for magic, kind, mime in _MAGIC:
        if data.startswith(magic):
            return kind, mime
    for magic, what in _FOREIGN:
        if data.startswith(magic):
            raise errors.UnsupportedType(f"The file is {what}, not a PDF, PNG, JPEG or TIFF scan.")
    at = data.find(b"%PDF-", 0, 1024)
    if at > 0 and all(b in _TEXT_JUNK for b in data[:at].removeprefix(b"\xef\xbb\xbf")):
        return FileKind.pdf, "application/pdf"
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
    except Exception as exc:  # qpdf on untrusted bytes: any failure is the file's
        raise errors.CorruptPdf() from exc
    with pdf:
        if pdf.is_encrypted:
            raise errors.EncryptedPdf("The PDF is encrypted.")
        try:
            count = len(pdf.pages)
        except Exception as exc:
            raise errors.CorruptPdf() from exc
        if count == 0:
            raise errors.CorruptPdf("The PDF has no pages.")
        if count > limits.max_pages:
            raise errors.TooManyPages(
                f"The PDF has {count} pages; the limit is {limits.max_pages}."
            )
        for number in range(count):
            w_in, h_in = _page_inches(pdf, number)
            # At 300 dpi; rasterise lowers the resolution for oversize pages instead.
            if w_in * h_in > 20 * 20:
                raise errors.ImageTooLarge("A PDF page is larger than 20 x 20 inches.")
    return count


def _page_inches(pdf: pikepdf.Pdf, number: int) -> tuple[float, float]:
    """A page's media box in inches; a page with no finite, non-empty box is corrupt."""
    try:
        box = [float(v) for v in pdf.pages[number].mediabox]
    except Exception as exc:  # missing, not an array, not numbers, a broken page tree
        raise errors.CorruptPdf("A page has no readable size.") from exc
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise errors.CorruptPdf("A page has no readable size.")
    w_in = abs(box[2] - box[0]) / 72.0
    h_in = abs(box[3] - box[1]) / 72.0
    if w_in <= 0 or h_in <= 0:
        raise errors.CorruptPdf("A page has no area.")
    return w_in, h_in


def _triage_image(data: bytes, kind: FileKind, limits: Limits) -> int:
    """Count frames and check each one's declared size, decoding no pixels.

    Frames are counted by seeking one at a time, so a TIFF with a million frames is
    refused at ``max_pages + 1`` instead of walking every directory first.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit below, before decoding
        try:
            img = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[kind]])
        except Exception as exc:  # Pillow on untrusted bytes: any failure is the file's
            raise errors.UnreadableImage() from exc
        frames = 0
        while True:
            try:
                if frames:
                    img.seek(frames)
                w, h = img.size
            except EOFError:
                break
            except Exception as exc:
                raise errors.UnreadableImage() from exc
            frames += 1
            if frames > limits.max_pages:
                raise errors.TooManyPages(
                    f"The image has more than {limits.max_pages} frames; "
                    f"the limit is {limits.max_pages}."
                )
            if w * h > limits.max_page_pixels:
                raise errors.ImageTooLarge(
                    f"A page is {w} x {h} pixels; the limit is {limits.max_page_pixels} pixels."
                )
            if w < 16 or h < 16:
                raise errors.UnreadableImage("The image is too small to hold text.")
            if not getattr(img, "is_animated", False):
                break
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
    return Triage(kind=kind, page_count=_triage_image(data, kind, limits), mime=mime)
