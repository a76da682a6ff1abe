"""Assemble: turn classified, extracted pages into records and their artifacts."""

from __future__ import annotations

import io
import re

from PIL import Image

from config.taxonomy import DOC_TYPES
from pipeline.types import DocumentSpan, ExtractedField, PageText
from schemas.record import FieldValue, Record, RecordError, RecordStatus

#: A field read with less confidence than this sends the record to a human.
REVIEW_THRESHOLD = 0.6


def document_text(pages: list[PageText]) -> str:
    return "\n\n".join(p.text for p in pages)


def _code_part(value: str) -> str:
    return re.sub(r"[^0-9A-Za-z-]+", "-", value).strip("-")[:40] or "x"


def record_code(
    fields: dict[str, ExtractedField], doc_type: str, sha256: str, first_page: int, suffix: int = 1
) -> str:
    """`{owner ID}.{paper-type code}.{document number}.{NN}` (DOMAIN.md).

    Without a personal ID the owner part is the original's hash prefix, and without
    a document number the page where the paper starts: still unique and stable.
    """
    owner = fields["personal_id"].value if "personal_id" in fields else sha256[:12]
    number = fields["document_number"].value if "document_number" in fields else f"p{first_page}"
    return f"{_code_part(owner)}.{doc_type}.{_code_part(number)}.{suffix:02d}"


def record_status(doc_type: str, fields: dict[str, ExtractedField]) -> RecordStatus:
    if doc_type == "unknown":
        return RecordStatus.needs_review
    required = DOC_TYPES[doc_type].required if doc_type in DOC_TYPES else ()
    if any(name not in fields for name in required):
        return RecordStatus.needs_review
    if any(f.confidence < REVIEW_THRESHOLD for f in fields.values()):
        return RecordStatus.needs_review
    return RecordStatus.ready


def assemble_record(
    *,
    document_id: str,
    source: str,
    sha256: str,
    dossier_code: str | None,
    span: DocumentSpan,
    pages: list[PageText],
    fields: dict[str, ExtractedField],
    suffix: int = 1,
) -> Record:
    return Record(
        record_code=record_code(fields, span.doc_type, sha256, span.pages[0], suffix),
        document_id=document_id,
        source=source,
        sha256=sha256,
        dossier_code=dossier_code,
        pages=list(span.pages),
        doc_type=span.doc_type,
        doc_type_confidence=round(span.confidence, 3),
        fields={
            k: FieldValue(value=v.value, confidence=round(v.confidence, 3))
            for k, v in fields.items()
        },
        text=document_text(pages),
        status=record_status(span.doc_type, fields),
    )


def rejected_record(
    *, document_id: str, source: str, sha256: str, dossier_code: str | None, code: str, message: str
) -> Record:
    return Record(
        record_code=f"{sha256[:12]}.rejected.{document_id[:8]}.01",
        document_id=document_id,
        source=source,
        sha256=sha256,
        dossier_code=dossier_code,
        pages=[],
        doc_type="unknown",
        doc_type_confidence=0.0,
        status=RecordStatus.rejected,
        error=RecordError(code=code, message=message),
    )


def archive_pdf(images: list[Image.Image], dpi: int) -> bytes:
    """The archive copy: page images in one PDF (a text layer comes with PDF/A)."""
    buf = io.BytesIO()
    rgb = [im.convert("RGB") for im in images]
    rgb[0].save(buf, format="PDF", save_all=True, append_images=rgb[1:], resolution=float(dpi))
    return buf.getvalue()
