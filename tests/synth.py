"""Synthetic scans of Vietnamese papers, with the printed lines as ground truth.

Real citizens' papers cannot be committed, so tests render look-alikes with the
DejaVu fonts (which carry every Vietnamese diacritic) and run the real
Tesseract on them. Layouts follow the printed forms closely enough that the
classifier and the extractor see what they will see on a scan: a national
header, a title in the top fifth, "label: value" lines, a signing line.

Two levels of use:

* ``sample_fields`` + ``render_page``: one page in the *reference* layout (what
  the pipeline tests were written against; unchanged for a given seed).
* ``render_document``: a whole paper (one or more pages) in a layout varied by a
  ``Variant`` (font family, margins, spacing, label wording, page count, rules),
  with its ground truth: the doc type, the normalised fields printed on it and
  the printed lines of each page. The corpus generator (tests/corpus.py) uses it.

``sample_fields`` values are in *printed* form (dates dd/mm/yyyy, sex "Nam"/"Nữ",
areas "125,5", money "500.000.000 đồng"). Ground truth for benchmarks is the
*normalised* form returned by ``truth_fields``: dates ISO yyyy-mm-dd, sex
male/female, names NFC capitals, area_m2 "125.5", charter_capital digits only,
land serials "BX 123456", household members joined by "; ".
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.types import PageText, Word

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

NATIONAL = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"

A4_MM = (210.0, 297.0)
#: ID cards are printed twice their physical size (85.6 x 54 mm): a card scanned
#: at 300 dpi has glyphs under the 20 px Tesseract needs, so scanners zoom.
CARD_MM = (171.2, 108.0)

SURNAMES = ("NGUYỄN", "TRẦN", "LÊ", "PHẠM", "HOÀNG", "PHAN", "VŨ", "ĐẶNG", "BÙI", "ĐỖ", "HỒ")
MIDDLE_MALE = ("VĂN", "ĐỨC", "MINH", "QUỐC", "HỮU", "THANH")
MIDDLE_FEMALE = ("THỊ", "NGỌC", "THU", "MINH", "THANH", "KIM")
GIVEN_MALE = ("HÙNG", "DŨNG", "TUẤN", "LONG", "QUÂN", "KHÁNH", "ĐỨC", "HẢI", "NAM")
GIVEN_FEMALE = ("HƯƠNG", "LAN", "MAI", "TRANG", "THẢO", "YẾN", "PHƯƠNG", "NGỌC", "HÀ")
#: (province code of birth registration, place printed on papers)
PLACES = (
    ("001", "Phường Hàng Bạc, quận Hoàn Kiếm, Hà Nội"),
    ("006", "Xã Nông Thượng, thành phố Bắc Kạn, Bắc Kạn"),
    ("019", "Phường Quang Trung, thành phố Thái Nguyên, Thái Nguyên"),
    ("004", "Xã Hưng Đạo, thành phố Cao Bằng, Cao Bằng"),
    ("017", "Xã Hòa Bình, huyện Kim Bôi, Hòa Bình"),
)
#: Old 9-digit ID-card prefixes by province (check): Hà Nội 01, Bắc Kạn 095, ...
_CMND_PREFIX = {"001": "01", "006": "095", "019": "090", "004": "08", "017": "11"}
STREETS = ("Số 12 ngõ 5 phố Huế", "Tổ 7", "Thôn Nà Cà", "Xóm Bãi Bông", "Số 45 đường Lê Lợi")

#: Page kinds that are card-sized (everything else is A4).
CARD_KINDS = frozenset(
    {
        "citizen_id_card",
        "citizen_id_card_back",
        "legacy_id_card",
        "legacy_id_card_back",
        "driving_licence",
    }
)


@dataclass(frozen=True)
class _Line:
    """One printed row: text, style, alignment and the truth fields it shows."""

    text: str
    style: str = "body"  # body | bold | title | mono | italic | rule | gap
    align: str = "left"  # left | center | right
    indent_mm: float = 0.0
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """How one rendering departs from the reference layout, so no pixel layout is learnt.

    ``wording`` 0 keeps every reference label; any other value picks label
    variants deterministically per label. ``pages`` 2 asks for the multi-page
    form of the types that have one (card with its back, land certificate,
    application form, household register).
    """

    family: str = "DejaVuSans"
    margin_delta_mm: float = 0.0
    top_delta_mm: float = 0.0
    spacing: float = 1.35
    scale: float = 1.0
    wording: int = 0
    pages: int = 1
    rules: bool = False

    @classmethod
    def sample(cls, rng: random.Random) -> Variant:
        return cls(
            family=rng.choice(
                ("DejaVuSans", "DejaVuSerif", "DejaVuSansCondensed", "DejaVuSerifCondensed")
            ),
            margin_delta_mm=rng.uniform(-4.0, 6.0),
            top_delta_mm=rng.uniform(-3.0, 8.0),
            spacing=rng.uniform(1.25, 1.7),
            scale=rng.uniform(0.92, 1.1),
            wording=rng.randrange(1, 10**6),
            pages=rng.choice((1, 2)),
            rules=rng.random() < 0.6,
        )

    def pick(self, key: str, options: tuple[str, ...]) -> str:
        """Option 0 in the reference layout; else one chosen by (wording, key)."""
        if not self.wording:
            return options[0]
        return options[random.Random(f"{self.wording}:{key}").randrange(len(options))]


# --------------------------------------------------------------------------- fake data


def _dmy(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _pid(province: str, born: date, male: bool, rng: random.Random) -> str:
    """A personal ID consistent with birth year and sex (PPP G YY RRRRRR)."""
    century = {19: 0, 20: 2, 21: 4}[born.year // 100]
    g = century + (0 if male else 1)
    return f"{province}{g}{born.year % 100:02d}{rng.randrange(10**6):06d}"


def _name(rng: random.Random, male: bool, surname: str | None = None) -> str:
    middle = rng.choice(MIDDLE_MALE if male else MIDDLE_FEMALE)
    given = rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
    return f"{surname or rng.choice(SURNAMES)} {middle} {given}"


def _expiry(born: date, issued: date) -> date:
    """CCCD validity ends at the first of ages 25, 40, 60 reached after issue."""
    for age in (25, 40, 60):
        end = born.replace(year=born.year + age)
        if end > issued + timedelta(days=2 * 365):
            return end
    return born.replace(year=born.year + 100)


def _day(rng: random.Random, first: int, last: int) -> date:
    """A random date in the years first..last (inclusive)."""
    return date(rng.randrange(first, last + 1), rng.randrange(1, 13), rng.randrange(1, 29))


def sample_fields(doc_type: str, seed: int = 0) -> dict[str, str]:
    """Consistent fake data for one paper, in printed form (dates dd/mm/yyyy).

    The first keys are drawn exactly as before new types were added, so the
    reference pages of the pipeline tests do not change with a seed.
    """
    rng = random.Random(f"{doc_type}:{seed}")
    male = rng.random() < 0.5
    child = doc_type == "birth_certificate"
    legacy = doc_type == "legacy_id_card"
    first, last = (2005, 2022) if child else (1960, 2000 if legacy else 2004)
    year = rng.randrange(first, last)
    born = date(year, rng.randrange(1, 13), rng.randrange(1, 29))
    province, place = rng.choice(PLACES)
    _, residence = rng.choice(PLACES)
    surname = rng.choice(SURNAMES)
    issued = born + timedelta(days=rng.randrange(20, 60)) if child else date(2022, 1, 10)
    issued = issued + timedelta(days=rng.randrange(0, 300)) if not child else issued
    fields = {
        "full_name": _name(rng, male, surname),
        "date_of_birth": _dmy(born),
        "sex": "Nam" if male else "Nữ",
        "nationality": "Việt Nam",
        "ethnicity": "Kinh",
        "personal_id": _pid(province, born, male, rng),
        "place_of_origin": place,
        "place_of_residence": residence,
        "place_of_birth": f"Trạm y tế {place[0].lower()}{place[1:]}",
        "issue_date": _dmy(issued),
        "expiry_date": _dmy(_expiry(born, issued)),
        "father_name": _name(rng, True, surname),
        "father_birth_year": str(year - rng.randrange(24, 36)),
        "mother_name": _name(rng, False),
        "mother_birth_year": str(year - rng.randrange(22, 34)),
        "document_number": f"{rng.randrange(1, 400)}/{issued.year}",
        "agency": f"Ủy ban nhân dân {place[0].lower()}{place.split(',')[0][1:]}",
        "city": place.rsplit(", ", 1)[-1],
        "child_name": _name(rng, not male, surname),
        "child_date_of_birth": _dmy(issued - timedelta(days=rng.randrange(5, 40))),
        "parcel_number": str(rng.randrange(10, 900)),
        "map_sheet_number": str(rng.randrange(1, 60)),
        "area_m2": f"{rng.randrange(60, 900)},{rng.randrange(10)}",
        "serial": f"{rng.choice(('BX', 'CS', 'DA', 'CT'))} {rng.randrange(10**6):06d}",
        "enterprise_code": f"{rng.randrange(10**9, 10**10)}",
        "company_name": f"CÔNG TY TNHH {rng.choice(('AN PHÚ', 'HƯNG THỊNH', 'MINH ĐỨC'))}",
        "charter_capital": f"{rng.randrange(1, 50) * 100_000_000:,} đồng".replace(",", "."),
    }
    fields.update(_more_fields(doc_type, rng, born, male, province, residence, surname))
    return fields


def _more_fields(
    doc_type: str,
    rng: random.Random,
    born: date,
    male: bool,
    province: str,
    residence: str,
    surname: str,
) -> dict[str, str]:
    """Fields of the types added later, drawn after the original ones."""
    out: dict[str, str] = {}
    town = residence.split(",")[0]
    out["parcel_address"] = f"{rng.choice(STREETS)}, {town[0].lower()}{town[1:]}"
    out["parcel_address"] = f"{out['parcel_address']}, {residence.split(', ', 1)[1]}"
    if doc_type == "legacy_id_card":
        issued = _day(rng, max(born.year + 15, 2000), 2015)
        if issued.year >= 2012 and rng.random() < 0.4:
            out["personal_id"] = _pid(province, born, male, rng)
        else:
            prefix = _CMND_PREFIX[province]
            out["personal_id"] = prefix + f"{rng.randrange(10**9):09d}"[len(prefix) :]
        out["issue_date"] = _dmy(issued)
    elif doc_type == "marriage_certificate":
        h_born = _day(rng, 1965, 2000)
        w_born = _day(rng, h_born.year - 3, min(h_born.year + 6, 2002))
        registered = _day(rng, max(h_born.year, w_born.year) + 20, 2025)
        p1, p2 = rng.choice(PLACES)[0], rng.choice(PLACES)[0]
        out.update(
            husband_name=_name(rng, True, surname),
            wife_name=_name(rng, False),
            husband_dob=_dmy(h_born),
            wife_dob=_dmy(w_born),
            husband_id=_pid(p1, h_born, True, rng),
            wife_id=_pid(p2, w_born, False, rng),
            issue_date=_dmy(registered),
            document_number=f"{rng.randrange(1, 300)}/{registered.year}",
            book_number=f"{rng.randrange(1, 5):02d}/{registered.year}",
        )
    elif doc_type == "residence_confirmation":
        out["issue_date"] = _dmy(_day(rng, 2023, 2025))
        out["document_number"] = f"{rng.randrange(1, 3000)}/XN"
        out["head_of_household"] = _name(rng, True, surname)
    elif doc_type == "household_register":
        head_born = _day(rng, 1950, 1975)
        members = [(_name(rng, True, surname), "Chủ hộ", _dmy(head_born), "Nam")]
        members.append((_name(rng, False), "Vợ", _dmy(_day(rng, 1950, 1978)), "Nữ"))
        for _ in range(rng.randrange(0, 4)):
            son = rng.random() < 0.5
            kid_born = _day(rng, head_born.year + 20, 2015)
            members.append(
                (_name(rng, son, surname), "Con", _dmy(kid_born), "Nam" if son else "Nữ")
            )
        out["head_of_household"] = members[0][0]
        out["members"] = "; ".join("|".join(m) for m in members)
        out["register_number"] = f"{rng.randrange(10**8):08d}"
        out["issue_date"] = _dmy(_day(rng, 1995, 2015))
    elif doc_type == "diploma":
        level = rng.choice(("TRUNG HỌC PHỔ THÔNG", "TRUNG HỌC CƠ SỞ", "ĐẠI HỌC"))
        age = {"TRUNG HỌC PHỔ THÔNG": 18, "TRUNG HỌC CƠ SỞ": 15, "ĐẠI HỌC": 22}[level]
        graduated = born.year + age
        out.update(
            level=level,
            graduation_year=str(graduated),
            issue_date=_dmy(_day(rng, graduated, graduated)),
            serial=f"{rng.choice('ABC')}{rng.randrange(10**7):07d}",
            register_number=f"{rng.randrange(1, 20000):05d}/{graduated}",
            school=rng.choice(
                ("Trường THPT Chu Văn An", "Trường THPT Bắc Kạn", "Trường THCS Lê Lợi")
            ),
            rank=rng.choice(("Giỏi", "Khá", "Trung bình")),
        )
    elif doc_type == "driving_licence":
        licence_class = rng.choice(("A1", "A2", "B1", "B2", "C", "D"))
        first = max(born.year + 18, 2005)
        issued = _day(rng, first, max(first, 2024))
        years = {"A1": 0, "A2": 0, "B1": 10, "B2": 10, "C": 5, "D": 5}[licence_class]
        expiry = _dmy(issued.replace(year=issued.year + years)) if years else "Không thời hạn"
        out.update(
            document_number=f"{rng.randrange(1, 97):02d}{rng.randrange(10**10):010d}",
            licence_class=licence_class,
            issue_date=_dmy(issued),
            expiry_date=expiry,
        )
    elif doc_type == "application_form":
        out["form"] = rng.choice(("birth", "copy", "land"))
    return out


# --------------------------------------------------------------------------- ground truth

_NAMES = frozenset(
    {
        "full_name",
        "father_name",
        "mother_name",
        "husband_name",
        "wife_name",
        "holder",
        "head_of_household",
        "legal_representative",
    }
)
_DATES = frozenset({"date_of_birth", "issue_date", "expiry_date"})
#: Where a truth field's value comes from, when the raw key differs from its name.
_SOURCES: dict[str, dict[str, str]] = {
    "land_use_certificate": {"holder": "father_name", "address": "parcel_address"},
    "business_registration": {
        "head_office": "place_of_residence",
        "legal_representative": "father_name",
    },
    "application_form": {"address": "place_of_residence"},
    "residence_confirmation": {"permanent_residence": "place_of_residence"},
    "diploma": {},
    "driving_licence": {"class": "licence_class"},
}


def iso_date(printed: str) -> str:
    """'15/08/2015' or '15-08-2015' -> '2015-08-15'."""
    d, m, y = printed.replace("-", "/").split("/")
    return f"{y}-{int(m):02d}-{int(d):02d}"


def normalise(name: str, value: str) -> str | None:
    """The stored (normalised) form of a printed value; None when there is none."""
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if name in _DATES:
        return iso_date(value) if value[:1].isdigit() else None
    if name == "sex":
        return {"Nam": "male", "Nữ": "female"}[value]
    if name in _NAMES:
        return value.upper()
    if name == "area_m2":
        return value.replace(".", "").replace(",", ".")
    if name == "charter_capital":
        return "".join(c for c in value if c.isdigit())
    if name == "members":
        return "; ".join(m.split("|")[0] for m in value.split("; "))
    return value


def truth_fields(doc_type: str, fields: dict[str, str], shown: set[str]) -> dict[str, str]:
    """Normalised values of the taxonomy fields of ``doc_type`` that are printed (``shown``)."""
    from config.taxonomy import DOC_TYPES

    sources = _SOURCES.get(doc_type, {})
    out: dict[str, str] = {}
    for name in DOC_TYPES[doc_type].fields:
        if name not in shown:
            continue
        value = normalise(name, fields[sources.get(name, name)])
        if value is not None:
            out[name] = value
    return out


# --------------------------------------------------------------------------- words

_UNITS = ("", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def _words_below_100(n: int) -> str:
    tens, unit = divmod(n, 10)
    if tens == 0:
        return _UNITS[unit]
    head = "mười" if tens == 1 else f"{_UNITS[tens]} mươi"
    if unit == 0:
        return head
    tail = {1: "mốt" if tens > 1 else "một", 4: "tư" if tens > 1 else "bốn", 5: "lăm"}
    return f"{head} {tail.get(unit, _UNITS[unit])}"


def _year_words(y: int) -> str:
    thousands, rest = divmod(y, 1000)
    hundreds, below = divmod(rest, 100)
    out = f"{_UNITS[thousands]} nghìn {_UNITS[hundreds] if hundreds else 'không'} trăm"
    if below == 0:
        return out
    return f"{out} {'linh ' if below < 10 else ''}{_words_below_100(below)}"


def date_in_words(dmy: str) -> str:
    """'15/08/2015' -> 'Ngày mười lăm tháng tám năm hai nghìn không trăm mười lăm'."""
    d, m, y = (int(p) for p in dmy.split("/"))
    return f"Ngày {_words_below_100(d)} tháng {_words_below_100(m)} năm {_year_words(y)}"


def _signing_date(city: str, dmy: str, pad: bool = False) -> str:
    d, m, y = (int(p) for p in dmy.split("/"))
    if pad:
        return f"{city}, ngày {d:02d} tháng {m:02d} năm {y}"
    return f"{city}, ngày {d} tháng {m} năm {y}"


def _signed(f: dict[str, str], key: str, v: Variant, city: str | None = None) -> str:
    """Signing line in one of the two common forms (day and month padded or not)."""
    pad = v.pick("pad_date", ("no", "yes")) == "yes"
    return _signing_date(city or f["city"], f[key], pad)


def _header(v: Variant = Variant()) -> list[_Line]:
    motto = v.pick("motto", (MOTTO, MOTTO.replace(" - ", " – ")))
    lines = [_Line(NATIONAL, "bold", "center"), _Line(motto, "bold", "center")]
    if v.rules:
        lines.append(_Line("", "rule", "center"))
    return lines


# --------------------------------------------------------------------------- layouts: cards

_NEW_CARD = "2024"


def _card_model(v: Variant) -> str:
    return v.pick("card_model", ("2021", "2021", _NEW_CARD))


def _id_front(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    ind = 48.0  # text sits right of the photo
    if _card_model(v) == _NEW_CARD:
        return [
            _Line(NATIONAL, "bold", "center"),
            _Line("SOCIALIST REPUBLIC OF VIET NAM", "body", "center"),
            _Line("CĂN CƯỚC", "title", "center"),
            _Line("IDENTITY CARD", "bold", "center"),
            _Line("Số định danh cá nhân / Personal identification number:", indent_mm=ind),
            _Line(f["personal_id"], "bold", indent_mm=ind, fields=("personal_id",)),
            _Line("Họ, chữ đệm và tên khai sinh / Full name:", indent_mm=ind),
            _Line(f["full_name"], "bold", indent_mm=ind, fields=("full_name",)),
            _Line(
                f"Ngày sinh / Date of birth: {f['date_of_birth']}",
                indent_mm=ind,
                fields=("date_of_birth",),
            ),
            _Line(f"Giới tính / Sex: {f['sex']}", indent_mm=ind, fields=("sex",)),
            _Line(
                f"Quốc tịch / Nationality: {f['nationality']}",
                indent_mm=ind,
                fields=("nationality",),
            ),
        ]
    name_label = v.pick("cccd_name", ("Họ và tên / Full name:", "Họ và tên / Full name"))
    lines = [
        _Line(NATIONAL, "bold", "center"),
        _Line(MOTTO, "bold", "center"),
        _Line("CĂN CƯỚC CÔNG DÂN", "title", "center"),
    ]
    if v.pick("cccd_en", ("", "Citizen Identity Card")):
        lines.append(_Line("Citizen Identity Card", "bold", "center"))
    return [
        *lines,
        _Line(f"Số / No.: {f['personal_id']}", "bold", indent_mm=ind, fields=("personal_id",)),
        _Line(name_label, indent_mm=ind),
        _Line(f["full_name"], "bold", indent_mm=ind, fields=("full_name",)),
        _Line(
            f"Ngày sinh / Date of birth: {f['date_of_birth']}",
            indent_mm=ind,
            fields=("date_of_birth",),
        ),
        _Line(f"Giới tính / Sex: {f['sex']}", indent_mm=ind, fields=("sex",)),
        _Line(
            f"Quốc tịch / Nationality: {f['nationality']}", indent_mm=ind, fields=("nationality",)
        ),
        _Line("Quê quán / Place of origin:", indent_mm=ind),
        _Line(f["place_of_origin"], indent_mm=ind, fields=("place_of_origin",)),
        _Line("Nơi thường trú / Place of residence:", indent_mm=ind),
        _Line(f["place_of_residence"], indent_mm=ind, fields=("place_of_residence",)),
        _Line(f"Có giá trị đến / Date of expiry: {f['expiry_date']}", fields=("expiry_date",)),
    ]


def _mrz_check(s: str) -> str:
    """ICAO 9303 check digit (weights 7, 3, 1; '<' is 0, A is 10)."""
    total = 0
    for i, ch in enumerate(s):
        if ch.isdigit():
            v = int(ch)
        elif ch.isalpha():
            v = ord(ch) - 55
        else:
            v = 0
        total += v * (7, 3, 1)[i % 3]
    return str(total % 10)


def mrz_lines(f: dict[str, str]) -> list[str]:
    """The TD1 machine-readable zone of a chip card: three lines of 30 characters."""
    pid = f["personal_id"]
    doc = pid[-9:]
    line1 = f"IDVNM{doc}{_mrz_check(doc)}{pid}".ljust(30, "<")
    d, m, y = f["date_of_birth"].split("/")
    dob = f"{y[2:]}{m}{d}"
    ed, em, ey = f["expiry_date"].split("/")
    exp = f"{ey[2:]}{em}{ed}"
    sex = "M" if f["sex"] == "Nam" else "F"
    body = f"{dob}{_mrz_check(dob)}{sex}{exp}{_mrz_check(exp)}VNM"
    line2 = body.ljust(29, "<")
    line2 += _mrz_check(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
    ascii_name = "".join(
        c
        for c in unicodedata.normalize("NFD", f["full_name"].replace("Đ", "D"))
        if not unicodedata.combining(c)
    )
    surname, *rest = ascii_name.split()
    line3 = (surname + "<<" + "<".join(rest)).ljust(30, "<")[:30]
    return [line1, line2, line3]


def _id_back(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    mrz = [_Line(s, "mono", fields=("personal_id",)) for s in mrz_lines(f)]
    if _card_model(v) == _NEW_CARD:
        return [
            _Line("Nơi cư trú / Place of residence:", indent_mm=55),
            _Line(f["place_of_residence"], indent_mm=55, fields=("place_of_residence",)),
            _Line("Nơi đăng ký khai sinh / Place of birth:", indent_mm=55),
            _Line(f["place_of_origin"], indent_mm=55),
            _Line(
                f"Ngày, tháng, năm cấp / Date of issue: {f['issue_date']}",
                indent_mm=55,
                fields=("issue_date",),
            ),
            _Line(
                f"Ngày, tháng, năm hết hạn / Date of expiry: {f['expiry_date']}",
                indent_mm=55,
                fields=("expiry_date",),
            ),
            _Line("BỘ CÔNG AN / MINISTRY OF PUBLIC SECURITY", "bold", indent_mm=55),
            *mrz,
        ]
    return [
        _Line("Đặc điểm nhân dạng / Personal identification:", indent_mm=55),
        _Line(
            v.pick(
                "mark", ("Nốt ruồi C:2cm trên sau đầu mày phải", "Sẹo chấm C:1cm dưới mắt trái")
            ),
            indent_mm=55,
        ),
        _Line(
            f"Ngày, tháng, năm / Date, month, year: {f['issue_date']}",
            indent_mm=55,
            fields=("issue_date",),
        ),
        _Line("CỤC TRƯỞNG CỤC CẢNH SÁT", "bold", indent_mm=55),
        _Line("QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI", "bold", indent_mm=55),
        _Line("Tô Văn Huệ", "bold", indent_mm=75),
        *mrz,
    ]


def _legacy_front(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    ind = 52.0
    born = f["date_of_birth"].replace("/", "-")
    return [
        _Line(NATIONAL, "bold", "center"),
        _Line(MOTTO, "bold", "center"),
        _Line(
            v.pick("cmnd_title", ("GIẤY CHỨNG MINH NHÂN DÂN", "CHỨNG MINH NHÂN DÂN")),
            "title",
            "center",
        ),
        _Line(f"Số: {f['personal_id']}", "bold", "center", fields=("personal_id",)),
        _Line(f"Họ tên: {f['full_name']}", indent_mm=ind, fields=("full_name",)),
        _Line(f"Sinh ngày: {born}", indent_mm=ind, fields=("date_of_birth",)),
        _Line(f"Nguyên quán: {f['place_of_origin']}", indent_mm=ind),
        _Line(f"Nơi ĐKHK thường trú: {f['place_of_residence']}", indent_mm=ind),
    ]


def _legacy_back(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    d, m, y = (int(p) for p in f["issue_date"].split("/"))
    province = f["city"].upper()
    return [
        _Line(f"Dân tộc: {f['ethnicity']}   Tôn giáo: Không", indent_mm=55),
        _Line("DẤU VẾT RIÊNG VÀ DỊ HÌNH", "bold", indent_mm=55),
        _Line(
            v.pick(
                "mark", ("Nốt ruồi C:2cm trên sau đầu mày phải", "Sẹo chấm C:1cm dưới mắt trái")
            ),
            indent_mm=55,
        ),
        _Line(f"Ngày {d:02d} tháng {m:02d} năm {y}", indent_mm=55, fields=("issue_date",)),
        _Line(f"GIÁM ĐỐC CÔNG AN {province}", "bold", indent_mm=55),
        _Line("NGÓN TRỎ TRÁI      NGÓN TRỎ PHẢI", "bold"),
    ]


def _driving_licence(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    ind = 48.0
    expiry = f["expiry_date"]
    return [
        _Line(NATIONAL, "bold", "center"),
        _Line(MOTTO, "bold", "center"),
        _Line(
            v.pick("gplx_title", ("GIẤY PHÉP LÁI XE / DRIVER'S LICENSE", "GIẤY PHÉP LÁI XE")),
            "title",
            "center",
        ),
        _Line(
            f"Số / No: {f['document_number']}", "bold", indent_mm=ind, fields=("document_number",)
        ),
        _Line(f"Họ tên / Full name: {f['full_name']}", indent_mm=ind, fields=("full_name",)),
        _Line(
            f"Ngày sinh / Date of Birth: {f['date_of_birth']}",
            indent_mm=ind,
            fields=("date_of_birth",),
        ),
        _Line("Quốc tịch / Nationality: VIỆT NAM", indent_mm=ind),
        _Line(f"Nơi cư trú / Address: {f['place_of_residence']}", indent_mm=ind),
        _Line(f"Hạng / Class: {f['licence_class']}", "bold", indent_mm=ind, fields=("class",)),
        _Line(f"Có giá trị đến / Expires: {expiry}", indent_mm=ind, fields=("expiry_date",)),
        _Line(_signed(f, "issue_date", v), align="right"),
        _Line("GIÁM ĐỐC SỞ GIAO THÔNG VẬN TẢI", "bold", "right"),
    ]


# --------------------------------------------------------------------------- layouts: A4


def _birth_certificate(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    sex_row = f"Giới tính: {f['sex']}   Dân tộc: {f['ethnicity']}   Quốc tịch: {f['nationality']}"
    name = v.pick("bc_name", ("Họ, chữ đệm, tên:", "Họ, chữ đệm và tên:"))
    born = v.pick("bc_born", ("Ngày, tháng, năm sinh:", "Sinh ngày:"))
    return [
        *_header(v),
        _Line("GIẤY KHAI SINH", "title", "center"),
        _Line(f"Số: {f['document_number']}", align="center", fields=("document_number",)),
        _Line(f"{name} {f['full_name']}", fields=("full_name",)),
        _Line(f"{born} {f['date_of_birth']}", fields=("date_of_birth",)),
        _Line(
            f"ghi bằng chữ: {date_in_words(f['date_of_birth'])}",
            v.pick("words", ("body", "italic")),
        ),
        _Line(sex_row, fields=("sex", "ethnicity", "nationality")),
        _Line(f"Nơi sinh: {f['place_of_birth']}", fields=("place_of_birth",)),
        _Line(f"Quê quán: {f['place_of_origin']}"),
        _Line(f"Số định danh cá nhân: {f['personal_id']}", fields=("personal_id",)),
        _Line(f"Họ, chữ đệm, tên người mẹ: {f['mother_name']}", fields=("mother_name",)),
        _Line(f"Năm sinh: {f['mother_birth_year']}   Dân tộc: Kinh   Quốc tịch: Việt Nam"),
        _Line(f"Nơi cư trú: {f['place_of_residence']}"),
        _Line(f"Họ, chữ đệm, tên người cha: {f['father_name']}", fields=("father_name",)),
        _Line(f"Năm sinh: {f['father_birth_year']}   Dân tộc: Kinh   Quốc tịch: Việt Nam"),
        _Line(f"Nơi cư trú: {f['place_of_residence']}"),
        _Line(f"Nơi đăng ký khai sinh: {f['agency']}"),
        _Line(f"Ngày, tháng, năm đăng ký: {f['issue_date']}", fields=("issue_date",)),
        _Line(_signed(f, "issue_date", v), align="right"),
        _Line("NGƯỜI KÝ GIẤY KHAI SINH", "bold", "right"),
    ]


_FORMS = {
    "birth": ("TỜ KHAI ĐĂNG KÝ KHAI SINH", "Quan hệ với người được khai sinh:"),
    "copy": ("TỜ KHAI CẤP BẢN SAO TRÍCH LỤC HỘ TỊCH", "Quan hệ với người được cấp bản sao:"),
    "land": ("ĐƠN ĐỀ NGHỊ CẤP ĐỔI GIẤY CHỨNG NHẬN", "Quan hệ với người sử dụng đất:"),
}


def _application_form(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    """One page, or with ``v.pages == 2`` the first of two (the tail is on page 2)."""
    title, relation = _FORMS[f.get("form", "birth") if v.wording else "birth"]
    name = v.pick("af_name", ("Họ, chữ đệm và tên người yêu cầu:", "Họ và tên người yêu cầu:"))
    head = [
        *_header(v),
        _Line(title, "title", "center"),
        _Line(f"Kính gửi: {f['agency']}", align="center"),
        _Line(f"{name} {f['full_name']}", fields=("full_name",)),
        _Line(f"Số định danh cá nhân: {f['personal_id']}", fields=("personal_id",)),
        _Line(f"Nơi cư trú: {f['place_of_residence']}", fields=("address",)),
    ]
    if v.wording:
        head.append(_Line(f"{relation} {'Cha' if f['sex'] == 'Nam' else 'Mẹ'}"))
    else:
        head.append(
            _Line("Quan hệ với người được khai sinh: Cha" if f["sex"] == "Nam" else "Quan hệ: Mẹ")
        )
    body = [
        _Line("Đề nghị cơ quan đăng ký khai sinh cho người dưới đây:"),
        _Line(f"Họ, chữ đệm, tên: {f['child_name']}"),
        _Line(f"Ngày, tháng, năm sinh: {f['child_date_of_birth']}"),
    ]
    if v.pages == 2:
        body += [
            _Line(f"Giới tính: {'Nữ' if f['sex'] == 'Nam' else 'Nam'}   Dân tộc: Kinh"),
            _Line("Quốc tịch: Việt Nam"),
            _Line(f"Nơi sinh: {f['place_of_birth']}"),
            _Line(f"Quê quán: {f['place_of_origin']}"),
        ]
        return head + body
    return head + body + _application_tail(f, v)


def _application_tail(f: dict[str, str], v: Variant) -> list[_Line]:
    return [
        _Line("Tôi cam đoan nội dung đề nghị trên đây là đúng sự thật."),
        _Line(f"Làm tại: {_signed(f, 'issue_date', v)}", align="right", fields=("issue_date",)),
        _Line("Người yêu cầu", "bold", "right"),
        _Line(f["full_name"], align="right"),
    ]


def _application_form_p2(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    return [
        _Line("Họ, chữ đệm, tên người mẹ: " + f["mother_name"]),
        _Line(f"Năm sinh: {f['mother_birth_year']}   Dân tộc: Kinh   Quốc tịch: Việt Nam"),
        _Line("Họ, chữ đệm, tên người cha: " + f["father_name"]),
        _Line(f"Năm sinh: {f['father_birth_year']}   Dân tộc: Kinh   Quốc tịch: Việt Nam"),
        _Line("Đề nghị cấp bản sao: Có   Số lượng: 02 bản"),
        _Line("Giấy tờ kèm theo: Giấy chứng sinh số 125, quyển số 01", "italic"),
        *_application_tail(f, v),
    ]


def _land_use_certificate(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    who = v.pick("land_who", ("Ông:", "Ông"))
    address = f["place_of_residence"] if not v.wording else f["parcel_address"]
    return [
        *_header(v),
        _Line("GIẤY CHỨNG NHẬN", "title", "center"),
        _Line("QUYỀN SỬ DỤNG ĐẤT, QUYỀN SỞ HỮU NHÀ Ở", "bold", "center"),
        _Line("VÀ TÀI SẢN KHÁC GẮN LIỀN VỚI ĐẤT", "bold", "center"),
        _Line("I. Người sử dụng đất, chủ sở hữu nhà ở và tài sản khác gắn liền với đất"),
        _Line(f"{who} {f['father_name']}   Năm sinh: {f['father_birth_year']}", fields=("holder",)),
        _Line(f"Địa chỉ thường trú: {f['place_of_residence']}"),
        _Line("II. Thửa đất, nhà ở và tài sản khác gắn liền với đất"),
        _Line(
            f"a) Thửa đất số: {f['parcel_number']}   Tờ bản đồ số: {f['map_sheet_number']}",
            fields=("parcel_number", "map_sheet_number"),
        ),
        _Line(f"b) Địa chỉ: {address}", fields=("address",) if v.wording else ()),
        _Line(f"c) Diện tích: {f['area_m2']} m2", fields=("area_m2",)),
        _Line("d) Hình thức sử dụng: Sử dụng riêng"),
        _Line(
            v.pick(
                "land_use",
                (
                    "đ) Mục đích sử dụng: Đất ở tại nông thôn",
                    "đ) Mục đích sử dụng: Đất ở tại đô thị",
                ),
            )
        ),
        _Line("e) Thời hạn sử dụng: Lâu dài"),
        _Line(_signed(f, "issue_date", v), align="right", fields=("issue_date",)),
        _Line(f["serial"], "bold", fields=("serial",)),
    ]


def _land_use_certificate_p2(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    return [
        _Line("III. Sơ đồ thửa đất, nhà ở và tài sản khác gắn liền với đất", "bold"),
        _Line("", "gap"),
        _Line(f"Thửa đất số {f['parcel_number']}, tờ bản đồ số {f['map_sheet_number']}"),
        _Line("IV. Những thay đổi sau khi cấp Giấy chứng nhận", "bold"),
        _Line("Nội dung thay đổi và cơ sở pháp lý: Không"),
        _Line("V. Ghi chú", "bold"),
        _Line("Người được cấp Giấy chứng nhận không được sửa chữa, tẩy xóa", "italic"),
        _Line(f"Số vào sổ cấp GCN: CH {int(f['parcel_number']):05d}"),
    ]


def _business_registration(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    kind = v.pick(
        "company_kind",
        (
            "CÔNG TY TRÁCH NHIỆM HỮU HẠN MỘT THÀNH VIÊN",
            "CÔNG TY TRÁCH NHIỆM HỮU HẠN HAI THÀNH VIÊN",
        ),
    )
    return [
        *_header(v),
        _Line("GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP", "title", "center"),
        _Line(kind, "bold", "center"),
        _Line(
            f"Mã số doanh nghiệp: {f['enterprise_code']}",
            align="center",
            fields=("enterprise_code",),
        ),
        _Line(
            f"Đăng ký lần đầu: {_signing_date('', f['issue_date']).lstrip(', ')}",
            "body",
            "center",
            fields=("issue_date",),
        ),
        _Line("1. Tên công ty"),
        _Line(
            f"Tên công ty viết bằng tiếng Việt: {f['company_name']}",
            indent_mm=5,
            fields=("company_name",),
        ),
        _Line(f"2. Địa chỉ trụ sở chính: {f['place_of_residence']}", fields=("head_office",)),
        _Line(f"3. Vốn điều lệ: {f['charter_capital']}", fields=("charter_capital",)),
        _Line("4. Người đại diện theo pháp luật của công ty"),
        _Line(
            f"Họ và tên: {f['father_name']}   Giới tính: Nam",
            indent_mm=5,
            fields=("legal_representative",),
        ),
        _Line(
            v.pick("rep_title", ("Chức danh: Giám đốc", "Chức danh: Chủ tịch công ty")), indent_mm=5
        ),
    ]


def _marriage_certificate(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    born = v.pick("mc_born", ("Ngày, tháng, năm sinh:", "Ngày sinh:"))
    idl = v.pick("mc_id", ("Giấy tờ tùy thân: CCCD số", "Số định danh cá nhân:"))
    rows = [
        *_header(v),
        _Line("GIẤY CHỨNG NHẬN KẾT HÔN", "title", "center"),
        _Line(
            f"Số: {f['document_number']}   Quyển số: {f['book_number']}",
            align="center",
            fields=("document_number",),
        ),
    ]
    for who, key in (("chồng", "husband"), ("vợ", "wife")):
        rows += [
            _Line(f"Họ, chữ đệm, tên {who}: {f[key + '_name']}", fields=(f"{key}_name",)),
            _Line(f"{born} {f[key + '_dob']}"),
            _Line("Dân tộc: Kinh   Quốc tịch: Việt Nam"),
            _Line(f"Nơi cư trú: {f['place_of_residence']}"),
            _Line(f"{idl} {f[key + '_id']}", fields=(f"{key}_id",)),
        ]
    return [
        *rows,
        _Line(f"Nơi đăng ký kết hôn: {f['agency']}"),
        _Line(f"Ngày, tháng, năm đăng ký: {f['issue_date']}", fields=("issue_date",)),
        _Line("Chữ ký của chồng      Chữ ký của vợ", "italic", "center"),
        _Line(_signed(f, "issue_date", v), align="right"),
        _Line("NGƯỜI KÝ GIẤY CHỨNG NHẬN KẾT HÔN", "bold", "right"),
    ]


def _residence_confirmation(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    ward = f["place_of_origin"].split(",")[0]
    police = f"CÔNG AN {ward.upper()}"
    born = v.pick("ct_born", ("2. Ngày, tháng, năm sinh:", "2. Ngày sinh:"))
    return [
        _Line("Mẫu CT07 ban hành kèm theo Thông tư số 66/2023/TT-BCA", "italic", "right"),
        _Line(f"CÔNG AN {f['city'].upper()}", "bold"),
        _Line(police, "bold"),
        *_header(v),
        _Line("XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ", "title", "center"),
        _Line(f"Số: {f['document_number']}", align="center"),
        _Line(f"Công an {ward[0].lower()}{ward[1:]} xác nhận thông tin về cư trú như sau:"),
        _Line(f"1. Họ, chữ đệm và tên: {f['full_name']}", fields=("full_name",)),
        _Line(f"{born} {f['date_of_birth']}   3. Giới tính: {f['sex']}", fields=("date_of_birth",)),
        _Line(f"4. Số định danh cá nhân: {f['personal_id']}", fields=("personal_id",)),
        _Line(f"5. Nơi thường trú: {f['place_of_residence']}", fields=("permanent_residence",)),
        _Line("6. Nơi tạm trú: Không"),
        _Line(f"7. Nơi ở hiện tại: {f['place_of_residence']}"),
        _Line(f"8. Họ, chữ đệm và tên chủ hộ: {f['head_of_household']}"),
        _Line("Quan hệ với chủ hộ: Con"),
        _Line(
            v.pick(
                "ct_valid",
                (
                    "Xác nhận này có giá trị 30 ngày kể từ ngày cấp.",
                    "Giấy xác nhận có giá trị trong thời hạn 30 ngày.",
                ),
            ),
            "italic",
        ),
        _Line(_signed(f, "issue_date", v), align="right", fields=("issue_date",)),
        _Line("TRƯỞNG CÔNG AN", "bold", "right"),
    ]


def _members(f: dict[str, str]) -> list[_Line]:
    rows: list[_Line] = []
    for i, member in enumerate(f["members"].split("; "), start=1):
        name, relation, born, sex = member.split("|")
        rows += [
            _Line(f"{i}. Họ và tên: {name}   Quan hệ với chủ hộ: {relation}", fields=("members",)),
            _Line(f"Sinh ngày: {born}   Giới tính: {sex}   Dân tộc: Kinh", indent_mm=5),
        ]
    return rows


def _household_register(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    d, m, y = (int(p) for p in f["issue_date"].split("/"))
    rows = [
        *_header(v),
        _Line("SỔ HỘ KHẨU", "title", "center"),
        _Line(f"Số: {f['register_number']}", align="center"),
        _Line(f"Họ và tên chủ hộ: {f['head_of_household']}", fields=("head_of_household",)),
        _Line(f"Địa chỉ: {f['place_of_residence']}"),
        _Line(f"{f['city']}, ngày {d} tháng {m} năm {y}", align="right"),
        _Line(f"TRƯỞNG CÔNG AN {f['city'].upper()}", "bold", "right"),
    ]
    return rows if v.pages == 2 else rows + _members(f)


def _household_register_p2(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    return [_Line("NHỮNG NGƯỜI TRONG HỘ", "bold", "center"), *_members(f)]


def _diploma(f: dict[str, str], v: Variant = Variant()) -> list[_Line]:
    level = f["level"]
    if level == "ĐẠI HỌC":
        grantor = "HIỆU TRƯỞNG TRƯỜNG ĐẠI HỌC THÁI NGUYÊN"
        school = "Ngành: Công nghệ thông tin   Hình thức đào tạo: Chính quy"
    else:
        grantor = f"GIÁM ĐỐC SỞ GIÁO DỤC VÀ ĐÀO TẠO {f['city'].upper()}"
        school = f"Học sinh: {f['school']}   Năm tốt nghiệp: {f['graduation_year']}"
    return [
        *_header(v),
        _Line(f"BẰNG TỐT NGHIỆP {level}", "title", "center"),
        _Line(grantor, "bold", "center"),
        _Line(v.pick("dp_for", ("cấp cho", "cấp bằng tốt nghiệp cho")), "italic", "center"),
        _Line(f"Họ và tên: {f['full_name']}", fields=("full_name",)),
        _Line(
            f"Ngày sinh: {f['date_of_birth']}   Giới tính: {f['sex']}", fields=("date_of_birth",)
        ),
        _Line(f"Nơi sinh: {f['city']}   Dân tộc: Kinh"),
        _Line(school),
        _Line(f"Xếp loại tốt nghiệp: {f['rank']}"),
        _Line(_signed(f, "issue_date", v), align="right"),
        _Line(v.pick("dp_sign", ("GIÁM ĐỐC", "HIỆU TRƯỞNG")), "bold", "right"),
        _Line(f"Số hiệu: {f['serial']}", fields=("serial",)),
        _Line(f"Số vào sổ cấp bằng: {f['register_number']}", fields=("register_number",)),
    ]


_Layout = Callable[[dict[str, str], Variant], list[_Line]]
_LAYOUTS: dict[str, _Layout] = {
    "citizen_id_card": _id_front,
    "citizen_id_card_back": _id_back,
    "legacy_id_card": _legacy_front,
    "legacy_id_card_back": _legacy_back,
    "driving_licence": _driving_licence,
    "birth_certificate": _birth_certificate,
    "application_form": _application_form,
    "application_form_p2": _application_form_p2,
    "land_use_certificate": _land_use_certificate,
    "land_use_certificate_p2": _land_use_certificate_p2,
    "business_registration": _business_registration,
    "marriage_certificate": _marriage_certificate,
    "residence_confirmation": _residence_confirmation,
    "household_register": _household_register,
    "household_register_p2": _household_register_p2,
    "diploma": _diploma,
}
#: The page kinds of each type's multi-page form (``Variant.pages == 2``).
_SECOND_PAGE = {
    "citizen_id_card": "citizen_id_card_back",
    "legacy_id_card": "legacy_id_card_back",
    "land_use_certificate": "land_use_certificate_p2",
    "application_form": "application_form_p2",
    "household_register": "household_register_p2",
}
#: Every doc type code that renders (the taxonomy's codes but "unknown").
RENDERABLE = (
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
)
#: Types whose printed frame (a decorative border) is part of the real paper.
_FRAMED = frozenset({"land_use_certificate", "diploma", "marriage_certificate"})


def page_kinds(doc_type: str, variant: Variant) -> tuple[str, ...]:
    """The page kinds a paper of ``doc_type`` is printed on, in order."""
    second = _SECOND_PAGE.get(doc_type)
    return (doc_type, second) if second and variant.pages == 2 else (doc_type,)


# --------------------------------------------------------------------------- drawing

#: Point sizes per style (before the dpi conversion).
_SIZES = {"body": 12.0, "bold": 12.0, "title": 16.0, "mono": 13.0, "italic": 12.0}
_ITALIC = {
    "DejaVuSans": "DejaVuSans-Oblique",
    "DejaVuSerif": "DejaVuSerif-Italic",
    "DejaVuSansCondensed": "DejaVuSansCondensed-Oblique",
    "DejaVuSerifCondensed": "DejaVuSerifCondensed-Italic",
}


@cache
def _font_file(style: str, family: str, px: int) -> ImageFont.FreeTypeFont:
    name = {
        "body": family,
        "bold": f"{family}-Bold",
        "title": f"{family}-Bold",
        "italic": _ITALIC[family],
        "mono": "DejaVuSansMono",
    }[style]
    return ImageFont.truetype(str(FONT_DIR / f"{name}.ttf"), px)


def _font(style: str, px: int, serif: bool) -> ImageFont.FreeTypeFont:
    return _font_file(style, "DejaVuSerif" if serif else "DejaVuSans", px)


def _wrap(
    draw: ImageDraw.ImageDraw,
    line: _Line,
    font: ImageFont.FreeTypeFont,
    page_w: int,
    margin_px: float,
    px_per_mm: float,
) -> list[str]:
    """Split a line at spaces so that it fits between its indent and the right margin."""
    room = page_w - 2 * margin_px - line.indent_mm * px_per_mm
    rows: list[str] = []
    current = ""
    for word in line.text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and draw.textlength(candidate, font=font) > room:
            rows.append(current)
            current = word
        else:
            current = candidate
    rows.append(current)
    return rows


@dataclass
class RenderedPage:
    """One page image with its printed lines and the truth fields its lines show."""

    kind: str
    image: Image.Image
    lines: list[str]
    shown: set[str] = field(default_factory=set)


def _draw_card(draw: ImageDraw.ImageDraw, kind: str, size: tuple[int, int], mm: float) -> None:
    draw.rounded_rectangle(
        (4, 4, size[0] - 5, size[1] - 5), radius=round(4 * mm), outline=(170, 170, 170)
    )
    if kind in ("citizen_id_card", "driving_licence", "legacy_id_card"):  # a flat grey photo
        top = round((32 if kind == "citizen_id_card" else 45) * mm)
        left = round(8 * mm)
        draw.rectangle(
            (left, top, left + round(36 * mm), min(top + round(46 * mm), size[1] - 8)),
            fill=(215, 215, 215),
        )


def _render(
    kind: str, fields: dict[str, str], dpi: int, v: Variant, margin_mm: float, top_mm: float
) -> RenderedPage:
    layout = _LAYOUTS[kind](fields, v)
    card = kind in CARD_KINDS
    width_mm, height_mm = CARD_MM if card else A4_MM
    px_per_mm = dpi / 25.4
    size = (round(width_mm * px_per_mm), round(height_mm * px_per_mm))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    if card:
        _draw_card(draw, kind, size, px_per_mm)
    elif v.rules and kind in _FRAMED:
        inset = round(8 * px_per_mm)
        draw.rectangle(
            (inset, inset, size[0] - inset, size[1] - inset),
            outline=(120, 90, 40),
            width=max(2, round(0.8 * px_per_mm)),
        )
    y = top_mm * px_per_mm
    page = RenderedPage(kind, image, [])
    for line in layout:
        pt = _SIZES.get(line.style, 12.0) * (0.92 if card else 1.0) * v.scale
        px = round(pt * dpi / 72)
        if line.style == "rule":  # the short rule under the motto
            half = 25 * px_per_mm
            draw.line(
                (size[0] / 2 - half, y, size[0] / 2 + half, y),
                fill="black",
                width=max(1, round(0.3 * px_per_mm)),
            )
            y += px * 0.6
            continue
        if line.style == "gap":  # room for a drawing (the parcel plan)
            box = (
                margin_mm * px_per_mm,
                y,
                size[0] - 2 * margin_mm * px_per_mm,
                y + 70 * px_per_mm,
            )
            draw.polygon(
                [
                    (box[0] + 30, box[1] + 40),
                    (box[2] - 80, box[1] + 10),
                    (box[2] - 20, box[3] - 60),
                    (box[0] + 90, box[3] - 20),
                ],
                outline=(60, 60, 60),
                width=max(1, round(0.3 * px_per_mm)),
            )
            y = box[3] + px
            continue
        font = _font_file(line.style, v.family, px)
        if line.style == "mono" and card:  # the MRZ sits at the card's bottom edge
            y = max(y, size[1] - (3 * 1.35 * px) - 6 * px_per_mm)
        for text in _wrap(draw, line, font, size[0], margin_mm * px_per_mm, px_per_mm):
            text_w = draw.textlength(text, font=font)
            if line.align == "center":
                x = (size[0] - text_w) / 2
            elif line.align == "right":
                x = size[0] - margin_mm * px_per_mm - text_w
            else:
                x = (margin_mm + line.indent_mm) * px_per_mm
            draw.text((x, y), text, font=font, fill="black")
            page.lines.append(" ".join(text.split()))
            y += px * (v.spacing + 0.1 if line.style == "title" else v.spacing)
        page.shown.update(line.fields)
    if kind == "citizen_id_card_back":
        _draw_qr(image, fields, px_per_mm)
    image.info["dpi"] = (dpi, dpi)
    return page


def card_qr_payload(f: dict[str, str]) -> str:
    """The chip card's QR text: ID|old ID|name|ddMMyyyy birth|sex|address|ddMMyyyy issue."""

    def compact(dmy: str) -> str:
        return dmy.replace("/", "")

    return "|".join(
        [
            f["personal_id"],
            f["personal_id"][-9:],
            f["full_name"],
            compact(f["date_of_birth"]),
            f["sex"],
            f.get("place_of_residence", ""),
            compact(f.get("issue_date", "")),
        ]
    )


