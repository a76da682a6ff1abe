"""Labels printed before values on Vietnamese papers, as regexes on folded text.

Folded text is uppercase without diacritics and keeps one character per input
character (pipeline.classify.fold), so a match's end is where the value starts
in the printed line. Most labels are shared across types; a few differ by type.
"""

from __future__ import annotations

import re


def label(vi: tuple[str, ...], en: tuple[str, ...] = (), colon: bool = False) -> re.Pattern[str]:
    """Regex for a (possibly bilingual) label in folded text; the value follows its end.

    ``colon`` requires the colon (or the line's end) after the label, for labels
    that are prefixes of others ("Họ, chữ đệm, tên" / "... tên người mẹ").
    """

    def alt(options: tuple[str, ...]) -> str:
        parts = [re.escape(o).replace(",\\ ", ",?\\s*").replace("\\ ", "\\s+") for o in options]
        return "(?:" + "|".join(parts) + ")"

    # The English half is often misread ("Eull name"): any capitals up to the colon do.
    fuzzy = r"[A-Z][A-Z ,.'’]{0,40}(?=\s*[:;])"
    english = rf"(?:\s*/\s*(?:{alt(en)}\.?|{fuzzy}))?" if en else ""
    head = rf"(?:{alt(vi)}{english}" + (rf"|{alt(en)}\.?)" if en else ")")
    tail = r"\s*(?:[:;]|$)" if colon else r"\s*[:;.]?"
    return re.compile(r"(?:^|(?<=\W))" + head + r"(?![A-Z0-9])" + tail)


_NAME = (
    "HO VA TEN",
    "HO, CHU DEM VA TEN",
    "HO, CHU DEM, TEN",
    "HO TEN",
    "HO VA TEN NGUOI YEU CAU",
    "HO, CHU DEM VA TEN NGUOI YEU CAU",
    "HO, CHU DEM VA TEN KHAI SINH",
)
_ID = ("SO DINH DANH CA NHAN", "SO CCCD", "SO CMND", "SO")
_ID_EN = ("NO", "ID NO", "PERSONAL NO", "PERSONAL IDENTIFICATION NUMBER")
LABELS: dict[str, re.Pattern[str]] = {
    "full_name": label(_NAME, ("FULL NAME",), colon=True),
    "father_name": label(("HO, CHU DEM, TEN NGUOI CHA", "HO VA TEN CHA"), colon=True),
    "mother_name": label(("HO, CHU DEM, TEN NGUOI ME", "HO VA TEN ME"), colon=True),
    "husband_name": label(("HO, CHU DEM, TEN CHONG", "HO VA TEN CHONG"), colon=True),
    "wife_name": label(("HO, CHU DEM, TEN VO", "HO VA TEN VO"), colon=True),
    "head_of_household": label(("HO VA TEN CHU HO",), colon=True),
    "personal_id": label(_ID, _ID_EN),
    "date_of_birth": label(("NGAY SINH", "NGAY, THANG, NAM SINH", "SINH NGAY"), ("DATE OF BIRTH",)),
    "sex": label(("GIOI TINH",), ("SEX",)),
    "nationality": label(("QUOC TICH",), ("NATIONALITY",)),
    "ethnicity": label(("DAN TOC",), ("ETHNICITY",)),
    "place_of_origin": label(("QUE QUAN",), ("PLACE OF ORIGIN",)),
    "place_of_residence": label(
        ("NOI THUONG TRU", "NOI CU TRU"), ("PLACE OF RESIDENCE",), colon=True
    ),
    "permanent_residence": label(("NOI THUONG TRU",), colon=True),
    "place_of_birth": label(("NOI SINH",), ("PLACE OF BIRTH",)),
    "address": label(("NOI CU TRU", "DIA CHI THUONG TRU", "DIA CHI"), ("ADDRESS",), colon=True),
    "issue_date": label(
        (
            "NGAY, THANG, NAM DANG KY",
            "NGAY DANG KY",
            "NGAY CAP",
            "DANG KY LAN DAU",
            "NGAY, THANG, NAM CAP",
            "NGAY, THANG, NAM",
        ),
        ("DATE OF ISSUE", "DATE, MONTH, YEAR"),
        colon=True,
    ),
    "expiry_date": label(
        ("CO GIA TRI DEN", "NGAY, THANG, NAM HET HAN"), ("DATE OF EXPIRY", "EXPIRES")
    ),
    "document_number": re.compile(r"^\W*SO\s*[:;]"),
    "parcel_number": label(("THUA DAT SO",)),
    "map_sheet_number": label(("TO BAN DO SO",)),
    "area_m2": label(("DIEN TICH",)),
    "enterprise_code": label(("MA SO DOANH NGHIEP", "MA SO THUE")),
    "company_name": label(("TEN CONG TY VIET BANG TIENG VIET", "TEN DOANH NGHIEP")),
    "head_office": label(("DIA CHI TRU SO CHINH",)),
    "charter_capital": label(("VON DIEU LE",)),
    "class": label(("HANG",), ("CLASS",), colon=True),
    "serial": label(("SO HIEU",), colon=True),
    "register_number": label(("SO VAO SO CAP BANG", "SO VAO SO"), colon=True),
}
#: Labels that differ on one type: field -> label there.
TYPE_LABELS: dict[str, dict[str, re.Pattern[str]]] = {
    "driving_licence": {"document_number": label(("SO",), ("NO",))},
    "business_registration": {"legal_representative": LABELS["full_name"]},
    "land_use_certificate": {
        "holder": re.compile(r"^\W*(?:ONG|BA)(?![A-Z0-9])\s*:?"),
        "address": re.compile(r"^\W*(?:B\)\s*)?DIA\s+CHI\s*:"),
    },
}
ALL_LABELS = tuple(LABELS.values())
