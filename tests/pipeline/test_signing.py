"""Agency keys, signed manifests and PAdES signatures on the archive PDF."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageDraw

from pipeline import signing, verify
from pipeline.archive import ArchivePage, build_archive_pdf

AGENCY = "000.00.00.H55"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> signing.AgencyKeys:
    return signing.AgencyKeys.load(AGENCY, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def archive_pdf() -> bytes:
    pages = []
    for n in range(2):
        image = Image.new("RGB", (620, 400), "white")
        ImageDraw.Draw(image).text((40, 40 + 20 * n), f"CAN CUOC page {n + 1}", fill="black")
        pages.append(ArchivePage(image=image, dpi=150))
    return build_archive_pdf(pages, title="citizen_id_card 0123abcd")


@pytest.fixture(scope="module")
def signed_pdf(archive_pdf: bytes, keys: signing.AgencyKeys) -> bytes:
    return signing.sign_pdf(archive_pdf, keys)


def _flip(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def test_development_keys_are_made_once_and_marked(tmp_path: Path) -> None:
    first = signing.AgencyKeys.load(AGENCY, tmp_path)
    assert first.development
    folder = tmp_path / "keys" / f"development-{AGENCY}"
    assert (folder / "pades-key.pem").stat().st_mode & 0o777 == 0o600
    assert (folder / "manifest-ed25519.pem").stat().st_mode & 0o777 == 0o600
    cert = first.pdf_cert
    subject = cert.subject.rfc4514_string()
    assert f"CN=sohoa development signer {AGENCY}" in subject
    assert "DEVELOPMENT" in subject
    assert cert.issuer == cert.subject
    # The same material again: from the files, not regenerated.
    signing._load.cache_clear()
    again = signing.AgencyKeys.load(AGENCY, tmp_path)
    assert again.key_id == first.key_id
    assert again.pdf_cert == first.pdf_cert


def test_configured_keys_are_used(tmp_path: Path) -> None:
    dev = signing.development_keys_dir(tmp_path / "elsewhere", "000.00.00.H38")
    own = tmp_path / "manifest.pem"
    own.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keys = signing.AgencyKeys.load(
        "000.00.00.H38",
        tmp_path / "data",
        manifest_key_path=own,
        pdf_cert_path=dev / "pades-cert.pem",
        pdf_key_path=dev / "pades-key.pem",
    )
    assert not keys.development
    assert not (tmp_path / "data" / "keys").exists()
    assert keys.pdf_cert == x509.load_pem_x509_certificate((dev / "pades-cert.pem").read_bytes())
    with pytest.raises(ValueError):
        signing.AgencyKeys.load("x", tmp_path, pdf_cert_path=dev / "pades-cert.pem")


def _manifest(keys: signing.AgencyKeys) -> dict[str, object]:
    fields = {"personal_id": {"value": "019301000123", "confidence": 0.98}}
    return signing.manifest(
        record_code="019301000123.citizen_id_card.019301000123.01",
        agency_code=keys.agency_code,
        hashes={k: signing.sha256_hex(k.encode()) for k in signing.HASHED_ARTIFACTS},
        fields=fields,
    )


def test_manifest_is_canonical_and_signed(keys: signing.AgencyKeys) -> None:
    doc = _manifest(keys)
    assert set(doc["sha256"]) == {"original", "pdf", "text", "json"}  # type: ignore[arg-type]
    assert doc["fields_sha256"] == signing.fields_sha256(
        {"personal_id": {"confidence": 0.98, "value": "019301000123"}}
    )
    signed = signing.sign_manifest(doc, keys)
    assert signed["signature"]["key_id"] == keys.key_id  # type: ignore[index]
    assert signing.verify_manifest(signed, keys.manifest_public_key)
    # Stored and read back (any key order, any indentation): still valid.
    assert signing.verify_manifest(
        json.loads(signing.manifest_bytes(signed)), keys.manifest_public_key
    )
    other = Ed25519PrivateKey.generate().public_key()
    assert not signing.verify_manifest(signed, other)
    assert not signing.verify_manifest(doc, keys.manifest_public_key)  # unsigned


def test_a_changed_manifest_byte_fails(keys: signing.AgencyKeys) -> None:
    stored = signing.manifest_bytes(signing.sign_manifest(_manifest(keys), keys))
    digest_at = stored.index(b'"pdf": "') + len(b'"pdf": "') + 5
    changed = stored[:digest_at] + (b"0" if stored[digest_at : digest_at + 1] != b"0" else b"1")
    changed += stored[digest_at + 1 :]
    assert not signing.verify_manifest(json.loads(changed), keys.manifest_public_key)
    tampered = json.loads(stored)
    tampered["fields_sha256"] = signing.fields_sha256({})
    assert not signing.verify_manifest(tampered, keys.manifest_public_key)


def test_pades_signature_verifies_and_keeps_the_pdfa(
    archive_pdf: bytes, signed_pdf: bytes, keys: signing.AgencyKeys
) -> None:
    assert signed_pdf.startswith(archive_pdf)  # an incremental update
    result = verify.check_pdf(signed_pdf, keys.pdf_trust_roots)
    assert result.ok, result.detail
    assert verify.verify_pdf(signed_pdf, keys.pdf_trust_roots)
    with pikepdf.open(io.BytesIO(signed_pdf)) as pdf, pikepdf.open(io.BytesIO(archive_pdf)) as old:
        assert len(pdf.pages) == 2
        meta = pdf.open_metadata()
        assert meta.pdfa_status == "2B"
        # Info and XMP untouched, so they still agree as PDF/A asks.
        assert dict(pdf.docinfo) == dict(old.docinfo)
        assert str(meta["pdf:Producer"]) == str(pdf.docinfo["/Producer"])
        field = pdf.Root.AcroForm.Fields[0]
        assert field.FT == "/Sig" and int(field.F) & 4  # printable, not hidden
        assert b"019301000123" not in signed_pdf


def test_a_changed_pdf_byte_fails(signed_pdf: bytes, keys: signing.AgencyKeys) -> None:
    for at in (len(signed_pdf) // 3, len(signed_pdf) // 2, len(signed_pdf) - 40):
        assert not verify.verify_pdf(_flip(signed_pdf, at), keys.pdf_trust_roots), at
    extra = signed_pdf + b"%% appended\n"
    assert not verify.verify_pdf(extra, keys.pdf_trust_roots)


def test_pdf_signed_by_someone_else_is_not_trusted(
    signed_pdf: bytes, archive_pdf: bytes, tmp_path: Path
) -> None:
    stranger = signing.AgencyKeys.load(AGENCY, tmp_path)
    result = verify.check_pdf(signed_pdf, stranger.pdf_trust_roots)
    assert not result.ok and "not trusted" in result.detail
    assert not verify.verify_pdf(archive_pdf, stranger.pdf_trust_roots)  # unsigned
