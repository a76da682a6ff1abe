"""What a word of a Vietnamese name can be: a syllable, a known surname, a known given name.

OCR drops, adds and swaps the stacked marks of capitals (ĐẶNG read ĐĂNG, QUÂN read
QUẦN) and misreads a letter of the small-print MRZ (MINH read MTNH). A re-typist
fixes these from knowing Vietnamese names; this module is that knowledge, in one
place for the field extractors and the restore stage.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.classify import fold

#: One Vietnamese syllable, without diacritics (ĐẶNG -> DANG): an optional initial
#: consonant, one to three vowels, an optional final. Loose (it admits some
#: syllables the language does not use) but a letter misread for another in a name
#: (MTNH, THA0) rarely stays inside it.
_SYLLABLE = re.compile(
    r"(NGH|NG|GH|GI|KH|NH|PH|QU|TH|TR|CH|[BCDGHKLMNPRSTVX])?[AEIOUY]{1,3}(CH|NG|NH|[CMNPT])?"
)

#: The commonest Vietnamese surnames. OCR drops or swaps the stacked marks of
#: these (ĐẶNG -> ĐĂNG, TRẦN -> TRẤN); none folds to another's letters.
_SURNAMES_TEXT = """
NGUYỄN TRẦN LÊ PHẠM HOÀNG HUỲNH PHAN VŨ VÕ ĐẶNG BÙI ĐỖ HỒ NGÔ DƯƠNG LÝ ĐINH ĐÀO
TRỊNH MAI TRƯƠNG LƯƠNG LƯU ĐOÀN VƯƠNG TẠ CAO LÂM TÔ HÀ QUÁCH THÁI KHỔNG TÔN TĂNG
"""
SURNAMES = frozenset(_SURNAMES_TEXT.split())

#: Common middle and given names. A word of a name that is none of these but folds to
#: exactly one of them is that one with its marks misread (QUẦN -> QUÂN); a fold that
#: two of them share (THU, THƯ) says nothing, and a word that is one is kept.
_GIVEN_NAMES_TEXT = """
AN ÂN ANH ÁNH BẢO BẮC BẰNG BÉ BÍCH BIÊN BÌNH BỬU CẢNH CẦM CẨM CHÂU CHI CHÍ CHIẾN
CHINH CHÍNH CHUNG CÔNG CÚC CƯỜNG DANH DIỄM DIỆP DIỆU DU DUNG DŨNG DUY DUYÊN DƯƠNG
ĐẠI ĐAN ĐÀO ĐẠO ĐẠT ĐĂNG ĐIỆP ĐỊNH ĐÌNH ĐOAN ĐỨC ĐÔNG ĐỒNG GẤM GIA GIANG GIAO HÀ HẠ
HẢI HÂN HẠNH HÀO HẢO HẰNG HẬU HIỀN HIỂN HIỆP HIẾU HOA HÒA HOÀ HOÀI HOAN HOÀN HOÀNG
HỒNG HỢP HUÂN HUỆ HÙNG HƯNG HƯƠNG HƯỜNG HỮU HUY HUYỀN KHA KHẢI KHANG KHÁNH KHOA KHÔI
KHUÊ KIÊN KIỆT KIỀU KIM KỲ LAM LÂM LAN LỆ LIÊN LIỄU LINH LOAN LỘC LỢI LONG LUÂN
LƯƠNG LY LÝ MAI MẠNH MẪN MINH MY MỸ NAM NGA NGÂN NGHĨA NGHI NGỌC NGUYÊN NGUYỆT NHÀN
NHÂN NHẬT NHI NHIÊN NHƯ NHUNG NINH OANH PHÁT PHONG PHÚ PHÚC PHỤNG PHƯƠNG PHƯỢNG
QUANG QUÂN QUẾ QUỐC QUỲNH QUÝ SANG SƠN SỸ SĨ TÀI TÂM TÂN THẠCH THÁI THẮM THẮNG THANH
THÀNH THẢO THẾ THI THỊ THIỆN THỊNH THOA THU THƯ THUẬN THỦY THÙY THUỶ THUỲ THÚY THUÝ
THƯƠNG TIÊN TIẾN TÍN TÌNH TOÀN TRÂM TRANG TRÍ TRINH TRỌNG TRUNG TRƯỜNG TÚ TUẤN TÙNG
TƯỜNG TUYẾT UYÊN VÂN VĂN VIỆT VINH VĨNH VŨ VY XUÂN YÊN YẾN
"""
GIVEN_NAMES = frozenset(_GIVEN_NAMES_TEXT.split())


def _by_fold(names: frozenset[str]) -> dict[str, str]:
    """Fold -> name, for the folds only one name of the set has."""
    spellings: dict[str, set[str]] = {}
    for name in names:
        spellings.setdefault(fold(name), set()).add(name)
    return {k: next(iter(v)) for k, v in spellings.items() if len(v) == 1}


_SURNAME_BY_FOLD = _by_fold(SURNAMES)
_GIVEN_BY_FOLD = _by_fold(GIVEN_NAMES)


def is_syllable(word: str) -> bool:
    """True when ``word`` (any case, marks or none) could be one Vietnamese syllable."""
    return _SYLLABLE.fullmatch(fold(word)) is not None


def respell_name(words: list[str]) -> list[str]:
    """A name's words (NFC capitals) with the marks OCR lost or swapped put back.

    The first of two or more words is the surname; the others middle and given names.
    Only a word that is no known name and folds to exactly one changes.
    """
    out = [unicodedata.normalize("NFC", w) for w in words]
    for i, word in enumerate(out):
        if i == 0 and len(out) >= 2:
            if word not in SURNAMES:
                out[i] = _SURNAME_BY_FOLD.get(fold(word), word)
        elif word not in GIVEN_NAMES:
            out[i] = _GIVEN_BY_FOLD.get(fold(word), word)
    return out


#: The provinces and centrally-run cities (63, as before the 2025 merger; every
#: address on a paper issued before it names one), with both ways of placing the mark
#: on "oa" (Hòa, Hoà). In an address OCR drops a mark ("Hòa Binh") or doubles one.
_PROVINCES_TEXT = """
Hà Nội | Hồ Chí Minh | Hải Phòng | Đà Nẵng | Cần Thơ | An Giang | Bà Rịa - Vũng Tàu |
Bắc Giang | Bắc Kạn | Bạc Liêu | Bắc Ninh | Bến Tre | Bình Định | Bình Dương |
Bình Phước | Bình Thuận | Cà Mau | Cao Bằng | Đắk Lắk | Đắk Nông | Điện Biên |
Đồng Nai | Đồng Tháp | Gia Lai | Hà Giang | Hà Nam | Hà Tĩnh | Hải Dương | Hậu Giang |
Hòa Bình | Hoà Bình | Hưng Yên | Khánh Hòa | Khánh Hoà | Kiên Giang | Kon Tum |
Lai Châu | Lâm Đồng | Lạng Sơn | Lào Cai | Long An | Nam Định | Nghệ An | Ninh Bình |
Ninh Thuận | Phú Thọ | Phú Yên | Quảng Bình | Quảng Nam | Quảng Ngãi | Quảng Ninh |
Quảng Trị | Sóc Trăng | Sơn La | Tây Ninh | Thái Bình | Thái Nguyên | Thanh Hóa |
Thanh Hoá | Thừa Thiên Huế | Tiền Giang | Trà Vinh | Tuyên Quang | Vĩnh Long |
Vĩnh Phúc | Yên Bái
"""
PROVINCES = tuple(p.strip() for p in _PROVINCES_TEXT.split("|"))