def _draw_qr(image: Image.Image, fields: dict[str, str], px_per_mm: float) -> None:
    """The QR code in the card back's empty top-left corner (where the chip would be)."""
    import io as _io

    import segno

    qr = segno.make(card_qr_payload(fields), error="m", micro=False)
    modules = qr.symbol_size(scale=1, border=2)[0]
    scale = max(2, round(34 * px_per_mm) // modules)  # whole pixels per module
    buf = _io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=2)
    buf.seek(0)
    code = Image.open(buf).convert("RGB")
    image.paste(code, (round(9 * px_per_mm), round(7 * px_per_mm)))


def render_page(
    doc_type: str, fields: dict[str, str], dpi: int = 300, seed: int = 0
) -> tuple[Image.Image, list[str]]:
    """Render one page ("citizen_id_card_back" for a card's back) in the reference layout.

    Returns the image (with its dpi in ``info``) and the lines as printed.
    """
    rng = random.Random(seed)
    card = doc_type in CARD_KINDS
    serif = not card and seed % 2 == 1
    margin = (6.0 if card else 20.0) + rng.uniform(-1.5, 1.5)
    top = (5.0 if card else 15.0) + rng.uniform(-1.5, 1.5)
    v = Variant(family="DejaVuSerif" if serif else "DejaVuSans")
    page = _render(doc_type, fields, dpi, v, margin, top)
    return page.image, page.lines


