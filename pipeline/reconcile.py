"""Chip ID cards: reconcile the QR code, the MRZ and the printed text.

A chip card says most things twice or three times: the QR code on its back
(ground truth where it decodes), the machine-readable zone (check digits make a
field whose digit holds almost certainly right) and the printed, OCR'd text.
Trust runs in that order. A field whose sources disagree keeps the most trusted
value, at a lowered confidence, and the disagreement is listed in the record so
that a human looks at it. An MRZ field whose check digit fails is no source at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.classify import fold
from pipeline.mrz import Mrz, find_td1, parse_td1
from pipeline.qr import parse_payload
from pipeline.types import ExtractedField, PageText

#: Sources in the order they are trusted.
SOURCES = ("qr", "mrz", "ocr")
#: Confidence of a value from a machine-readable source nothing contradicts.
SOURCE_CONFIDENCE = {"qr": 0.99, "mrz": 0.97}
#: Two sources agreeing.
AGREED_CONFIDENCE = 0.995
#: A value some source contradicts: below the review threshold.
DISAGREED_CONFIDENCE = 0.55
#: Free-text fields compare without diacritics: OCR loses marks, an address is not a claim.
_LOOSE = frozenset({"place_of_residence", "place_of_origin", "nationality"})


@dataclass(frozen=True)
class Disagreement:
    """Sources that read different values for one field: source -> value."""

    field: str
    sources: dict[str, str]


@dataclass
class CardEvidence:
    """What the machine-readable parts of a card say: field -> {source: value}."""

    claims: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The MRZ's name (capitals without diacritics): it can confirm a name, never give one.
    mrz_name: str | None = None

    def add(self, name: str, source: str, value: str | None) -> None:
        if value:
            self.claims.setdefault(name, {})[source] = value


def _mrz_claims(evidence: CardEvidence, mrz: Mrz) -> None:
    """The MRZ fields whose check digits hold."""
    checks = mrz.checks
    pid_ok = (
        mrz.personal_id is not None
        and checks.get("document_number", False)
        and checks.get("composite", False)
        and checks.get("personal_id", True)
    )
    if pid_ok:
        evidence.add("personal_id", "mrz", mrz.personal_id)
    if checks.get("date_of_birth"):
        evidence.add("date_of_birth", "mrz", mrz.date_of_birth)
    if checks.get("expiry_date"):
        evidence.add("expiry_date", "mrz", mrz.expiry_date)
    # The sex letter is outside every check digit: trust it when the number agrees.
    if (
        checks.get("composite")
        and pid_ok
        and mrz.sex
        and mrz.personal_id
        and (int(mrz.personal_id[3]) % 2 == 0) == (mrz.sex == "male")
    ):
        evidence.add("sex", "mrz", mrz.sex)
    if checks.get("composite") and mrz.nationality == "VNM":
        evidence.add("nationality", "mrz", "Việt Nam")
    if mrz.full_name and mrz.valid:
        evidence.mrz_name = mrz.full_name


def card_evidence(pages: list[PageText]) -> CardEvidence:
    """The QR payload and the MRZ found on a card's pages, as claims per field."""
    evidence = CardEvidence()
    for page in pages:
        card = parse_payload(page.qr) if page.qr else None
        if card is not None:
            evidence.add("personal_id", "qr", card.personal_id)
            evidence.add("full_name", "qr", card.full_name)
            evidence.add("date_of_birth", "qr", card.date_of_birth)
            evidence.add("sex", "qr", card.sex)
            evidence.add("place_of_residence", "qr", card.address)
            evidence.add("issue_date", "qr", card.issue_date)
    for page in pages:
        zone = find_td1(page.lines)
        mrz = parse_td1(zone) if zone else None
        if mrz is not None:
            _mrz_claims(evidence, mrz)
            break
    return evidence


def _same(name: str, a: str, b: str) -> bool:
    if name in _LOOSE:
        return " ".join(fold(a).split()) == " ".join(fold(b).split())
    return a == b


def reconcile(
    ocr: dict[str, ExtractedField], evidence: CardEvidence, wanted: tuple[str, ...]
) -> tuple[dict[str, ExtractedField], list[Disagreement]]:
    """Each field from its most trusted source; disagreements listed and at low confidence."""
    out = dict(ocr)
    disagreements: list[Disagreement] = []
    for name, claims in evidence.claims.items():
        if wanted and name not in wanted:
            continue
        sources = {s: claims[s] for s in SOURCES if s in claims}
        if name in ocr:
            sources["ocr"] = ocr[name].value
        best = next(iter(sources))
        value = sources[best]
        if all(_same(name, v, value) for v in sources.values()):
            conf = AGREED_CONFIDENCE if len(sources) > 1 else SOURCE_CONFIDENCE[best]
        else:
            disagreements.append(Disagreement(name, sources))
            conf = DISAGREED_CONFIDENCE
        out[name] = ExtractedField(value, conf)
    name_claims = evidence.claims.get("full_name", {})
    if evidence.mrz_name and "qr" not in name_claims and "full_name" in ocr:
        read = ocr["full_name"]
        if " ".join(fold(read.value).split()) != evidence.mrz_name:
            disagreements.append(
                Disagreement("full_name", {"mrz": evidence.mrz_name, "ocr": read.value})
            )
            out["full_name"] = ExtractedField(
                read.value, min(read.confidence, DISAGREED_CONFIDENCE)
            )
    return out, disagreements
