"""The digitised record: what `sohoa process --json` prints and the API returns.

`schemas/record.schema.json` is generated from this model (`sohoa schema`); a
test fails when the two disagree, so other systems can rely on the file.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class RecordStatus(StrEnum):
    """Approval state (pipeline/lifecycle.py): only published records are offered for reuse."""

    digitised = "digitised"
    needs_review = "needs_review"
    approved = "approved"
    rejected = "rejected"
    published = "published"


class Validity(StrEnum):
    no_expiry = "no_expiry"
    until = "until"
    unknown = "unknown"


class FieldValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="Normalised value: ISO dates, NFC capitals for names.")
    confidence: float = Field(ge=0.0, le=1.0)
    page: int | None = Field(default=None, ge=1, description="Page it was read on.")
    box: list[Annotated[float, Field(ge=0.0, le=1.0)]] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="Where it was read: [x0, y0, x1, y1] as fractions of the page image.",
    )


class FieldDisagreement(BaseModel):
    """Sources on the paper that read different values for one field (chip ID cards)."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="Field name, e.g. personal_id.")
    values: dict[str, str] = Field(
        description="Value read by each source: qr, mrz (check digits held) or ocr."
    )


class RecordError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Stable machine code, e.g. encrypted_pdf.")
    message: str


class PageReport(BaseModel):
    """Quality of one page: what preprocessing measured and did, and whether to re-scan."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(description="Page number in the original, from 1.")
    blur: float = Field(description="Sharpness (variance of the Laplacian); low is blurred.")
    contrast: float = Field(ge=0.0, le=1.0)
    brightness: float = Field(ge=0.0, le=1.0)
    estimated_dpi: int = Field(description="From the height of the text, not the file's tag.")
    rotation: int = Field(description="Quarter turn applied, degrees clockwise.")
    skew_degrees: float = Field(description="Small rotation removed by deskewing.")
    cropped: bool
    perspective_corrected: bool
    scale: float = Field(description="Enlargement applied before OCR.")
    binarised: bool
    flattened: bool = Field(default=False, description="Uneven lighting evened out.")
    sharpened: bool = Field(
        default=False, description="Ink edges measured blurred; sharpened before OCR."
    )
    despeckled: bool = Field(default=False, description="Lone toner specks painted out.")
    mean_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    rescan_reasons: list[str] = Field(default_factory=list)


class RecordWarning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Stable code; rescan_needed asks the operator to re-scan.")
    page: int | None = None
    reason: str = Field(description="Machine reason, e.g. too_blurred, too_dark, cut_off.")
    message: str


class Record(BaseModel):
    """One paper found in one ingested file."""

    model_config = ConfigDict(extra="forbid")

    record_code: str = Field(
        description="{owner ID}.{paper-type code}.{document number}.{NN}, see DOMAIN.md."
    )
    document_id: str = Field(description="ID of the ingested file this paper came from.")
    source: str = Field(description="Original file name as received.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the original file.")
    dossier_code: str | None = None
    pages: list[int] = Field(description="Page numbers in the original, from 1.")
    doc_type: str = Field(description="Document-type code from the taxonomy, or unknown.")
    doc_type_confidence: float = Field(ge=0.0, le=1.0)
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    text: str = Field(default="", description="OCR text in reading order.")
    quality: list[PageReport] = Field(default_factory=list, description="One report per page.")
    warnings: list[RecordWarning] = Field(default_factory=list)
    disagreements: list[FieldDisagreement] = Field(
        default_factory=list,
        description="Fields whose sources disagree; the most trusted value is kept in fields"
        " (QR, then MRZ, then OCR) at a lowered confidence, and the record needs review.",
    )
    status: RecordStatus
    version: int = Field(default=1, ge=1, description="A correction or a re-scan adds one.")
    validity: Validity = Field(
        default=Validity.unknown,
        description="no_expiry, until valid_until, or unknown (the date was not read).",
    )
    valid_from: dt.date | None = Field(default=None, description="Issue date, when read.")
    valid_until: dt.date | None = Field(default=None, description="Last day the paper counts.")
    agency_code: str | None = Field(default=None, description="The digitising agency.")
    error: RecordError | None = None


SCHEMA_PATH = Path(__file__).with_name("record.schema.json")


def record_json_schema() -> dict[str, object]:
    schema = Record.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sohoa.example/schemas/record.schema.json"
    return schema


def render_record_schema() -> str:
    return json.dumps(record_json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
