"""Fuzzing the intake (issue 6): random and mutated files, names and dossier codes.

The contract under test: `triage` either returns a consistent Triage or raises an
`errors.SohoaError` (nothing else, whatever qpdf or Pillow meet); `safe_name` always
gives a harmless name; `check_dossier_code` returns the code unchanged or raises
InvalidDossierCode. Here with a fixed, derandomised budget; `make fuzz` runs the same
properties with SOHOA_FUZZ_EXAMPLES examples each, randomised.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pipeline import errors
from pipeline.intake import DOSSIER_CODE, check_dossier_code, safe_name, triage
from pipeline.types import FileKind, Limits
from tests import badfiles

LONG_RUN = int(os.environ.get("SOHOA_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=LONG_RUN or 1000,
    derandomize=not LONG_RUN,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MIMES = {
    FileKind.pdf: "application/pdf",
    FileKind.png: "image/png",
    FileKind.jpeg: "image/jpeg",
    FileKind.tiff: "image/tiff",
}


def _image(fmt: str, **params: object) -> bytes:
    frames = [Image.new("L", (40, 24), 255 - 60 * i) for i in range(3)]
    buf = io.BytesIO()
    if fmt == "TIFF":
        frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], **params)
    else:
        frames[0].save(buf, fmt, **params)
    return buf.getvalue()


@functools.cache
def seeds() -> tuple[bytes, ...]:
    """Small valid files of every accepted kind, plus a few hostile ones to mutate."""
    return (
        badfiles.text_pdf("Trang 1"),
        badfiles.many_pages_pdf(3),
        badfiles.broken_xref_pdf(),
        badfiles.encrypted_pdf(),
        _image("PNG"),
        _image("JPEG", quality=50),
        _image("TIFF"),
        _image("TIFF", compression="tiff_lzw"),
        badfiles.tiff_frames(4, side=20),
        badfiles.huge_png(2000),
        badfiles.zip_named_pdf(),
    )


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed with a few flips, truncations, splices, insertions or deletions."""
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "insert", "delete", "dup"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            data = data[:at]
        elif op == "splice":
            other = draw(st.sampled_from(seeds()))
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start : start + draw(st.integers(0, 4096))]
        elif op == "insert":
            data[at:at] = draw(st.binary(max_size=64))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 256))]
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 512))]
    return bytes(data)


LIMITS = st.builds(
    Limits,
    max_file_bytes=st.sampled_from([200 * 1024 * 1024, 4096]),
    max_pages=st.integers(1, 6),
    max_page_pixels=st.sampled_from([100_000_000, 2_000]),
)
FILES = st.one_of(
    mutated(),
    st.binary(max_size=2048),
    # Random bytes behind each magic number, so every parser gets garbage too.
    st.tuples(
        st.sampled_from([b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00"]),
        st.binary(max_size=2048),
    ).map(lambda t: t[0] + t[1]),
)


def _check_triage(data: bytes, limits: Limits) -> None:
    try:
        tri = triage(data, limits)
    except errors.SohoaError as exc:
        assert isinstance(exc, errors.InputRejected), exc
        assert exc.code in errors.ERROR_CODES
        assert exc.detail
        return
    assert 1 <= tri.page_count <= limits.max_pages
    assert 0 < len(data) <= limits.max_file_bytes
    assert tri.mime == MIMES[tri.kind]
    # The kind is what the first bytes say (a PDF may follow text junk only).
    heads = {
        FileKind.png: (b"\x89PNG\r\n\x1a\n",),
        FileKind.jpeg: (b"\xff\xd8\xff",),
        FileKind.tiff: (b"II*\x00", b"MM\x00*"),
    }
    if tri.kind is FileKind.pdf:
        assert b"%PDF-" in data[:1024]
    else:
        assert data.startswith(heads[tri.kind])
    assert triage(data, limits) == tri  # no hidden state


@FUZZ
@given(data=FILES, limits=LIMITS)
def test_triage_raises_only_sohoa_errors(data: bytes, limits: Limits) -> None:
    _check_triage(data, limits)


def _tiff_frame_without_width() -> bytes:
    """Found by this fuzzer: a TIFF whose second frame has no ImageWidth tag made Pillow
    raise TypeError("Missing dimensions") out of triage (the worker's task then failed
    without a code and the document never reached a final status)."""
    data = bytearray(badfiles.tiff_frames(2, side=20))
    ifd = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, ifd)[0]
    ifd = struct.unpack_from("<I", data, ifd + 2 + 12 * count)[0]  # the second frame
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        if struct.unpack_from("<H", data, ifd + 2 + 12 * i)[0] == 256:
            struct.pack_into("<H", data, ifd + 2 + 12 * i, 0xFFF0)
    return bytes(data)


def _pdf_with_media_box(box: bytes) -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Count 1/Kids[3 0 R]>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[" + box + b"]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_tiff_frame_without_width(), "unreadable_image"),
        # A page of no area cannot be rendered: refused at the door, not by pdftoppm later.
        (_pdf_with_media_box(b"0 0 0 0"), "corrupt_pdf"),
        (_pdf_with_media_box(b"0 0 612 0"), "corrupt_pdf"),
        (_pdf_with_media_box(b"0 0 99999999 99999999"), "image_too_large"),
    ],
)
def test_regressions(data: bytes, code: str) -> None:
    with pytest.raises(errors.SohoaError) as info:
        triage(data, Limits())
    assert info.value.code == code


NAMES = st.one_of(
    st.text(max_size=400),
    st.lists(
        st.sampled_from(["..", ".", "/", "\\", "a", "ẩ", "\x00", "\n", "\u202e", " ", ".pdf", "x"]),
        max_size=80,
    ).map("".join),
)


@FUZZ
@given(name=NAMES, limit=st.integers(8, 300))
def test_safe_name_is_harmless(name: str, limit: int) -> None:
    clean = safe_name(name, limit)
    assert 0 < len(clean) <= limit
    assert "/" not in clean and "\\" not in clean
    assert not clean.startswith(".") and clean == clean.strip()
    assert all(unicodedata.category(ch)[0] != "C" for ch in clean)
    assert safe_name(clean, limit) == clean


VALID_CODE = "000.00.00.H55-230415-0001"
CODES = st.one_of(
    st.text(max_size=40),
    st.tuples(st.integers(0, len(VALID_CODE)), st.text(max_size=3), st.integers(0, 3)).map(
        lambda t: VALID_CODE[: t[0]] + t[1] + VALID_CODE[t[0] + t[2] :]
    ),
)


@FUZZ
@given(code=CODES)
def test_dossier_code_is_exact_or_refused(code: str) -> None:
    try:
        got = check_dossier_code(code)
    except errors.InvalidDossierCode:
        return
    if code == "":
        assert got is None
        return
    assert got == code
    assert DOSSIER_CODE.match(code) and code.isascii() and len(code) == len(VALID_CODE)


def test_dossier_code_edge_cases() -> None:
    """Found in review: `$` let a trailing newline in, `\\d` took other scripts' digits."""
    for bad in (
        VALID_CODE + "\n",
        "٠٠٠" + VALID_CODE[3:],
        VALID_CODE[:-4] + "٠٠٠١",
        "000.00.00.H55-230230-0001",
    ):
        with pytest.raises(errors.InvalidDossierCode):
            check_dossier_code(bad)
    assert check_dossier_code(VALID_CODE) == VALID_CODE
