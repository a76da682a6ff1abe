"""Field extraction from rendered papers, and the date and ID-number rules."""

from __future__ import annotations

import pytest

from pipeline.extract import FAILED_CHECK_FACTOR, check_personal_id, extract_fields, parse_date
from pipeline.ocr import TesseractEngine
from pipeline.types import PageText
from tests.synth import page_from_lines, render_page, sample_fields


def _iso(dmy: str) -> str:
    d, m, y = dmy.split("/")
    return f"{y}-{m}-{d}"


def _sex(printed: str) -> str:
    return {"Nam": "male", "Nữ": "female"}[printed]


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


@pytest.fixture(scope="module")
def card(engine: TesseractEngine) -> tuple[dict[str, str], list[PageText]]:
    fields = sample_fields("citizen_id_card", seed=11)
    pages = []
    for number, side in enumerate(("citizen_id_card", "citizen_id_card_back"), start=1):
        image, _ = render_page(side, fields, dpi=300, seed=11)
        pages.append(engine.read(image.convert("L"), number=number, dpi=300))
    return fields, pages


@pytest.fixture(scope="module")
def birth(engine: TesseractEngine) -> tuple[dict[str, str], list[PageText]]:
    fields = sample_fields("birth_certificate", seed=12)
    image, _ = render_page("birth_certificate", fields, dpi=300, seed=12)
    return fields, [engine.read(image.convert("L"), number=1, dpi=300)]


def test_id_card_fields(card: tuple[dict[str, str], list[PageText]]) -> None:
    fields, pages = card
    out = extract_fields("citizen_id_card", pages)
    assert out["personal_id"].value == fields["personal_id"]
    assert out["full_name"].value == fields["full_name"]
    assert out["date_of_birth"].value == _iso(fields["date_of_birth"])
    assert out["sex"].value == _sex(fields["sex"])
    assert out["nationality"].value == "Việt Nam"
    assert out["expiry_date"].value == _iso(fields["expiry_date"])
    assert out["issue_date"].value == _iso(fields["issue_date"])  # from the back
    assert out["place_of_origin"].value == fields["place_of_origin"]
    for name in ("personal_id", "full_name", "date_of_birth", "sex"):
        assert out[name].confidence > 0.7, name
    assert "document_number" not in out  # not a field of an ID card


def test_id_card_back_alone_gives_the_number_from_the_mrz(
    card: tuple[dict[str, str], list[PageText]],
) -> None:
    fields, pages = card
    out = extract_fields("citizen_id_card", pages[1:])
    assert out["issue_date"].value == _iso(fields["issue_date"])
    assert "personal_id" in out
    assert "full_name" not in out


def test_birth_certificate_fields(birth: tuple[dict[str, str], list[PageText]]) -> None:
    fields, pages = birth
    out = extract_fields("birth_certificate", pages)
    assert out["personal_id"].value == fields["personal_id"]
    assert out["full_name"].value == fields["full_name"]
    assert out["date_of_birth"].value == _iso(fields["date_of_birth"])
    assert out["sex"].value == _sex(fields["sex"])
    assert out["document_number"].value == fields["document_number"]
    assert out["ethnicity"].value == "Kinh"
    assert out["issue_date"].value == _iso(fields["issue_date"])
    assert out["personal_id"].confidence > 0.7
    # The parents' lines carry the same labels plus "người mẹ"/"người cha": not the child's name.
    assert out["mother_name"].value == fields["mother_name"]
    assert out["father_name"].value == fields["father_name"]


def test_application_form_fields() -> None:
    page = page_from_lines(
        [
            "TỜ KHAI ĐĂNG KÝ KHAI SINH",
            "Kính gửi: Ủy ban nhân dân xã Hòa Bình",
            "Họ, chữ đệm và tên người yêu cầu: LÊ VĂN NAM",
            "Số định danh cá nhân: 017090123456",
            "Nơi cư trú: Thôn 3, xã Hòa Bình",
            "Họ, chữ đệm, tên: LÊ MINH KHANG",
            "Ngày, tháng, năm sinh: 02/03/2024",
            "Làm tại: Hòa Bình, ngày 10 tháng 3 năm 2024",
        ]
    )
    out = extract_fields("application_form", [page])
    assert {k: v.value for k, v in out.items()} == {
        "full_name": "LÊ VĂN NAM",
        "personal_id": "017090123456",
        "address": "Thôn 3, xã Hòa Bình",
        "issue_date": "2024-03-10",
    }


