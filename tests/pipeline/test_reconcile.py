"""Chip ID cards: the QR code beats the MRZ, which beats the printed text."""

from __future__ import annotations

from pipeline.assemble import assemble_record
from pipeline.extract import extract_document
from pipeline.ocr import TesseractEngine
from pipeline.qr import decode_qr
from pipeline.reconcile import DISAGREED_CONFIDENCE, card_evidence
from pipeline.types import DocumentSpan, PageText
from schemas.record import RecordStatus
from tests.synth import card_qr_payload, mrz_lines, page_from_lines, render_page, sample_fields

FIELDS = sample_fields("citizen_id_card", seed=3)
PID = FIELDS["personal_id"]


def _iso(dmy: str) -> str:
    d, m, y = dmy.split("/")
    return f"{y}-{m}-{d}"


def _other_pid(pid: str, k: int) -> str:
    """The same number with its last digit changed: still a valid structure."""
    return pid[:-1] + str((int(pid[-1]) + k) % 10)


def _front(pid: str = PID, name: str = FIELDS["full_name"]) -> PageText:
    return page_from_lines(
        [
            "CĂN CƯỚC CÔNG DÂN",
            f"Số / No.: {pid}",
            "Họ và tên / Full name:",
            name,
            f"Ngày sinh / Date of birth: {FIELDS['date_of_birth']}",
            f"Giới tính / Sex: {FIELDS['sex']}",
        ],
        number=1,
        confidence=0.95,
    )


def _back(mrz_pid: str = PID, qr_pid: str | None = PID, break_check: bool = False) -> PageText:
    lines = mrz_lines({**FIELDS, "personal_id": mrz_pid})
    if break_check:  # one digit of the document number misread: its check digit fails
        doc = lines[0][5:14]
        lines[0] = lines[0][:5] + _other_pid(doc, 1) + lines[0][14:]
    page = page_from_lines(
        [f"Ngày, tháng, năm / Date, month, year: {FIELDS['issue_date']}", *lines],
        number=2,
        confidence=0.95,
    )
    if qr_pid is not None:
        page.qr = card_qr_payload({**FIELDS, "personal_id": qr_pid})
    return page


def test_all_sources_agree_gives_a_confident_value_and_no_disagreement() -> None:
    out = extract_document("citizen_id_card", [_front(), _back()])
    assert out.disagreements == []
    assert out.fields["personal_id"].value == PID
    assert out.fields["personal_id"].confidence >= 0.99
    assert out.fields["full_name"].value == FIELDS["full_name"]
    assert out.fields["full_name"].confidence >= 0.99
    assert out.fields["date_of_birth"].value == _iso(FIELDS["date_of_birth"])
    assert out.fields["issue_date"].confidence >= 0.99  # printed and in the QR


def test_qr_beats_mrz_beats_ocr() -> None:
    qr, mrz, ocr = PID, _other_pid(PID, 1), _other_pid(PID, 2)
    out = extract_document("citizen_id_card", [_front(pid=ocr), _back(mrz_pid=mrz, qr_pid=qr)])
    assert out.fields["personal_id"].value == qr
    assert out.fields["personal_id"].confidence <= DISAGREED_CONFIDENCE
    [dis] = [d for d in out.disagreements if d.field == "personal_id"]
    assert dis.sources == {"qr": qr, "mrz": mrz, "ocr": ocr}

    no_qr = extract_document("citizen_id_card", [_front(pid=ocr), _back(mrz_pid=mrz, qr_pid=None)])
    assert no_qr.fields["personal_id"].value == mrz
    assert no_qr.disagreements[0].sources == {"mrz": mrz, "ocr": ocr}


def test_mrz_with_a_failed_check_digit_is_not_trusted() -> None:
    back = _back(mrz_pid=_other_pid(PID, 1), qr_pid=None, break_check=True)
    evidence = card_evidence([back])
    assert "personal_id" not in evidence.claims
    assert "date_of_birth" in evidence.claims  # its own check digit still holds
    out = extract_document("citizen_id_card", [_front(), back])
    assert out.fields["personal_id"].value == PID  # the printed number, not the broken zone
    assert not [d for d in out.disagreements if d.field == "personal_id"]


def test_mrz_alone_confirms_its_fields() -> None:
    out = extract_document("citizen_id_card", [_back(qr_pid=None)])
    assert out.fields["personal_id"].value == PID
    assert out.fields["personal_id"].confidence >= 0.97
    assert out.fields["expiry_date"].value == _iso(FIELDS["expiry_date"])
    assert out.fields["nationality"].value == "Việt Nam"


def test_a_name_the_mrz_contradicts_is_a_disagreement() -> None:
    out = extract_document("citizen_id_card", [_front(name="NGUYỄN VĂN AN"), _back(qr_pid=None)])
    [dis] = out.disagreements
    assert dis.field == "full_name"
    assert dis.sources["ocr"] == "NGUYỄN VĂN AN"
    assert out.fields["full_name"].confidence <= DISAGREED_CONFIDENCE


def test_a_disagreement_sends_the_record_to_review() -> None:
    pages = [_front(pid=_other_pid(PID, 2)), _back()]
    out = extract_document("citizen_id_card", pages)
    assert out.disagreements
    record = assemble_record(
        document_id="d" * 32,
        source="card.pdf",
        sha256="0" * 64,
        dossier_code=None,
        span=DocumentSpan("citizen_id_card", 0.99, (1, 2)),
        pages=pages,
        fields=out.fields,
        disagreements=out.record_disagreements(),
    )
    assert record.status is RecordStatus.needs_review
    assert record.disagreements[0].field == "personal_id"
    assert record.disagreements[0].values["qr"] == PID


def test_rendered_card_with_its_qr_code() -> None:
    engine = TesseractEngine()
    pages = []
    for number, side in enumerate(("citizen_id_card", "citizen_id_card_back"), start=1):
        image, _ = render_page(side, FIELDS, dpi=300, seed=3)
        page = engine.read(image.convert("L"), number=number, dpi=300)
        if side.endswith("back"):
            page.qr = decode_qr(image)
            assert page.qr is not None
        pages.append(page)
    out = extract_document("citizen_id_card", pages)
    for name in ("personal_id", "full_name", "date_of_birth", "sex", "issue_date"):
        assert out.fields[name].confidence >= 0.99, name
    assert out.fields["personal_id"].value == PID
    assert out.fields["full_name"].value == FIELDS["full_name"]
    assert out.disagreements == []
