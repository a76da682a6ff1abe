"""Hostile and broken inputs, made on the fly so the repository holds no binaries."""

from __future__ import annotations

import functools
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

import pikepdf
from PIL import Image, ImageDraw, ImageFont

#: What a hostile input should end as: an error code, or RECORD (digitised into records).
RECORD = "record"


def small_pdf(pages: int = 1) -> bytes:
    images = []
    for i in range(pages):
        im = Image.new("RGB", (850, 1100), "white")
        ImageDraw.Draw(im).text((100, 100), f"Trang {i + 1}", fill="black")
        images.append(im)
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:], resolution=100.0)
    return buf.getvalue()


def truncated_pdf() -> bytes:
    data = small_pdf(2)
    return data[: len(data) // 2]


def text_named_pdf() -> bytes:
    return "Đây không phải là một tệp PDF.\n".encode() * 20


def encrypted_pdf() -> bytes:
    src = pikepdf.open(io.BytesIO(small_pdf()))
    buf = io.BytesIO()
    src.save(buf, encryption=pikepdf.Encryption(owner="o", user="secret", R=6))
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


@functools.lru_cache(maxsize=4)
def huge_png(side: int = 30_000) -> bytes:
    """A valid 1-bit PNG of side x side pixels: tiny on disk, a bomb when decoded."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row) for _ in range(side)]
    parts.append(comp.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def bad_inputs() -> list[tuple[str, bytes, str]]:
    """(file name, bytes, expected error code) for each kind of bad input."""
    return [
        ("empty.pdf", b"", "empty_file"),
        ("cut.pdf", truncated_pdf(), "truncated_pdf"),
        ("notes.pdf", text_named_pdf(), "unsupported_type"),
        ("locked.pdf", encrypted_pdf(), "encrypted_pdf"),
        ("bomb.png", huge_png(), "image_too_large"),
    ]


# --- hostile inputs (issue 6) -------------------------------------------------------------

#: Strings that must never reach an output: a hostile file's script and attachment.
JS_MARKER = b"sohoa-hostile-javascript"
PAYLOAD_MARKER = b"sohoa-hostile-attachment"


def text_page(text: str, dpi: int = 150) -> Image.Image:
    """A plain grey A5-ish page with a few large lines: quick to OCR, distinct per text."""
    im = Image.new("L", (dpi * 6, dpi * 8), 255)
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=dpi // 4)
    for i, line in enumerate(text.splitlines()):
        draw.text((dpi // 2, dpi // 2 + i * dpi // 2), line, font=font, fill=0)
    return im


def scan_png(text: str, dpi: int = 150) -> bytes:
    buf = io.BytesIO()
    text_page(text, dpi).save(buf, "PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def scan_jpeg(text: str, dpi: int = 150) -> bytes:
    buf = io.BytesIO()
    text_page(text, dpi).save(buf, "JPEG", quality=85, dpi=(dpi, dpi))
    return buf.getvalue()


def scan_pdf(text: str, dpi: int = 150) -> bytes:
    buf = io.BytesIO()
    text_page(text, dpi).save(buf, format="PDF", resolution=float(dpi))
    return buf.getvalue()


def text_pdf(text: str) -> bytes:
    """A one-page PDF drawing ``text`` in Helvetica: about a kilobyte."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = pdf.make_stream(f"BT /F1 28 Tf 60 700 Td ({escaped}) Tj ET".encode("latin-1"))
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 420, 595],
                Contents=content,
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            )
        )
    )
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _resave(pdf: pikepdf.Pdf) -> bytes:
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def broken_xref_pdf() -> bytes:
    """A scan whose cross-reference table points nowhere (offsets and startxref wrong)."""
    data = scan_pdf("Bang xref hong\nTrang 1")
    at = data.rindex(b"xref")
    tail = re.sub(rb"\d{10} (\d{5}) n", rb"0000000999 \1 n", data[at:])
    tail = re.sub(rb"startxref\s+\d+", b"startxref\n123", tail)
    return data[:at] + tail


def javascript_pdf() -> bytes:
    """A scan that runs JavaScript on open, from its name tree and on its page."""
    pdf = pikepdf.open(io.BytesIO(scan_pdf("Tep co JavaScript\nTrang 1")))
    script = pikepdf.String(f"app.alert('{JS_MARKER.decode()}');")
    action = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=script))
    pdf.Root.OpenAction = action
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("run"), action]))
    )
    pdf.pages[0].obj.AA = pikepdf.Dictionary(O=action)
    return _resave(pdf)


def attachment_pdf() -> bytes:
    """A scan carrying an embedded file, in the name tree and as a page annotation."""
    pdf = pikepdf.open(io.BytesIO(scan_pdf("Tep co dinh kem\nTrang 1")))
    spec = pikepdf.AttachedFileSpec(
        pdf, b"MZ" + PAYLOAD_MARKER * 8, mime_type="application/x-dosexec"
    )
    pdf.attachments["payload.exe"] = spec
    annot = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.FileAttachment,
        Rect=[10, 10, 30, 30],
        FS=spec.obj,
        Contents=pikepdf.String("payload"),
    )
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(annot)])
    return _resave(pdf)


