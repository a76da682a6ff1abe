"""Field extraction from rendered papers, normalisation, validation and second reads."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from PIL import Image

from pipeline.extract import check_personal_id, extract_document, extract_fields, parse_date
from pipeline.fields import date_from_words, date_order, normalise, valid
from pipeline.ocr import TesseractEngine
from pipeline.process import make_reread
from pipeline.types import PageText
from pipeline.weigh import FAILED_CAP, SINGLE_READ_CAP
from tests.synth import date_in_words, page_from_lines, render_page, sample_fields


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


def test_fields_carry_where_they_were_printed(
    card: tuple[dict[str, str], list[PageText]],
) -> None:
    """The box covers the words the value was read from, so the operator can be shown it."""
    _fields, pages = card
    out = extract_fields("citizen_id_card", pages)
    for name in ("personal_id", "full_name", "date_of_birth", "issue_date"):
        f = out[name]
        assert f.page is not None and f.box is not None, name
        page = pages[f.page - 1]
        x0, y0, x1, y1 = f.box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, (name, f.box)
        inside = [
            w.text
            for w in page.words
            if x0 * page.width - 2 <= w.left
            and w.left + w.width <= x1 * page.width + 2
            and y0 * page.height - 2 <= w.top
            and w.top + w.height <= y1 * page.height + 2
        ]
        read = "".join(inside).replace("/", "").replace(".", "").upper()
        if name == "full_name":
            assert f.value.replace(" ", "") in read, (name, inside)
        elif name == "personal_id":
            assert f.value in read, (name, inside)
        elif name == "date_of_birth":
            y, m, d = f.value.split("-")
            assert d + m + y in read, (name, inside)
    assert out["issue_date"].page == 2, "the issue date is printed on the back"


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
    good = extract_fields("citizen_id_card", [page_from_lines(lines, confidence=0.95)])
    # Read once and consistent: trusted enough to pass, not enough to promise (< 0.9).
    assert 0.6 <= good["personal_id"].confidence <= SINGLE_READ_CAP
    lines[2] = "Giới tính / Sex: Nữ"  # 0 in the 4th digit means a man born in the 1900s
    bad = extract_fields("citizen_id_card", [page_from_lines(lines, confidence=0.95)])
    assert bad["personal_id"].value == "001099012345"
    assert bad["personal_id"].confidence <= FAILED_CAP
    assert bad["sex"].confidence <= FAILED_CAP  # either may be the misread one


def test_dates_out_of_order_are_not_trusted() -> None:
    lines = [
        "Số / No.: 001099012345",
        "Ngày sinh / Date of birth: 15/08/1999",
        "Có giá trị đến / Date of expiry: 15/08/1998",
    ]
    out = extract_fields("citizen_id_card", [page_from_lines(lines, confidence=0.95)])
    assert out["expiry_date"].value == "1998-08-15"
    assert out["expiry_date"].confidence <= FAILED_CAP
    assert out["date_of_birth"].confidence <= FAILED_CAP


def test_date_order_rules() -> None:
    today = date(2025, 6, 1)
    ok = {"date_of_birth": "1990-01-02", "issue_date": "2021-05-06", "expiry_date": "2030-01-02"}
    assert date_order(ok, today) == set()
    assert date_order({**ok, "issue_date": "2031-01-01"}, today) == {"issue_date", "expiry_date"}
    assert date_order({**ok, "issue_date": "1989-01-01"}, today) == {"date_of_birth", "issue_date"}
    assert date_order({"date_of_birth": "2026-01-01"}, today) == {"date_of_birth"}
    assert not valid("date", "1850-01-01")


@pytest.mark.parametrize(
    ("validator", "raw", "value"),
    [
        ("area", "125,5 m2", "125.5"),
        ("area", "1.250,75 m²", "1250.75"),
        ("area", "874", "874"),
        ("money", "500.000.000 đồng", "500000000"),
        ("money", "1.200.000.000 đồng (Một tỷ hai trăm triệu)", "1200000000"),
        ("enterprise_code", "0101234567", "0101234567"),
        ("enterprise_code", "0101234567-001", "0101234567-001"),
        ("enterprise_code", "0101234567 - 002", "0101234567-002"),
        ("enterprise_code", "010123456", None),
        ("land_serial", "BX 123456", "BX 123456"),
        ("land_serial", "CS123O56", "CS 123056"),
        ("personal_id", "0O1O99 012345", "001099012345"),
        ("sex", "Nữ", "female"),
        ("sex", "NAM", "male"),
        ("date", "ngày 5 tháng 3 năm 2020", "2020-03-05"),
        ("name", "nguye\u0302\u0303n  thi\u0323 hu\u031bo\u031bng", "NGUYỄN THỊ HƯƠNG"),
        ("name", "TRẤN MINH TUẤN", "TRẦN MINH TUẤN"),  # a common surname's marks restored
        ("text", "Viet Nam", "Việt Nam"),
    ],
)
def test_normalise(validator: str, raw: str, value: str | None) -> None:
    assert normalise(validator, raw) == value


@pytest.mark.parametrize(
    ("validator", "value", "ok"),
    [
        ("enterprise_code", "0101234567-001", True),
        ("enterprise_code", "010123456", False),
        ("personal_id", "001099012345", True),
        ("personal_id", "000099012345", False),
        ("legacy_id", "012345678", True),
        ("area", "0.5", False),
        ("name", "NGUYỄN", False),
        ("name", "NGUYỄN THỊ HƯƠNG", True),
    ],
)
def test_valid(validator: str, value: str, ok: bool) -> None:
    assert valid(validator, value) is ok


@pytest.mark.parametrize("dmy", ["15/08/2015", "01/05/2005", "21/12/1999", "24/04/2010"])
def test_date_in_words(dmy: str) -> None:
    d, m, y = dmy.split("/")
    assert date_from_words(date_in_words(dmy)) == f"{y}-{m}-{d}"


def test_land_and_business_fields_are_normalised() -> None:
    land = page_from_lines(
        [
            "GIẤY CHỨNG NHẬN",
            "QUYỀN SỬ DỤNG ĐẤT, QUYỀN SỞ HỮU NHÀ Ở",
            "Ông: LÊ VĂN NAM Năm sinh: 1970",
            "Địa chỉ thường trú: Tổ 7, Hà Nội",
            "a) Thửa đất số: 125 Tờ bản đồ số: 12",
            "b) Địa chỉ: Thôn Nà Cà, xã Nông Thượng",
            "c) Diện tích: 1.250,5 m2",
            "Hà Nội, ngày 10 tháng 3 năm 2020",
            "BX 123456",
        ]
    )
    out = {k: v.value for k, v in extract_fields("land_use_certificate", [land]).items()}
    assert out == {
        "holder": "LÊ VĂN NAM",
        "parcel_number": "125",
        "map_sheet_number": "12",
        "area_m2": "1250.5",
        "address": "Thôn Nà Cà, xã Nông Thượng",
        "issue_date": "2020-03-10",
        "serial": "BX 123456",
    }
    firm = page_from_lines(
        [
            "GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP",
            "Mã số doanh nghiệp: 0101234567-001",
            "Đăng ký lần đầu: ngày 05 tháng 03 năm 2020",
            "Tên công ty viết bằng tiếng Việt: CÔNG TY TNHH AN PHÚ",
            "3. Vốn điều lệ: 500.000.000 đồng",
            "Họ và tên: TRẦN VĂN HÙNG Giới tính: Nam",
        ]
    )
    out = {k: v.value for k, v in extract_fields("business_registration", [firm]).items()}
    assert out["enterprise_code"] == "0101234567-001"
    assert out["charter_capital"] == "500000000"
    assert out["issue_date"] == "2020-03-05"
    assert out["company_name"] == "CÔNG TY TNHH AN PHÚ"
    assert out["legal_representative"] == "TRẦN VĂN HÙNG"


def test_free_text_is_never_promised() -> None:
    page = page_from_lines(["Nơi cư trú: Số 12 ngõ 5, phố Huế, Hà Nội"], confidence=0.99)
    assert extract_fields("application_form", [page])["address"].confidence < 0.9


def test_spouses_ids_are_checked_against_their_own_birth_dates() -> None:
    page = page_from_lines(
        [
            "GIẤY CHỨNG NHẬN KẾT HÔN",
            "Họ, chữ đệm, tên chồng: LÊ VĂN NAM",
            "Ngày sinh: 02/03/1990",
            "Số định danh cá nhân: 017090123456",
            "Họ, chữ đệm, tên vợ: TRẦN THỊ LAN",
            "Ngày sinh: 04/05/1992",
            "Số định danh cá nhân: 001092654321",  # 0 says a man: not the wife's
        ],
        confidence=0.95,
    )
    out = extract_fields("marriage_certificate", [page])
    assert out["husband_id"].value == "017090123456"
    assert out["husband_id"].confidence > 0.6
    assert out["wife_id"].value == "001092654321"
    assert out["wife_id"].confidence <= FAILED_CAP


def test_second_read_fixes_a_corrupted_id_digit(engine: TesseractEngine) -> None:
    fields = sample_fields("citizen_id_card", seed=5)
    image, _ = render_page("citizen_id_card", fields, dpi=300, seed=5)
    grey = image.convert("L")
    page = engine.read(grey, number=1, dpi=300)
    pid = fields["personal_id"]
    i = next(i for i, w in enumerate(page.words) if pid in w.text)
    wrong_year = str((int(pid[4]) + 3) % 10)
    corrupted = pid[:4] + wrong_year + pid[5:]  # the birth year digits no longer fit
    page.words[i] = dataclasses.replace(page.words[i], text=corrupted)

    def archive(_number: int) -> tuple[Image.Image, int]:
        return grey, 300

    alone = extract_fields("citizen_id_card", [page])
    assert alone["personal_id"].value == corrupted
    assert alone["personal_id"].confidence <= FAILED_CAP
    reread = make_reread(archive, {1: page}, engine)
    fixed = extract_fields("citizen_id_card", [page], reread=reread)
    assert fixed["personal_id"].value == pid
    assert fixed["personal_id"].confidence < 0.9  # fixed by one read, not confirmed


def test_second_read_agreeing_confirms(card: tuple[dict[str, str], list[PageText]]) -> None:
    fields, pages = card
    engine = TesseractEngine()
    images = {}
    for number, side in enumerate(("citizen_id_card", "citizen_id_card_back"), start=1):
        images[number] = render_page(side, fields, dpi=300, seed=11)[0].convert("L")
    reread = make_reread(lambda n: (images[n], 300), {p.number: p for p in pages}, engine)
    out = extract_document("citizen_id_card", pages, reread=reread)
    assert out.fields["date_of_birth"].value == _iso(fields["date_of_birth"])
    assert out.fields["date_of_birth"].confidence >= 0.9
    assert out.disagreements == []


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
