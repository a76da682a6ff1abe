"""Integrity: the digitising agency's keys, signed manifests and PAdES-signed archive PDFs.

Every published record has a *manifest*: the SHA-256 of its original, archive PDF,
text and record JSON, and of its fields (canonical JSON), with the record and agency
codes, signed with the agency's Ed25519 key. The archive PDF itself carries a
PAdES-B-B signature (pyHanko) made with the agency's X.509 certificate.

Key material comes from configured paths; when none is configured, a development
key pair and a self-signed certificate (clearly marked as development) are
generated once under `<data dir>/keys/`. Neither the certificate nor the PDF
signature carries personal data: the record code (which starts with the owner's
ID number) never goes into the PDF.

Pure: no database, no HTTP, no environment; callers pass paths (or the Settings) in.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from config.settings import Settings

MANIFEST_VERSION = 1
#: What a manifest hashes, besides the fields; each is an artifact in the store.
HASHED_ARTIFACTS = ("original", "pdf", "text", "json")
SIG_FIELD = "sohoa-agency-signature"
DEV_CERT_DAYS = 3650

PrivateKey = Any  # cryptography's private key types for the PAdES certificate


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the bytes that are hashed or signed."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def fields_sha256(fields: Mapping[str, Any]) -> str:
    """SHA-256 of a record's fields (name -> {value, confidence}) as canonical JSON."""
    return sha256_hex(canonical_json(dict(fields)))


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class AgencyKeys:
    """The agency's manifest key (Ed25519) and its PAdES certificate with key."""

    agency_code: str
    manifest_key: Ed25519PrivateKey
    pdf_key: PrivateKey
    pdf_cert: x509.Certificate
    pdf_chain: tuple[x509.Certificate, ...] = ()
    trust_roots: tuple[x509.Certificate, ...] = ()
    development: bool = False

    @property
    def manifest_public_key(self) -> Ed25519PublicKey:
        return self.manifest_key.public_key()

    @property
    def key_id(self) -> str:
        """A short fingerprint of the manifest public key, written into each manifest."""
        return key_id(self.manifest_public_key)

    @property
    def pdf_trust_roots(self) -> tuple[x509.Certificate, ...]:
        """Certificates a PDF signature must chain to: the CA bundle, else the cert itself."""
        return self.trust_roots or (self.pdf_cert,)

    @classmethod
    def load(
        cls,
        agency_code: str,
        data_dir: Path,
        manifest_key_path: Path | None = None,
        pdf_cert_path: Path | None = None,
        pdf_key_path: Path | None = None,
        pdf_key_password: str = "",
        pdf_ca_path: Path | None = None,
    ) -> AgencyKeys:
        """Configured key material, or the development set under `data_dir/keys` (made once)."""
        return _load(
            agency_code,
            data_dir,
            manifest_key_path,
            pdf_cert_path,
            pdf_key_path,
            pdf_key_password,
            pdf_ca_path,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AgencyKeys:
        """The keys configured in `settings` (loaded once per process)."""
        return cls.load(
            settings.agency_code,
            settings.resolved_data_dir,
            settings.manifest_key,
            settings.pades_cert,
            settings.pades_key,
            settings.pades_key_password.get_secret_value(),
            settings.pades_ca,
        )


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + sha256_hex(raw)[:16]


@lru_cache(maxsize=8)
def _load(
    agency_code: str,
    data_dir: Path,
    manifest_key_path: Path | None,
    pdf_cert_path: Path | None,
    pdf_key_path: Path | None,
    pdf_key_password: str,
    pdf_ca_path: Path | None,
) -> AgencyKeys:
    if (pdf_cert_path is None) != (pdf_key_path is None):
        raise ValueError("configure both the PAdES certificate and its key, or neither")
    dev: Path | None = None
    if manifest_key_path is None or pdf_cert_path is None:
        dev = development_keys_dir(data_dir, agency_code)
    mk_path = manifest_key_path or _in(dev, "manifest-ed25519.pem")
    manifest_key = serialization.load_pem_private_key(mk_path.read_bytes(), password=None)
    if not isinstance(manifest_key, Ed25519PrivateKey):
        raise ValueError(f"{mk_path} is not an Ed25519 private key")
    cert_path = pdf_cert_path or _in(dev, "pades-cert.pem")
    key_path = pdf_key_path or _in(dev, "pades-key.pem")
    password = pdf_key_password.encode() if pdf_key_password and pdf_key_path else None
    pdf_key = serialization.load_pem_private_key(key_path.read_bytes(), password=password)
    certs = x509.load_pem_x509_certificates(cert_path.read_bytes())
    chain = x509.load_pem_x509_certificates(pdf_ca_path.read_bytes()) if pdf_ca_path else []
    return AgencyKeys(
        agency_code=agency_code,
        manifest_key=manifest_key,
        pdf_key=pdf_key,
        pdf_cert=certs[0],
        pdf_chain=tuple(certs[1:] + chain),
        trust_roots=tuple(chain),
        development=dev is not None,
    )


def _in(folder: Path | None, name: str) -> Path:
    assert folder is not None
    return folder / name


def development_keys_dir(data_dir: Path, agency_code: str) -> Path:
    """`data_dir/keys/development-<agency>/`, generated once; concurrent first runs agree."""
    base = data_dir / "keys"
    final = base / f"development-{agency_code}"
    if (final / "pades-cert.pem").is_file():
        return final
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
    try:
        _write_development_keys(tmp, agency_code)
        try:
            os.rename(tmp, final)  # atomic; fails if another process got there first
        except OSError:
            if not (final / "pades-cert.pem").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_development_keys(folder: Path, agency_code: str) -> None:
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    manifest_key = Ed25519PrivateKey.generate()
    _write_private(folder / "manifest-ed25519.pem", manifest_key.private_bytes(pem, pkcs8, plain))
    pdf_key = ec.generate_private_key(ec.SECP256R1())
    _write_private(folder / "pades-key.pem", pdf_key.private_bytes(pem, pkcs8, plain))
    cert = development_certificate(pdf_key, agency_code)
    (folder / "pades-cert.pem").write_bytes(cert.public_bytes(pem))
    (folder / "README.txt").write_text(
        "DEVELOPMENT key material generated by sohoa on first run.\n"
        "Not a qualified signature. Configure SOHOA_MANIFEST_KEY, SOHOA_PADES_CERT and\n"
        "SOHOA_PADES_KEY (and SOHOA_PADES_CA) for production.\n",
        encoding="utf-8",
    )


def development_certificate(key: PrivateKey, agency_code: str) -> x509.Certificate:
    """A self-signed certificate whose subject names only the agency, marked as development."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"sohoa development signer {agency_code}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DEVELOPMENT ONLY - not for production"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, agency_code),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        ]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=DEV_CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


# ---------------------------------------------------------------------- manifests


def manifest(
    *,
    record_code: str,
    agency_code: str,
    hashes: Mapping[str, str],
    fields: Mapping[str, Any],
    signed_at: datetime | None = None,
) -> dict[str, Any]:
    """The unsigned manifest: SHA-256 of each artifact in HASHED_ARTIFACTS and of the fields."""
    missing = [k for k in HASHED_ARTIFACTS if k not in hashes]
    if missing:
        raise ValueError(f"manifest needs the hash of {', '.join(missing)}")
    when = (signed_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {
        "version": MANIFEST_VERSION,
        "record_code": record_code,
        "agency_code": agency_code,
        "signed_at": when.isoformat().replace("+00:00", "Z"),
        "sha256": {k: hashes[k] for k in HASHED_ARTIFACTS},
        "fields_sha256": fields_sha256(fields),
    }


def _signed_part(doc: Mapping[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in doc.items() if k != "signature"})


def sign_manifest(doc: Mapping[str, Any], keys: AgencyKeys) -> dict[str, Any]:
    """The manifest with a `signature` block: Ed25519 over its canonical JSON."""
    value = keys.manifest_key.sign(_signed_part(doc))
    public = keys.manifest_public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return {
        **{k: v for k, v in doc.items() if k != "signature"},
        "signature": {
            "algorithm": "ed25519",
            "key_id": keys.key_id,
            "public_key": base64.b64encode(public).decode(),
            "value": base64.b64encode(value).decode(),
        },
    }


def verify_manifest(doc: Mapping[str, Any], public_key: Ed25519PublicKey) -> bool:
    """True when `doc` carries a valid Ed25519 signature by `public_key` over its content."""
    sig = doc.get("signature")
    if not isinstance(sig, Mapping) or sig.get("algorithm") != "ed25519":
        return False
    try:
        public_key.verify(base64.b64decode(sig["value"], validate=True), _signed_part(doc))
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return True


def manifest_bytes(doc: Mapping[str, Any]) -> bytes:
    """How a signed manifest is stored (`records/<code>/manifest.json`)."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2).encode() + b"\n"


# -------------------------------------------------------------------------- PAdES


def _asn1_cert(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _metadata_keeping_writer(pdf: bytes) -> Any:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    class MetadataKeepingWriter(IncrementalPdfFileWriter):
        """Leaves the Info dictionary and the XMP packet as they were.

        pyHanko would otherwise append itself to the Info producer but write a
        different producer (and a separately taken time) into the XMP packet:
        PDF/A-2b requires the two to agree.
        """

        def _update_meta(self) -> None:
            return None

    return MetadataKeepingWriter(io.BytesIO(pdf), strict=False)


def sign_pdf(pdf: bytes, keys: AgencyKeys) -> bytes:
    """Append a PAdES-B-B signature (an incremental update; the PDF/A metadata is kept)."""
    from asn1crypto import keys as asn1_keys
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der_key = keys.pdf_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = signers.SimpleSigner(
        signing_cert=_asn1_cert(keys.pdf_cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in keys.pdf_chain]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SIG_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        location=keys.agency_code,
        reason="Digitised copy (Circular 01/2023/TT-VPCP)",
    )
    out = signers.sign_pdf(
        _metadata_keeping_writer(pdf),
        meta,
        signer=signer,
        new_field_spec=fields.SigFieldSpec(sig_field_name=SIG_FIELD, on_page=0),
    )
    return bytes(out.getvalue())


def seal_record(
    *,
    record_code: str,
    original_sha256: str,
    record_json: bytes,
    text: bytes,
    archive_pdf: bytes,
    fields: Mapping[str, Any],
    keys: AgencyKeys,
) -> dict[str, bytes]:
    """What publishing stores for a record: the PAdES-signed PDF, the text, the JSON and,
    last, the Ed25519-signed manifest over all of them. Keys of the result: pdf, text,
    json, manifest. The worker and `sohoa process --out` both publish through this."""
    return seal_version(
        record_code=record_code,
        original_sha256=original_sha256,
        record_json=record_json,
        text=text,
        signed_pdf=sign_pdf(archive_pdf, keys),
        fields=fields,
        keys=keys,
    )


def seal_version(
    *,
    record_code: str,
    original_sha256: str,
    record_json: bytes,
    text: bytes,
    signed_pdf: bytes,
    fields: Mapping[str, Any],
    keys: AgencyKeys,
) -> dict[str, bytes]:
    """Like seal_record around an archive PDF that already carries the agency's signature:
    a corrected version changes the fields, not the scan, so its PDF is not signed again."""
    blobs = {"pdf": signed_pdf, "text": text, "json": record_json}
    hashes = {"original": original_sha256, **{k: sha256_hex(v) for k, v in blobs.items()}}
    doc = manifest(
        record_code=record_code, agency_code=keys.agency_code, hashes=hashes, fields=fields
    )
    return {**blobs, "manifest": manifest_bytes(sign_manifest(doc, keys))}
