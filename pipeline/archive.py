"""Archive copy: a searchable PDF/A-2b of one paper, the file other systems download.

Each page is the preprocessed archive image (colour kept, JPEG) with Tesseract's
text-only PDF page laid over it as an invisible, selectable text layer, scaled to
the page. The OCR ran once; the text layer is a by-product of that pass.
PDF/A-2b needs: XMP metadata declaring part 2 / conformance B, an output intent
with an embedded ICC profile, embedded fonts (Tesseract embeds its glyph-less
font) and no encryption.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import pikepdf
from PIL import Image, ImageCms


@dataclass
class ArchivePage:
    image: Image.Image  # upright, as the operator should see it
    dpi: int
    text_layer_pdf: bytes = b""  # Tesseract's textonly_pdf page for the same geometry


@cache
def _srgb_icc() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return bytes(profile.tobytes())


def _jpeg(image: Image.Image, quality: int) -> tuple[bytes, str]:
    mode = "L" if image.mode in ("1", "L") else "RGB"
    buf = io.BytesIO()
    image.convert(mode).save(buf, format="JPEG", quality=quality, optimize=False)
    return buf.getvalue(), "/DeviceGray" if mode == "L" else "/DeviceRGB"


def _add_page(pdf: pikepdf.Pdf, page: ArchivePage, quality: int) -> None:
    width_pt = page.image.width * 72.0 / page.dpi
    height_pt = page.image.height * 72.0 / page.dpi
    data, colourspace = _jpeg(page.image, quality)
    image = pikepdf.Stream(pdf, data)
    image.Type = pikepdf.Name.XObject
    image.Subtype = pikepdf.Name.Image
    image.Width, image.Height = page.image.width, page.image.height
    image.ColorSpace = pikepdf.Name(colourspace)
    image.BitsPerComponent = 8
    image.Filter = pikepdf.Name.DCTDecode
    content = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /Im0 Do Q".encode()
    new = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, width_pt, height_pt],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=pikepdf.Stream(pdf, content),
    )
    pdf.pages.append(pikepdf.Page(new))
    if page.text_layer_pdf:
        with pikepdf.open(io.BytesIO(page.text_layer_pdf)) as text_pdf:
            target = pdf.pages[-1]
            target.add_overlay(text_pdf.pages[0], pikepdf.Rectangle(0, 0, width_pt, height_pt))


def build_archive_pdf(
    pages: list[ArchivePage], title: str, producer: str = "sohoa", jpeg_quality: int = 80
) -> bytes:
    """One PDF/A-2b with a text layer; no personal data goes into its metadata."""
    pdf = pikepdf.new()
    for page in pages:
        _add_page(pdf, page, jpeg_quality)
    icc = pikepdf.Stream(pdf, _srgb_icc())
    icc.N = 3
    pdf.Root.OutputIntents = pikepdf.Array(
        [
            pikepdf.Dictionary(
                Type=pikepdf.Name.OutputIntent,
                S=pikepdf.Name.GTS_PDFA1,
                OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
                Info=pikepdf.String("sRGB IEC61966-2.1"),
                DestOutputProfile=icc,
            )
        ]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = title
        meta["pdf:Producer"] = producer
        meta["xmp:CreatorTool"] = producer
        meta["xmp:CreateDate"] = now.isoformat()
        meta["xmp:ModifyDate"] = now.isoformat()
        meta["pdfaid:part"] = "2"
        meta["pdfaid:conformance"] = "B"
    buf = io.BytesIO()
    pdf.save(buf, min_version="1.7", fix_metadata_version=True, deterministic_id=False)
    return buf.getvalue()
