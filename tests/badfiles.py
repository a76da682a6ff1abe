"""Hostile and broken inputs, made on the fly so the repository holds no binaries."""

from __future__ import annotations

import io
import struct
import zlib

import pikepdf
from PIL import Image, ImageDraw


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
