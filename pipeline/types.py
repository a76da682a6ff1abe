"""Typed values passed between stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class FileKind(StrEnum):
    pdf = "pdf"
    png = "png"
    jpeg = "jpeg"
    tiff = "tiff"


@dataclass(frozen=True)
class Limits:
    """Per-file limits; each breach has its own error code."""

    max_file_bytes: int = 200 * 1024 * 1024
    max_pages: int = 500
    max_page_pixels: int = 100_000_000


@dataclass(frozen=True)
class Triage:
    """What intake learned about a file before any decoding of page content."""

    kind: FileKind
    page_count: int
    mime: str


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0..1
    left: int
    top: int
    width: int
    height: int
    line: int  # index of the line within the page, in reading order


@dataclass
class PageText:
    """OCR result of one page: words with boxes, lines in reading order."""

    number: int  # page number in the original, from 1
    width: int
    height: int
    words: list[Word] = field(default_factory=list)
    rotation: int = 0  # degrees clockwise applied before OCR (0, 90, 180, 270)
    mean_confidence: float = 0.0
    quality: PageQuality | None = None
    qr: str | None = None  # a QR code's text on this page (chip ID cards), when one decoded
    #: Same OCR pass, other renderings; kept apart from to_dict (stored as their own files).
    hocr: str = field(default="", repr=False, compare=False)
    text_layer_pdf: bytes = field(default=b"", repr=False, compare=False)

    def line_indices(self) -> dict[int, list[int]]:
        """Each line's number -> the indices of its words in ``words``, in order read."""
        grouped: dict[int, list[int]] = {}
        for index, w in enumerate(self.words):
            grouped.setdefault(w.line, []).append(index)
        return grouped

    @property
    def lines(self) -> list[str]:
        grouped = self.line_indices()
        return [" ".join(self.words[i].text for i in grouped[k]) for k in sorted(grouped)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "mean_confidence": self.mean_confidence,
            "quality": self.quality.to_dict() if self.quality else None,
            "qr": self.qr,
            "words": [
                [w.text, w.confidence, w.left, w.top, w.width, w.height, w.line] for w in self.words
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> PageText:
        raw_words = d.get("words", [])
        assert isinstance(raw_words, list)
        words = [
            Word(str(t), float(c), int(left), int(top), int(wd), int(h), int(ln))
            for t, c, left, top, wd, h, ln in raw_words
        ]
        return cls(
            number=int(d["number"]),  # type: ignore[call-overload]
            width=int(d["width"]),  # type: ignore[call-overload]
            height=int(d["height"]),  # type: ignore[call-overload]
            rotation=int(d.get("rotation", 0)),  # type: ignore[call-overload]
            mean_confidence=float(d.get("mean_confidence", 0.0)),  # type: ignore[arg-type]
            words=words,
            quality=PageQuality.from_dict(q) if isinstance(q := d.get("quality"), dict) else None,
            qr=str(d["qr"]) if d.get("qr") else None,
        )


@dataclass(frozen=True)
class PageClass:
    """What one page looks like on its own."""

    doc_type: str  # taxonomy code or "unknown"
    confidence: float
    has_title: bool  # a title starts a new document; no title continues the previous one
    by_model: bool = False  # typed by the n-gram model alone (no readable title)


@dataclass(frozen=True)
class DocumentSpan:
    """One paper found in a file: its type and its pages (numbers from 1)."""

    doc_type: str
    confidence: float
    pages: tuple[int, ...]


#: Re-read a box of a page (page number, (left, top, width, height) in the page's OCR
#: coordinates, allowed characters) as a single line: (text, confidence) or None.
Reread = Callable[[int, tuple[int, int, int, int], str], "tuple[str, float] | None"]


@dataclass(frozen=True)
class ExtractedField:
    value: str
    confidence: float
    #: Where it was printed: page number and (x0, y0, x1, y1) as fractions of the page
    #: image, so a viewer can mark it on any rendering of the page. None: not from OCR.
    page: int | None = None
    box: tuple[float, float, float, float] | None = None


#: Why a page should be scanned again (closed set; carried in records and the API).
RESCAN_REASONS = (
    "too_blurred",
    "too_dark",
    "low_contrast",
    "cut_off",
    "low_resolution",
    "low_ocr_confidence",
)


@dataclass
class PageQuality:
    """What preprocessing measured and did to one page: the operator's re-scan signal."""

    blur: float = 0.0  # sharpness: variance of the Laplacian on the grey page (higher = sharper)
    contrast: float = 0.0  # 0..1: spread between dark ink and paper
    brightness: float = 0.0  # 0..1: mean grey of the page
    text_height_px: float = 0.0  # median x-height-ish height of text in the input image
    estimated_dpi: int = 0  # from the text height, not the file's tag
    rotation: int = 0  # quarter turn applied, degrees clockwise
    skew_degrees: float = 0.0  # small rotation removed by deskew
    cropped: bool = False  # borders / desk removed
    perspective_corrected: bool = False  # four-corner warp applied
    scale: float = 1.0  # factor applied before OCR
    binarised: bool = False  # noisy: thresholded for OCR (the archive keeps its tones)
    flattened: bool = False  # uneven light evened out
    sharpened: bool = False  # ink edges measured blurred: unsharp mask applied
    despeckled: bool = False  # lone toner specks painted out
    mean_confidence: float | None = None  # filled in after OCR
    rescan_reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> PageQuality:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)  # type: ignore[arg-type]


@dataclass
class PreparedPage:
    """A page ready for OCR, and its archive copy with the same geometry.

    Both images are upright, cropped, deskewed and flattened alike; they may differ
    in scale (the OCR copy can be enlarged) and colour (the archive keeps colour,
    the OCR copy may be grey or binary). ``ocr_dpi / archive_dpi`` is that scale.
    """

    ocr_image: object  # PIL.Image.Image (kept untyped here to keep this module Pillow-free)
    ocr_dpi: int
    archive_image: object  # PIL.Image.Image, RGB or L
    archive_dpi: int
    quality: PageQuality
