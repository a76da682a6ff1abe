"""Assemble: turn classified, extracted pages into records and their artifacts."""

from __future__ import annotations

import re

from config.taxonomy import DOC_TYPES
from pipeline.lifecycle import validity_of
from pipeline.types import DocumentSpan, ExtractedField, PageText
from schemas.record import (
    FieldDisagreement,
    FieldValue,
    PageReport,
    Record,
    RecordError,
    RecordStatus,
    RecordWarning,
)

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


RESCAN_MESSAGES = {
    "too_blurred": "The page is too blurred to read reliably; scan it again in focus.",
    "too_dark": "The page is too dark; scan it again with more light.",
    "low_contrast": "The text barely stands out from the paper; scan it again.",
    "cut_off": "Text runs off the edge of the page; scan the whole paper.",
    "low_resolution": "The resolution is too low; scan at 300 dpi.",
    "low_ocr_confidence": "The text was read with low confidence; check or re-scan the page.",
}


def page_reports(pages: list[PageText]) -> list[PageReport]:
    reports = []
    for p in pages:
        q = p.quality
        if q is None:
            continue
        reports.append(
            PageReport(
                page=p.number,
                blur=round(q.blur, 2),
                contrast=round(min(max(q.contrast, 0.0), 1.0), 3),
                brightness=round(min(max(q.brightness, 0.0), 1.0), 3),
                estimated_dpi=q.estimated_dpi,
                rotation=q.rotation,
                skew_degrees=round(q.skew_degrees, 2),
                cropped=q.cropped,
                perspective_corrected=q.perspective_corrected,
                scale=round(q.scale, 3),
                binarised=q.binarised,
                flattened=q.flattened,
                sharpened=q.sharpened,
                despeckled=q.despeckled,
                mean_confidence=round(p.mean_confidence, 3),
                rescan_reasons=list(q.rescan_reasons),
            )
        )
    return reports


def rescan_warnings(reports: list[PageReport]) -> list[RecordWarning]:
    return [
        RecordWarning(
            code="rescan_needed",
            page=r.page,
            reason=reason,
            message=RESCAN_MESSAGES.get(reason, "Scan this page again."),
        )
        for r in reports
        for reason in r.rescan_reasons
    ]


def record_status(doc_type: str, fields: dict[str, ExtractedField]) -> RecordStatus:
    if doc_type == "unknown":
        return RecordStatus.needs_review
    required = DOC_TYPES[doc_type].required if doc_type in DOC_TYPES else ()
    if any(name not in fields for name in required):
        return RecordStatus.needs_review
    if any(f.confidence < REVIEW_THRESHOLD for f in fields.values()):
        return RecordStatus.needs_review
    return RecordStatus.digitised


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
    disagreements: list[FieldDisagreement] | None = None,
) -> Record:
    reports = page_reports(pages)
    warnings = rescan_warnings(reports)
    status = record_status(span.doc_type, fields)
    if warnings or disagreements:
        status = RecordStatus.needs_review
    validity = validity_of(span.doc_type, {k: v.value for k, v in fields.items()})
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
            k: FieldValue(
                value=v.value,
                confidence=round(v.confidence, 3),
                page=v.page,
                box=list(v.box) if v.box else None,
            )
            for k, v in fields.items()
        },
        text=document_text(pages),
        quality=reports,
        warnings=warnings,
        disagreements=list(disagreements or []),
        status=status,
        validity=validity.kind,
        valid_from=validity.valid_from,
        valid_until=validity.valid_until,
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
