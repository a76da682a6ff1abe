"""Verifying a published record: every artifact re-read from storage against its manifest.

The other half of `pipeline.signing`: that module signs, this one checks (hashes,
the manifest's Ed25519 signature, the archive PDF's PAdES signature). Pure: the
caller reads the bytes back from the store and hands them over.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from pipeline.signing import (
    HASHED_ARTIFACTS,
    AgencyKeys,
    _asn1_cert,
    fields_sha256,
    sha256_hex,
    verify_manifest,
)


@dataclass(frozen=True)
class PdfCheck:
    ok: bool
    detail: str


def check_pdf(pdf: bytes, trust_roots: tuple[x509.Certificate, ...]) -> PdfCheck:
    """Is the PDF's one signature intact, covering the whole file, by a trusted signer?"""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:  # a damaged file can fail in many ways
        return PdfCheck(False, f"unreadable PDF: {type(exc).__name__}")
    if len(sigs) != 1:
        return PdfCheck(False, f"expected one signature, found {len(sigs)}")
    roots = [_asn1_cert(c) for c in trust_roots]
    context = ValidationContext(
        trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"
    )
    usage = KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )
    try:
        status = validate_pdf_signature(sigs[0], context, key_usage_settings=usage)
    except Exception as exc:
        return PdfCheck(False, f"signature cannot be validated: {type(exc).__name__}")
    subject = status.signing_cert.subject.human_friendly if status.signing_cert else "?"
    if not status.intact:
        return PdfCheck(False, "the signed bytes were changed")
    if not status.valid:
        return PdfCheck(False, "the signature value is invalid")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return PdfCheck(False, "the file was changed after it was signed")
    if not status.trusted:
        return PdfCheck(False, f"signer not trusted: {subject}")
    return PdfCheck(True, f"PAdES signature by {subject}")


def verify_pdf(pdf: bytes, trust_roots: tuple[x509.Certificate, ...]) -> bool:
    return check_pdf(pdf, trust_roots).ok


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_record(
    *,
    record_code: str,
    manifest_raw: bytes | None,
    blobs: Mapping[str, bytes | None],
    row_fields: Mapping[str, Any],
    keys: AgencyKeys,
) -> list[Check]:
    """Every check of one published record, from the bytes just read back from storage.

    `blobs` holds each artifact of HASHED_ARTIFACTS (None when missing); `row_fields`
    the fields as the database holds them. Details name no personal data.
    """
    checks: list[Check] = []
    doc: dict[str, Any] | None = None
    if manifest_raw is None:
        checks.append(Check("manifest", False, "no manifest in storage"))
    else:
        try:
            loaded = json.loads(manifest_raw)
            doc = loaded if isinstance(loaded, dict) else None
        except ValueError:
            doc = None
        if doc is None:
            checks.append(Check("manifest", False, "the manifest is not valid JSON"))
        elif doc.get("record_code") != record_code:
            checks.append(Check("manifest", False, "the manifest is for another record"))
            doc = None
        else:
            checks.append(Check("manifest", True, f"signed at {doc.get('signed_at')}"))
    checks.append(_check_manifest_signature(doc, keys))

    expected = doc.get("sha256", {}) if doc else {}
    for name in HASHED_ARTIFACTS:
        data = blobs.get(name)
        if data is None:
            checks.append(Check(name, False, "missing from storage"))
        elif not doc:
            checks.append(Check(name, False, "no manifest to compare with"))
        elif sha256_hex(data) != expected.get(name):
            checks.append(Check(name, False, "SHA-256 differs from the manifest"))
        else:
            checks.append(Check(name, True, f"SHA-256 {expected[name][:16]}…"))

    want = doc.get("fields_sha256") if doc else None
    stored = _stored_fields(blobs.get("json"))
    if stored is None:
        checks.append(Check("fields", False, "the record JSON has no readable fields"))
    else:
        same = want is not None and fields_sha256(stored) == want
        checks.append(
            Check("fields", same, "match the manifest" if same else "differ from the manifest")
        )
    same = want is not None and fields_sha256(row_fields) == want
    checks.append(
        Check(
            "database",
            same,
            "the database's fields match the manifest"
            if same
            else "the database's fields differ from the manifest",
        )
    )

    pdf = blobs.get("pdf")
    if pdf is None:
        checks.append(Check("pdf_signature", False, "missing from storage"))
    else:
        result = check_pdf(pdf, keys.pdf_trust_roots)
        checks.append(Check("pdf_signature", result.ok, result.detail))
    return checks


def _check_manifest_signature(doc: dict[str, Any] | None, keys: AgencyKeys) -> Check:
    name = "manifest_signature"
    if doc is None:
        return Check(name, False, "no manifest")
    if doc.get("agency_code") != keys.agency_code:
        return Check(name, False, f"signed for agency {doc.get('agency_code')}, not ours")
    raw = doc.get("signature")
    sig: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if sig.get("key_id") != keys.key_id:
        return Check(name, False, f"signed with key {sig.get('key_id')}, we hold {keys.key_id}")
    if not verify_manifest(doc, keys.manifest_public_key):
        return Check(name, False, "the Ed25519 signature does not match the manifest")
    return Check(name, True, f"Ed25519, key {keys.key_id}")


def _stored_fields(record_json: bytes | None) -> dict[str, Any] | None:
    if record_json is None:
        return None
    try:
        body = json.loads(record_json)
    except ValueError:
        return None
    fields = body.get("fields") if isinstance(body, dict) else None
    return fields if isinstance(fields, dict) else None
