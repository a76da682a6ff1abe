"""Classification by title, and splitting a batch of pages into papers."""

from __future__ import annotations

import pytest

from config.taxonomy import DOC_TYPES
from pipeline.classify import classify_page, fold, split_documents
from pipeline.ocr import TesseractEngine
from pipeline.types import DocumentSpan, PageClass, PageText
from tests.synth import page_from_lines, render_page, sample_fields

RENDERED = (
    "citizen_id_card",
    "citizen_id_card_back",
    "application_form",
    "birth_certificate",
    "land_use_certificate",
    "business_registration",
)


@pytest.fixture(scope="module")
def ocr_pages() -> dict[str, PageText]:
    """Each rendered paper read once by the real Tesseract."""
    engine = TesseractEngine()
    out = {}
    for number, name in enumerate(RENDERED, start=1):
        fields = sample_fields(name.removesuffix("_back"), seed=7)
        image, _ = render_page(name, fields, dpi=300, seed=7)
        out[name] = engine.read(image.convert("L"), number=number, dpi=300)
    return out


def test_taxonomy_has_every_code_of_the_domain_table() -> None:
    assert set(DOC_TYPES) == {
        "citizen_id_card",
        "legacy_id_card",
        "birth_certificate",
        "marriage_certificate",
        "residence_confirmation",
        "household_register",
        "land_use_certificate",
        "business_registration",
        "diploma",
        "driving_licence",
        "application_form",
        "unknown",
    }
    for code, doc in DOC_TYPES.items():
        assert doc.code == code
        assert set(doc.required) <= set(doc.fields)
        assert all(p == p.upper() for p in doc.title_patterns)


@pytest.mark.parametrize("name", [n for n in RENDERED if not n.endswith("_back")])
def test_rendered_papers_classify_by_title(ocr_pages: dict[str, PageText], name: str) -> None:
    cls = classify_page(ocr_pages[name])
    assert cls == PageClass(name, cls.confidence, has_title=True)
    assert cls.confidence >= 0.8


def test_rendered_card_back_is_an_untitled_id_card(ocr_pages: dict[str, PageText]) -> None:
    cls = classify_page(ocr_pages["citizen_id_card_back"])
    assert cls.doc_type == "citizen_id_card"
    assert not cls.has_title


def test_rendered_batch_splits_into_papers(ocr_pages: dict[str, PageText]) -> None:
    batch = ["citizen_id_card", "citizen_id_card_back", "application_form", "birth_certificate"]
    spans = split_documents([classify_page(ocr_pages[n]) for n in batch])
    assert [(s.doc_type, s.pages) for s in spans] == [
        ("citizen_id_card", (1, 2)),
        ("application_form", (3,)),
        ("birth_certificate", (4,)),
    ]


@pytest.mark.parametrize(
    ("title", "doc_type"),
    [
        ("CĂN CƯỚC CÔNG DÂN", "citizen_id_card"),
        ("CAN CƯƠC CONG DAN", "citizen_id_card"),  # what Tesseract makes of the bold title
        ("CĂN CƯỚC", "citizen_id_card"),
        ("IDENTITY CARD", "citizen_id_card"),
        ("CHỨNG MINH NHÂN DÂN", "legacy_id_card"),
        ("GIAY KHAl SINH", "birth_certificate"),
        ("GIẤY CHỨNG NHẬN KẾT HÔN", "marriage_certificate"),
        ("GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT", "land_use_certificate"),
        ("GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP", "business_registration"),
        ("XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ", "residence_confirmation"),
        ("SỔ HỘ KHẨU", "household_register"),
        ("BẰNG TỐT NGHIỆP TRUNG HỌC PHỔ THÔNG", "diploma"),
        ("GIẤY PHÉP LÁI XE / DRIVER'S LICENSE", "driving_licence"),
        ("TỜ KHAI ĐĂNG KÝ KHAI SINH", "application_form"),
        ("ĐƠN ĐỀ NGHỊ CẤP BẢN SAO", "application_form"),
        ("Kính gửi: Ủy ban nhân dân xã Hòa Bình", "application_form"),
    ],
)
def test_titles(title: str, doc_type: str) -> None:
    page = page_from_lines(
        ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", title]
    )
    cls = classify_page(page)
    assert (cls.doc_type, cls.has_title) == (doc_type, True)
    assert 0.8 <= cls.confidence <= 1.0


@pytest.mark.parametrize(
    "lines",
    [
        ["Căn cứ Luật Hộ tịch ngày 20 tháng 11 năm 2014;"],
        ["Giấy khai sinh số 12 đã được cấp cho con tôi"],
        ["tiếp theo trang 1", "Thửa đất số: 12"],
        [],
    ],
)
def test_pages_without_a_title_are_unknown(lines: list[str]) -> None:
    assert classify_page(page_from_lines(lines)) == PageClass("unknown", 0.0, has_title=False)


def test_title_far_down_the_page_is_not_a_title() -> None:
    body = [f"Dòng nội dung số {i}: không có gì" for i in range(40)]
    page = page_from_lines([*body, "NGƯỜI KÝ GIẤY KHAI SINH"])
    assert classify_page(page).doc_type == "unknown"


def test_mrz_marks_an_id_card_back() -> None:
    page = page_from_lines(
        [
            "Nốt ruồi trên mày phải",
            "IDVNM0990123451001099012345<<4",
            "9908154M3908158VNM<<<<<<<<<<<6",
        ]
    )
    cls = classify_page(page)
    assert (cls.doc_type, cls.has_title) == ("citizen_id_card", False)
    assert cls.confidence > 0.5


def test_fold_keeps_length_and_drops_accents() -> None:
    text = "Đặc điểm nhân dạng Nữ ƯỚC"
    assert fold(text) == "DAC DIEM NHAN DANG NU UOC"
    assert len(fold(text)) == len(text)


def _cls(doc_type: str, titled: bool = True) -> PageClass:
    return PageClass(doc_type, 0.9 if titled else 0.0, titled)


def test_split_untitled_pages_continue_the_previous_paper() -> None:
    spans = split_documents(
        [_cls("birth_certificate"), _cls("unknown", False), _cls("land_use_certificate")]
    )
    assert spans == [
        DocumentSpan("birth_certificate", 0.9, (1, 2)),
        DocumentSpan("land_use_certificate", 0.9, (3,)),
    ]


def test_split_untitled_first_page_starts_an_unknown_paper() -> None:
    spans = split_documents([_cls("unknown", False), _cls("unknown", False), _cls("diploma")])
    assert [(s.doc_type, s.pages) for s in spans] == [("unknown", (1, 2)), ("diploma", (3,))]


def test_split_card_back_joins_a_card_only() -> None:
    back = PageClass("citizen_id_card", 0.9, has_title=False)
    spans = split_documents([_cls("legacy_id_card"), back, _cls("birth_certificate"), back])
    assert [(s.doc_type, s.pages) for s in spans] == [
        ("legacy_id_card", (1, 2)),
        ("birth_certificate", (3,)),
        ("citizen_id_card", (4,)),
    ]


def test_split_of_nothing_is_nothing() -> None:
    assert split_documents([]) == []