@dataclass
class RenderedDocument:
    """One paper: its pages and its ground truth (normalised fields)."""

    doc_type: str
    pages: list[RenderedPage]
    fields: dict[str, str]


def render_document(
    doc_type: str, seed: int, dpi: int = 300, variant: Variant | None = None
) -> RenderedDocument:
    """A whole paper of ``doc_type`` with fake data and a layout varied by ``seed``."""
    fields = sample_fields(doc_type, seed)
    v = variant or Variant.sample(random.Random(f"variant:{doc_type}:{seed}"))
    pages = []
    for kind in page_kinds(doc_type, v):
        card = kind in CARD_KINDS
        margin = (6.0 + v.margin_delta_mm / 4) if card else 20.0 + v.margin_delta_mm
        top = (5.0 + v.top_delta_mm / 4) if card else 15.0 + v.top_delta_mm
        pages.append(_render(kind, fields, dpi, v, margin, top))
    shown = set().union(*(p.shown for p in pages))
    return RenderedDocument(doc_type, pages, truth_fields(doc_type, fields, shown))


def rotate(image: Image.Image, degrees: int) -> Image.Image:
    """Turn ``image`` clockwise by ``degrees`` (a scanner fed the page sideways)."""
    return image.rotate(-degrees, expand=True, fillcolor="white")


def page_from_lines(
    lines: list[str], number: int = 1, line_height: int = 60, confidence: float = 0.9
) -> PageText:
    """A PageText as OCR would return for these lines on an A4 page at 300 dpi.

    For unit tests of classification and extraction that need no Tesseract.
    """
    words: list[Word] = []
    for i, line in enumerate(lines):
        left = 200
        for token in line.split():
            width = 25 * len(token)
            top = 180 + i * line_height
            words.append(Word(token, confidence, left, top, width, 40, i))
            left += width + 25
    return PageText(number=number, width=2480, height=3508, words=words, mean_confidence=confidence)