def test_contradicting_id_number_lowers_its_confidence() -> None:
    lines = [
        "Số / No.: 001099012345",
        "Ngày sinh / Date of birth: 15/08/1999",
        "Giới tính / Sex: Nam",
    ]
    good = extract_fields("citizen_id_card", [page_from_lines(lines, confidence=0.9)])
    assert good["personal_id"].confidence == pytest.approx(0.9)
    lines[2] = "Giới tính / Sex: Nữ"  # 0 in the 4th digit means a man born in the 1900s
    bad = extract_fields("citizen_id_card", [page_from_lines(lines, confidence=0.9)])
    assert bad["personal_id"].value == "001099012345"
    assert bad["personal_id"].confidence == pytest.approx(0.9 * FAILED_CHECK_FACTOR)
    assert bad["sex"].confidence == pytest.approx(0.9)


def test_ocr_letter_for_digit_is_fixed_in_numbers() -> None:
    page = page_from_lines(["Số / No.: 0O1O99012345"])
    assert extract_fields("citizen_id_card", [page])["personal_id"].value == "001099012345"


def test_name_on_the_line_after_its_label_is_uppercased_nfc() -> None:
    decomposed = "Nguye\u0302\u0303n Thi\u0323 Hu\u031bo\u031bng"
    page = page_from_lines(["Họ và tên / Full name:", decomposed.upper()])
    name = extract_fields("citizen_id_card", [page])["full_name"].value
    assert name == "NGUYỄN THỊ HƯƠNG"


def test_free_text_value_runs_to_the_next_label_only() -> None:
    page = page_from_lines(
        [
            "Giới tính: Nữ   Dân tộc: Kinh   Quốc tịch: Việt Nam",
            "Nơi cư trú: Số 12 ngõ 5, phố Huế, Hà Nội",
        ]
    )
    out = extract_fields("unknown", [page])
    assert out["sex"].value == "female"
    assert out["ethnicity"].value == "Kinh"
    assert out["nationality"].value == "Việt Nam"
    assert out["address"].value == "Số 12 ngõ 5, phố Huế, Hà Nội"


def test_nothing_found_is_an_empty_result() -> None:
    assert extract_fields("unknown", [page_from_lines(["Trang trắng"])]) == {}
    assert extract_fields("birth_certificate", []) == {}


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("15/08/1999", "1999-08-15"),
        ("Ngày sinh / Date of birth: 5/8/1999", "1999-08-05"),
        ("15-08-1999", "1999-08-15"),
        ("15.08.1999", "1999-08-15"),
        ("Hà Nội, ngày 15 tháng 8 năm 2023", "2023-08-15"),
        ("Hà Nội, ngay 15 thang 08 nam 2023", "2023-08-15"),
        ("Có giá trị đến: 29/02/2024", "2024-02-29"),
        ("31/02/2024", None),
        ("15/13/2023", None),
        ("01/01/1850", None),
        ("Không thời hạn", None),
        ("", None),
    ],
)
def test_parse_date(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso


@pytest.mark.parametrize(
    ("pid", "dob", "sex", "ok"),
    [
        ("001099012345", "1999-08-15", "male", True),
        ("001199012345", "1999-08-15", "female", True),
        ("019215012345", "2015-01-02", "male", True),
        ("019315012345", "2015-01-02", "female", True),
        ("019315012345", "2015-01-02", "Nữ", True),
        ("001099012345", None, None, True),
        ("001099012345", "1999-08-15", "female", False),  # sex digit says male
        ("001099012345", "1998-08-15", "male", False),  # year digits say 99
        ("001299012345", "1999-08-15", "male", False),  # century digit says 2000s
        ("000099012345", None, None, False),  # no province 000
        ("097099012345", None, None, False),  # no province 097
        ("001699012345", None, None, False),  # no century digit 6
        ("00109901234", None, None, False),  # 11 digits
        ("00109901234A", None, None, False),
        ("012345678", None, None, True),  # legacy 9-digit card
    ],
)
def test_check_personal_id(pid: str, dob: str | None, sex: str | None, ok: bool) -> None:
    assert check_personal_id(pid, dob, sex) is ok
