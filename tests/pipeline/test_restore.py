"""The titles stage respells known titles and touches nothing else."""

from __future__ import annotations

from pipeline.restore import restore_name_runs, restore_names, restore_titles
from pipeline.restore_mrz import restore_mrz, restore_mrz_fields
from pipeline.types import ExtractedField, PageText, Word
from tests.synth import mrz_lines, sample_fields


def _page(*lines: str) -> PageText:
    words = [
        Word(text=t, confidence=0.9, left=40 * i, top=50 * n, width=30, height=20, line=n)
        for n, line in enumerate(lines)
        for i, t in enumerate(line.split())
    ]
    return PageText(number=1, width=1000, height=1000, words=words)


def test_misread_diacritics_of_a_title_are_restored() -> None:
    page = _page("GIẦY CHÚNG NHÂN KẾT HÔN", "SỐ HỘ KHAU", "CAN CƯƠC CÔNG DÂN")
    assert restore_titles(page) == 7
    assert page.lines == ["GIẤY CHỨNG NHẬN KẾT HÔN", "SỔ HỘ KHẨU", "CĂN CƯỚC CÔNG DÂN"]
    # Boxes, confidences and lines stay as read.
    assert [(w.left, w.top, w.line) for w in page.words][:2] == [(0, 0, 0), (40, 0, 0)]


def test_part_of_a_title_inside_a_longer_line_is_restored() -> None:
    page = _page("MẪU SỐ 02 ĐƠN ĐỀ NGHỊ CẤP ĐỔI GIẦY CHỨNG NHẬN")
    assert restore_titles(page) == 1
    assert page.lines == ["MẪU SỐ 02 ĐƠN ĐỀ NGHỊ CẤP ĐỔI GIẤY CHỨNG NHẬN"]


def test_a_stacked_mark_read_as_a_letter_of_its_own_is_restored() -> None:
    page = _page("BANG TOT NGHITẸP TRUNG HỌC CƠ SƠ", "BẰNG TỐT NGHIỆP TTRUNG HỌC PHO THONG")
    assert restore_titles(page) == 7
    assert page.lines == [
        "BẰNG TỐT NGHIỆP TRUNG HỌC CƠ SỞ",
        "BẰNG TỐT NGHIỆP TRUNG HỌC PHỔ THÔNG",
    ]


def test_known_printed_lines_and_long_runs_with_one_misread_letter_are_restored() -> None:
    page = _page(
        "SOCTIALIST REPUBLIC OF VIET NAM",  # a letter added
        "BỘ CÔNG AN / MINISTRY OE PUBLIC SECURITY",  # a letter misread, in 24 letters
        "CỘNG HOÀ XÃ HỘI CHU NGHĨA VIỆT NAM",  # both HÒA and HOÀ are printed: kept
        "ĐƠN ĐỀ NGHỊ CẤP ĐỐI GIẤY CHỨNG NHẬN",  # a standard form's title
        "BANG TOT NGHITIEP TRUNG HỌC PHỔ THÔNG",  # a mark read as two letters, in 29
    )
    assert restore_titles(page) == 7
    assert page.lines == [
        "SOCIALIST REPUBLIC OF VIET NAM",
        "BỘ CÔNG AN / MINISTRY OF PUBLIC SECURITY",
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "ĐƠN ĐỀ NGHỊ CẤP ĐỔI GIẤY CHỨNG NHẬN",
        "BẰNG TỐT NGHIỆP TRUNG HỌC PHỔ THÔNG",
    ]


def test_the_motto_is_restored_in_its_printed_case_past_its_dashes() -> None:
    page = _page("Đọc lập - Tự do – Hạnh phúc", "Đọc lập", "ĐỌC LẬP - TỰ DO - HẠNH PHÚC")
    assert restore_titles(page) == 1
    assert page.lines == [
        "Độc lập - Tự do – Hạnh phúc",  # its dashes as read: papers print either
        "Đọc lập",  # two words of it could be anything
        "ĐỌC LẬP - TỰ DO - HẠNH PHÚC",  # not as the motto is printed
    ]


def test_a_provinces_name_in_an_address_gets_its_marks_back() -> None:
    page = _page(
        "Xã Hòa Bình, huyện Kim Bôi, Hòa Binh",
        "thành phố Thái Nguyên, Thái Nguyễn.",
        "Hoà Bình, Khánh Hòa",  # both placings of the mark are printed: kept
        "HÒA BINH",  # not as a province is written in running text
    )
    assert restore_titles(page) == 2
    assert page.lines == [
        "Xã Hòa Bình, huyện Kim Bôi, Hòa Bình",
        "thành phố Thái Nguyên, Thái Nguyên.",
        "Hoà Bình, Khánh Hòa",
        "HÒA BINH",
    ]


