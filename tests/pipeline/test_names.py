"""Name knowledge: syllables, and the marks OCR swaps on known names."""

from __future__ import annotations

import pytest

from pipeline.names import GIVEN_NAMES, SURNAMES, is_syllable, respell_name


@pytest.mark.parametrize("word", ["NGUYỄN", "MINH", "THẢO", "QUYÊN", "NGHIÊNG", "Y", "ƯỚC"])
def test_vietnamese_syllables_are_syllables(word: str) -> None:
    assert is_syllable(word)


@pytest.mark.parametrize("word", ["MTNH", "THA0", "NGUYENN", "QUYNHH", "", "B"])
def test_a_misread_letter_usually_leaves_no_syllable(word: str) -> None:
    assert not is_syllable(word)


def test_swapped_marks_on_known_names_are_put_back() -> None:
    assert respell_name(["ĐĂNG", "MINH", "QUẦN"]) == ["ĐẶNG", "MINH", "QUÂN"]
    assert respell_name(["TRẤN", "VĂN", "TUẦN"]) == ["TRẦN", "VĂN", "TUẤN"]
    assert respell_name(["LÊ", "THỊ", "BINH"]) == ["LÊ", "THỊ", "BÌNH"]


def test_known_names_and_ambiguous_or_unknown_words_are_kept() -> None:
    assert respell_name(["NGUYỄN", "ĐĂNG", "KHOA"]) == ["NGUYỄN", "ĐĂNG", "KHOA"]  # a given ĐĂNG
    assert respell_name(["LÊ", "THỨ", "HOÀ"]) == ["LÊ", "THỨ", "HOÀ"]  # THU or THƯ: unknown
    assert respell_name(["PHẠM", "XUYẾN"]) == ["PHẠM", "XUYẾN"]  # a name not in the list
    assert respell_name(["ĐĂNG"]) == ["ĐĂNG"]  # one word is no surname


def test_no_two_surnames_share_their_letters() -> None:
    from pipeline.classify import fold

    assert len({fold(s) for s in SURNAMES}) == len(SURNAMES)
    assert all(is_syllable(n) for n in SURNAMES | GIVEN_NAMES)
