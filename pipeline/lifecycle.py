"""Rules of a record's life: its states, how long the paper counts, which scans are one paper.

Pure functions: the worker and the API apply them to database rows, tests apply
them to plain values. States (DOMAIN.md's approval status, plus publication):

    digitised ──────────────┐
        │ (doubtful)        ├─ approve ─> approved ─ publish ─> published
    needs_review ───────────┘
        └──────── reject ─> rejected

A correction or a re-scan makes a new version of the record and keeps the old one.
Only published records that are current and valid on the day asked are reusable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from config.taxonomy import DOC_TYPES
from pipeline import errors
from pipeline.intake import DOSSIER_CODE, check_dossier_code
from schemas.record import RecordStatus, Validity

Action = Literal["approve", "reject", "publish", "correct"]

_NEXT: dict[tuple[RecordStatus, str], RecordStatus] = {
    (RecordStatus.digitised, "approve"): RecordStatus.approved,
    (RecordStatus.needs_review, "approve"): RecordStatus.approved,
    (RecordStatus.digitised, "reject"): RecordStatus.rejected,
    (RecordStatus.needs_review, "reject"): RecordStatus.rejected,
    (RecordStatus.approved, "publish"): RecordStatus.published,
    # A correction keeps the state: a published record stays published, as a new version.
    (RecordStatus.digitised, "correct"): RecordStatus.digitised,
    (RecordStatus.needs_review, "correct"): RecordStatus.needs_review,
    (RecordStatus.approved, "correct"): RecordStatus.approved,
    (RecordStatus.published, "correct"): RecordStatus.published,
}


def next_status(current: RecordStatus | str, action: Action) -> RecordStatus:
    """The state after `action`, or InvalidTransition when the action is not allowed now."""
    state = RecordStatus(current)
    try:
        return _NEXT[(state, action)]
    except KeyError:
        raise errors.InvalidTransition(f"A {state.value} record cannot be {action}d.") from None


@dataclass(frozen=True)
class ValidityPeriod:
    """How long the paper counts: no expiry, until a day, or unknown (the date was not read)."""

    kind: Validity
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def holds_on(self, day: dt.date) -> bool:
        """Unknown validity never holds: such a record is not offered for reuse until corrected."""
        if self.kind is Validity.unknown:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def validity_of(doc_type: str, fields: Mapping[str, str]) -> ValidityPeriod:
    """From the expiry field or the type's rule (config/doc_types.yaml)."""
    spec = DOC_TYPES.get(doc_type)
    issued = _date(fields.get("issue_date"))
    if spec is None or doc_type == "unknown":
        return ValidityPeriod(Validity.unknown, issued)
    rule = spec.validity
    if rule.kind == "none":
        return ValidityPeriod(Validity.no_expiry, issued)
    if rule.kind == "void_after":
        return ValidityPeriod(Validity.until, issued, rule.date)
    if rule.kind == "expiry_field":
        until = _date(fields.get(rule.field or ""))
        return (
            ValidityPeriod(Validity.until, issued, until)
            if until
            else ValidityPeriod(Validity.unknown, issued)
        )
    # period: days from the issue date
    if issued is None or rule.days is None:
        return ValidityPeriod(Validity.unknown)
    return ValidityPeriod(Validity.until, issued, issued + dt.timedelta(days=rule.days))


def identity_key(doc_type: str, fields: Mapping[str, str]) -> str | None:
    """A digest naming one paper (type + identity fields), or None when it cannot be told.

    Two scans with the same key are the same paper: the second is a re-scan. The
    digest keeps the column free of readable personal data and of fixed width.
    """
    spec = DOC_TYPES.get(doc_type)
    if spec is None or not spec.identity:
        return None
    values = [fields.get(name, "").strip().upper() for name in spec.identity]
    if not all(values):
        return None
    return hashlib.sha256("\x1f".join([doc_type, *values]).encode()).hexdigest()


@dataclass(frozen=True)
class DossierCode:
    code: str
    agency_code: str
    received_on: dt.date
    sequence: int


def parse_dossier_code(code: str) -> DossierCode:
    """`{agency code}-{yyMMdd}-{NNNN}` with a real date; InvalidDossierCode otherwise."""
    check_dossier_code(code)
    m = DOSSIER_CODE.match(code)
    assert m is not None  # checked just above
    day = dt.datetime.strptime(m["date"], "%y%m%d").date()
    return DossierCode(code, m["agency"], day, int(m["seq"]))