def test_a_name_after_its_label_gets_its_marks_back() -> None:
    page = _page(
        "Họ, chữ đệm, tên người cha: ĐĂNG MINH QUẦN Năm sinh: 1960",
        "Họ tên: TRẤN VĂN TUẦN",
        "TỜ KHAI ĐĂNG KÝ KHAI SINH",  # no label: a title, not a name
        "Tên doanh nghiệp: CÔNG TY THƯƠNG MẠI ĐĂNG QUÂN",  # a company, not a person
        "Họ và tên: ĐĂNG",  # one word is no name
        "Họ, chữ đệm và tên: chủ hộ: ĐĂNG QUỐC TUẤN",  # the label runs on past a colon
        "Ngày sinh: 01/01/1990 Dân tộc: KINH MƯỜNG",  # no person's name here
        "TRƯỞNG CÔNG AN",  # a line of capitals alone: a name or the police chief?
    )
    assert restore_name_runs(page) == 5
    assert page.lines == [
        "Họ, chữ đệm, tên người cha: ĐẶNG MINH QUÂN Năm sinh: 1960",
        "Họ tên: TRẦN VĂN TUẤN",
        "TỜ KHAI ĐĂNG KÝ KHAI SINH",
        "Tên doanh nghiệp: CÔNG TY THƯƠNG MẠI ĐĂNG QUÂN",
        "Họ và tên: ĐĂNG",
        "Họ, chữ đệm và tên: chủ hộ: ĐẶNG QUỐC TUẤN",
        "Ngày sinh: 01/01/1990 Dân tộc: KINH MƯỜNG",
        "TRƯỞNG CÔNG AN",
    ]


def test_anything_else_is_left_as_read() -> None:
    lines = (
        "Giầy chứng nhận kết hôn",  # not in capitals: a sentence, not the title
        "NGUYỄN THỊ KẾT HÔN",  # two words of a title could be a name
        "GIẦY CHỨNG NHẬN:",  # punctuation in the run
        "GIÀY KHAI SANH",  # base letters differ, in a run too short to allow it
        "GIẦY KHAI SINH,",  # one character more, but a mark, not a letter
        "GIẤY KHAI SINHH:",  # a letter more and a mark: two differences
        "CĂN CƯỚCC",  # a letter more is sought only in runs of three words or more
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",  # not a taxonomy title
    )
    page = _page(*lines)
    assert restore_titles(page) == 0
    assert page.lines == list(lines)


def _zone(first: str, second: str, third: str) -> PageText:
    page = _page("Đặc điểm nhân dạng: Sẹo chấm", first, second, third)
    return page


def test_an_mrz_is_rewritten_as_its_check_digits_prove_it() -> None:
    l1, l2, l3 = mrz_lines(sample_fields("citizen_id_card", 3))
    read_1 = "T" + l1[1:5] + l1[5:14].replace("0", "O") + l1[14:]  # "TDVNM", O for 0
    read_2 = l2[:10].replace("0", "O") + " " + l2[10:]  # split in two words
    read_3 = l3.replace("<", "K", 2)
    page = _zone(read_1, read_2, read_3)
    assert (read_1, read_2) != (l1, l2)
    assert restore_mrz(page) == 2
    assert page.lines[1:] == [l1, l2, read_3]  # the name line has no check digit
    second = [w for w in page.words if w.line == 2]
    assert len(second) == 1 and second[0].left == 0 and second[0].width == 70


def test_an_mrz_line_whose_checks_fail_is_left_as_read() -> None:
    l1, l2, l3 = mrz_lines(sample_fields("citizen_id_card", 4))
    wrong = l2[:3] + str((int(l2[3]) + 1) % 10) + l2[4:]  # birth date no longer checks
    page = _zone("T" + l1[1:], wrong, l3)
    assert restore_mrz(page) == 1  # line 1's document code is the format's, not a guess
    assert page.lines[1:] == [l1, wrong, l3]


def test_a_zone_that_is_not_a_vietnamese_card_is_left_alone() -> None:
    l1, l2, l3 = mrz_lines(sample_fields("citizen_id_card", 5))
    foreign = "TDUSA" + l1[5:]
    page = _zone(foreign, l2, l3)
    assert restore_mrz(page) == 0
    assert page.lines[1] == foreign


def _field(value: str, page: PageText, first: int, last: int) -> ExtractedField:
    """A field read from words first..last (inclusive) of the page."""
    words = page.words[first : last + 1]
    x0, y0 = min(w.left for w in words), min(w.top for w in words)
    x1 = max(w.left + w.width for w in words)
    y1 = max(w.top + w.height for w in words)
    box = (x0 / page.width, y0 / page.height, x1 / page.width, y1 / page.height)
    return ExtractedField(value, 0.95, page.number, box)


def test_a_name_fields_spelling_goes_back_into_the_text() -> None:
    page = _page("Họ và tên / Full name:", "NGUYÊN THANH DŨNG", "Ngày sinh: 01/02/1990")
    fields = {
        "full_name": _field("NGUYỄN THANH DŨNG", page, 6, 8),
        "date_of_birth": _field("1990-02-01", page, 11, 11),  # not a name: never written
    }
    assert restore_names([page], fields, "citizen_id_card") == 1
    assert page.lines == ["Họ và tên / Full name:", "NGUYỄN THANH DŨNG", "Ngày sinh: 01/02/1990"]


