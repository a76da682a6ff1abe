"""The titles stage respells known titles and touches nothing else."""

from __future__ import annotations

from pipeline.titles import restore_titles
from pipeline.types import PageText, Word


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


def test_anything_else_is_left_as_read() -> None:
    lines = (
        "Giầy chứng nhận kết hôn",  # not in capitals: a sentence, not the title
        "NGUYỄN THỊ KẾT HÔN",  # two words of a title could be a name
        "GIẦY CHỨNG NHẬN:",  # punctuation in the run
        "GIÀY KHAI SANH",  # base letters differ
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",  # not a taxonomy title
    )
    page = _page(*lines)
    assert restore_titles(page) == 0
    assert page.lines == list(lines)