def xfa_pdf() -> bytes:
    """A dynamic XFA form (with a script in its template) around an ordinary page."""
    pdf = pikepdf.open(io.BytesIO(scan_pdf("Bieu mau XFA\nTrang 1")))
    template = (
        b'<template xmlns="http://www.xfa.org/schema/xfa-template/3.3/"><subform>'
        b'<event activity="initialize"><script contentType="application/x-javascript">'
        + JS_MARKER
        + b"</script></event></subform></template>"
    )
    pdf.Root.AcroForm = pikepdf.Dictionary(
        Fields=pikepdf.Array(),
        NeedsRendering=True,
        XFA=pikepdf.Array([pikepdf.String("template"), pdf.make_stream(template)]),
    )
    return _resave(pdf)


def many_pages_pdf(pages: int = 2000) -> bytes:
    """``pages`` small page dictionaries sharing one content stream and font: ~150 bytes a page."""
    pdf = pikepdf.new()
    content = pdf.make_stream(b"BT /F1 24 Tf 72 700 Td (Trang) Tj ET")
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    resources = pdf.make_indirect(pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)))
    for _ in range(pages):
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 595, 842],
            Contents=content,
            Resources=resources,
        )
        pdf.pages.append(pikepdf.Page(page))
    return _resave(pdf)


def tiff_frames(frames: int = 500, side: int = 64, last_side: int | None = None) -> bytes:
    """A multi-page TIFF of blank 1-bit frames (G4: ~150 bytes each); ``last_side``
    gives the last frame another size, to show triage looks at every frame."""
    images = [Image.new("1", (side, side), 1) for _ in range(frames)]
    if last_side is not None:
        images[-1] = Image.new("1", (last_side, last_side), 1)
    buf = io.BytesIO()
    images[0].save(buf, "TIFF", save_all=True, append_images=images[1:], compression="group4")
    return buf.getvalue()


def zip_named_pdf() -> bytes:
    """A ZIP holding a PDF stored uncompressed: %PDF- and %%EOF both sit where a lax
    sniffer looks (first and last kilobyte), yet the file is an archive, not a scan."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("scan.pdf", text_pdf("Trong tep ZIP"))
    return buf.getvalue()


def polyglot_jpeg_pdf() -> bytes:
    """A JPEG that is also a PDF: a whole PDF in a comment segment near the start, and an
    end-of-file marker after the image. An image viewer shows the JPEG; a lax PDF reader
    finds a different page."""
    jpeg = scan_jpeg("Anh JPEG that\nTrang 1")
    inner = text_pdf("Trang PDF an")
    assert len(inner) < 65_000
    comment = b"\xff\xfe" + struct.pack(">H", len(inner) + 2) + inner
    return jpeg[:2] + comment + jpeg[2:] + b"\n%%EOF\n"


#: File names an uploader or a scanner's share may send. None of them may escape a folder,
#: hide a file, or put control characters in a log line or the database.
HOSTILE_NAMES: tuple[str, ...] = (
    "../../../etc/cron.d/ho-so.png",
    "..\\..\\Windows\\System32\\ho-so.png",
    "ctl\x00\x07\x1b[31m\r\n\t\u202egnp.exe\u200b.png",
    "tên-dài-" + "x" * 288 + ".png",
    ".ẩn.png",
    "..",
)


@dataclass(frozen=True)
class Hostile:
    """One hostile input and what sohoa must make of it: an error code or RECORD."""

    name: str
    data: bytes
    expected: str
    why: str


@functools.cache
def hostile_inputs() -> tuple[Hostile, ...]:
    """Every hostile input of issue 6, with the outcome decided for it (default limits)."""
    cases = [
        Hostile("zero.pdf", b"", "empty_file", "nothing to read"),
        Hostile("cut.pdf", truncated_pdf(), "truncated_pdf", "no %%EOF in the last kilobyte"),
        Hostile("xref.pdf", broken_xref_pdf(), RECORD, "qpdf and poppler rebuild the xref"),
        Hostile("locked.pdf", encrypted_pdf(), "encrypted_pdf", "a password is needed"),
        Hostile("js.pdf", javascript_pdf(), RECORD, "pages digitised; the script never runs"),
        Hostile("attached.pdf", attachment_pdf(), RECORD, "pages digitised; nothing extracted"),
        Hostile("xfa.pdf", xfa_pdf(), RECORD, "the page as drawn; the form never runs"),
        Hostile("pages.pdf", many_pages_pdf(2000), "too_many_pages", "2,000 > 500 pages"),
        Hostile("bomb.png", huge_png(40_000), "image_too_large", "1.6 G pixels > 100 M"),
        Hostile(
            "frames.tiff",
            tiff_frames(500, last_side=8),
            "unreadable_image",
            "500 frames are within the limit; frame 500 is too small to hold text",
        ),
        Hostile("photo.pdf", scan_jpeg("Anh chup\nTrang 1"), RECORD, "sniffed: a JPEG"),
        Hostile("archive.pdf", zip_named_pdf(), "unsupported_type", "a ZIP, whatever it holds"),
        Hostile("polyglot.jpg", polyglot_jpeg_pdf(), RECORD, "read as its first bytes say: JPEG"),
    ]
    for i, name in enumerate(HOSTILE_NAMES):
        cases.append(Hostile(name, scan_png(f"Ten tep {i}\nTrang 1"), RECORD, "name sanitised"))
    return tuple(cases)