def test_a_name_field_that_differs_in_letters_or_count_is_not_written_back() -> None:
    page = _page("NGUYÊN THANH DŨNG", "LÊ VĂN AN")
    fields = {"full_name": _field("NGUYỄN THÀNH", page, 0, 2)}  # two words for three
    assert restore_names([page], fields, "citizen_id_card") == 0
    page_2 = _page("TRẤN VĂN AN")
    fields = {"full_name": _field("TRẦN VĂN ANH", page_2, 0, 2)}  # AN is not ANH
    assert restore_names([page_2], fields, "citizen_id_card") == 0
    assert page.lines == ["NGUYÊN THANH DŨNG", "LÊ VĂN AN"] and page_2.lines == ["TRẤN VĂN AN"]


def _card_fields(f: dict[str, str], confidence: float) -> dict[str, ExtractedField]:
    def iso(dmy: str) -> str:
        d, m, y = dmy.split("/")
        return f"{y}-{m}-{d}"

    values = {
        "personal_id": f["personal_id"],
        "full_name": f["full_name"],
        "date_of_birth": iso(f["date_of_birth"]),
        "expiry_date": iso(f["expiry_date"]),
        "sex": "male" if f["sex"] == "Nam" else "female",
    }
    return {k: ExtractedField(v, confidence) for k, v in values.items()}


def _misread(line: str, at: int, char: str) -> str:
    return line[:at] + char + line[at + 1 :]


def test_zone_lines_are_rewritten_from_the_cards_sure_fields() -> None:
    f = sample_fields("citizen_id_card", 6)
    l1, l2, l3 = mrz_lines(f)
    read_1 = _misread(l1, 17, "6" if l1[17] != "6" else "8")  # in the ID number: composite fails
    read_2 = _misread(l2, 1, "9" if l2[1] != "9" else "8")  # a birth-date digit: its check fails
    read_3 = _misread(l3, 1, "0" if l3[1] == "O" else "T")  # a letter misread
    read_3 = read_3[:-3]  # and fewer fillers read than printed
    page = _zone(read_1, read_2, read_3)
    assert restore_mrz(page) == 0  # the checks alone cannot say which digit is wrong
    assert restore_mrz_fields([page], _card_fields(f, 0.95)) == 3
    assert page.lines[1:] == [l1, l2, l3]


def test_zone_lines_stay_as_read_unless_the_fields_are_sure_and_close() -> None:
    f = dict(sample_fields("citizen_id_card", 7), full_name="LÊ VĂN HẢI")
    l1, l2, l3 = mrz_lines(f)
    read_2 = _misread(l2, 1, "9" if l2[1] != "9" else "8")
    read_3 = l3.replace("HAI", "HAT")  # still a syllable: the zone may be right
    page = _zone(l1, read_2, read_3)
    assert restore_mrz_fields([page], _card_fields(f, 0.85)) == 0  # read once: not sure
    sure_id = {"personal_id": _card_fields(f, 0.95)["personal_id"]}
    others = {k: v for k, v in _card_fields(f, 0.85).items() if k != "personal_id"}
    assert restore_mrz_fields([page], sure_id | others) == 0  # line 1 is right already
    other = dict(f, full_name="PHẠM THỊ XUÂN", date_of_birth="01/01/1950")
    assert restore_mrz_fields([page], _card_fields(other, 0.95)) == 0  # another holder
    assert page.lines[1:] == [l1, read_2, read_3]


def test_a_filler_read_as_a_digit_is_told_by_the_composite_check() -> None:
    f = sample_fields("citizen_id_card", 8)
    l1, l2, l3 = mrz_lines(f)
    assert l1.endswith("<<<")
    read_1 = l1[:27] + l1[26] + "<<"  # the ID's last digit doubled over the first filler
    page = _zone(read_1, l2, l3)
    assert restore_mrz_fields([page], _card_fields(f, 0.95)) == 1
    assert page.lines[1:] == [l1, l2, l3]  # the composite digit stays as printed


def test_a_name_read_once_mends_a_zone_name_that_is_no_word() -> None:
    f = dict(sample_fields("citizen_id_card", 9), full_name="ĐẶNG MINH THẢO")
    l1, l2, l3 = mrz_lines(f)
    assert l3.startswith("DANG<<MINH<THAO<")
    page = _zone(l1, l2, l3.replace("MINH", "MTNH"))
    unsure = _card_fields(f, 0.8)
    assert restore_mrz_fields([page], unsure) == 1
    assert page.lines[1:] == [l1, l2, l3]
    misread_name = unsure | {"full_name": ExtractedField("ĐẶNG MTNH THẢO", 0.8)}
    page = _zone(l1, l2, l3.replace("MINH", "MTNH"))
    assert restore_mrz_fields([page], misread_name) == 0  # the printed name is no better
