"""Synthetic scans of Vietnamese papers, with the printed lines as ground truth.

Real citizens' papers cannot be committed, so tests render look-alikes with the
DejaVu fonts (which carry every Vietnamese diacritic) and run the real
Tesseract on them. Layouts follow the printed forms closely enough that the
classifier and the extractor see what they will see on a scan: a national
header, a title in the top fifth, "label: value" lines, a signing line.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
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


@dataclass(frozen=True)
class _Line:
    """One printed row: text, style and alignment."""

    text: str
    style: str = "body"  # body | bold | title | mono
    align: str = "left"  # left | center | right
    indent_mm: float = 0.0


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


def sample_fields(doc_type: str, seed: int = 0) -> dict[str, str]:
    """Consistent fake data for one paper; dates as dd/mm/yyyy, as printed."""
    rng = random.Random(f"{doc_type}:{seed}")
    male = rng.random() < 0.5
    child = doc_type == "birth_certificate"
    year = rng.randrange(2005, 2022) if child else rng.randrange(1960, 2004)
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
    return fields


# --------------------------------------------------------------------------- layouts


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


def _signing_date(city: str, dmy: str) -> str:
    d, m, y = (int(p) for p in dmy.split("/"))
    return f"{city}, ngày {d} tháng {m} năm {y}"


def _header() -> list[_Line]:
    return [_Line(NATIONAL, "bold", "center"), _Line(MOTTO, "bold", "center")]


def _id_front(f: dict[str, str]) -> list[_Line]:
    ind = 48.0  # text sits right of the photo
    return [
        _Line(NATIONAL, "bold", "center"),
        _Line(MOTTO, "bold", "center"),
        _Line("CĂN CƯỚC CÔNG DÂN", "title", "center"),
        _Line(f"Số / No.: {f['personal_id']}", "bold", indent_mm=ind),
        _Line("Họ và tên / Full name:", indent_mm=ind),
        _Line(f["full_name"], "bold", indent_mm=ind),
        _Line(f"Ngày sinh / Date of birth: {f['date_of_birth']}", indent_mm=ind),
        _Line(f"Giới tính / Sex: {f['sex']}", indent_mm=ind),
        _Line(f"Quốc tịch / Nationality: {f['nationality']}", indent_mm=ind),
        _Line("Quê quán / Place of origin:", indent_mm=ind),
        _Line(f["place_of_origin"], indent_mm=ind),
        _Line("Nơi thường trú / Place of residence:", indent_mm=ind),
        _Line(f["place_of_residence"], indent_mm=ind),
        _Line(f"Có giá trị đến / Date of expiry: {f['expiry_date']}"),
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


def _id_back(f: dict[str, str]) -> list[_Line]:
    return [
        _Line("Đặc điểm nhân dạng / Personal identification:", indent_mm=55),
        _Line("Nốt ruồi C:2cm trên sau đầu mày phải", indent_mm=55),
        _Line(f"Ngày, tháng, năm / Date, month, year: {f['issue_date']}", indent_mm=55),
        _Line("CỤC TRƯỞNG CỤC CẢNH SÁT", "bold", indent_mm=55),
        _Line("QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI", "bold", indent_mm=55),
        _Line("Tô Văn Huệ", "bold", indent_mm=75),
        *(_Line(s, "mono") for s in mrz_lines(f)),
    ]


def _birth_certificate(f: dict[str, str]) -> list[_Line]:
    sex_row = f"Giới tính: {f['sex']}   Dân tộc: {f['ethnicity']}   Quốc tịch: {f['nationality']}"
    return [
        *_header(),
        _Line("GIẤY KHAI SINH", "title", "center"),
        _Line(f"Số: {f['document_number']}", align="center"),
        _Line(f"Họ, chữ đệm, tên: {f['full_name']}"),
        _Line(f"Ngày, tháng, năm sinh: {f['date_of_birth']}"),
        _Line(f"ghi bằng chữ: {date_in_words(f['date_of_birth'])}"),
        _Line(sex_row),
        _Line(f"Nơi sinh: {f['place_of_birth']}"),
        _Line(f"Quê quán: {f['place_of_origin']}"),
        _Line(f"Số định danh cá nhân: {f['personal_id']}"),
        _Line(f"Họ, chữ đệm, tên người mẹ: {f['mother_name']}"),
        _Line(f"Năm sinh: {f['mother_birth_year']}   Dân tộc: Kinh   Quốc tịch: Việt Nam"),
        _Line(f"Nơi cư trú: {f['place_of_residence']}"),
        _Line(f"Họ, chữ đệm, tên người cha: {f['father_name']}"),
        _Line(f"Năm sinh: {f['father_birth_year']}   Dân tộc: Kinh   Quốc tịch: Việt Nam"),
        _Line(f"Nơi cư trú: {f['place_of_residence']}"),
        _Line(f"Nơi đăng ký khai sinh: {f['agency']}"),
        _Line(f"Ngày, tháng, năm đăng ký: {f['issue_date']}"),
        _Line(_signing_date(f["city"], f["issue_date"]), align="right"),
        _Line("NGƯỜI KÝ GIẤY KHAI SINH", "bold", "right"),
    ]


def _application_form(f: dict[str, str]) -> list[_Line]:
    return [
        *_header(),
        _Line("TỜ KHAI ĐĂNG KÝ KHAI SINH", "title", "center"),
        _Line(f"Kính gửi: {f['agency']}", align="center"),
        _Line(f"Họ, chữ đệm và tên người yêu cầu: {f['full_name']}"),
        _Line(f"Số định danh cá nhân: {f['personal_id']}"),
        _Line(f"Nơi cư trú: {f['place_of_residence']}"),
        _Line("Quan hệ với người được khai sinh: Cha" if f["sex"] == "Nam" else "Quan hệ: Mẹ"),
        _Line("Đề nghị cơ quan đăng ký khai sinh cho người dưới đây:"),
        _Line(f"Họ, chữ đệm, tên: {f['child_name']}"),
        _Line(f"Ngày, tháng, năm sinh: {f['child_date_of_birth']}"),
        _Line("Tôi cam đoan nội dung đề nghị trên đây là đúng sự thật."),
        _Line(f"Làm tại: {_signing_date(f['city'], f['issue_date'])}", align="right"),
        _Line("Người yêu cầu", "bold", "right"),
        _Line(f["full_name"], align="right"),
    ]


def _land_use_certificate(f: dict[str, str]) -> list[_Line]:
    return [
        *_header(),
        _Line("GIẤY CHỨNG NHẬN", "title", "center"),
        _Line("QUYỀN SỬ DỤNG ĐẤT, QUYỀN SỞ HỮU NHÀ Ở", "bold", "center"),
        _Line("VÀ TÀI SẢN KHÁC GẮN LIỀN VỚI ĐẤT", "bold", "center"),
        _Line("I. Người sử dụng đất, chủ sở hữu nhà ở và tài sản khác gắn liền với đất"),
        _Line(f"Ông: {f['father_name']}   Năm sinh: {f['father_birth_year']}"),
        _Line(f"Địa chỉ thường trú: {f['place_of_residence']}"),
        _Line("II. Thửa đất, nhà ở và tài sản khác gắn liền với đất"),
        _Line(f"a) Thửa đất số: {f['parcel_number']}   Tờ bản đồ số: {f['map_sheet_number']}"),
        _Line(f"b) Địa chỉ: {f['place_of_residence']}"),
        _Line(f"c) Diện tích: {f['area_m2']} m2"),
        _Line("d) Hình thức sử dụng: Sử dụng riêng"),
        _Line("đ) Mục đích sử dụng: Đất ở tại nông thôn"),
        _Line("e) Thời hạn sử dụng: Lâu dài"),
        _Line(_signing_date(f["city"], f["issue_date"]), align="right"),
        _Line(f["serial"], "bold"),
    ]


def _business_registration(f: dict[str, str]) -> list[_Line]:
    return [
        *_header(),
        _Line("GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP", "title", "center"),
        _Line("CÔNG TY TRÁCH NHIỆM HỮU HẠN MỘT THÀNH VIÊN", "bold", "center"),
        _Line(f"Mã số doanh nghiệp: {f['enterprise_code']}", align="center"),
        _Line(
            f"Đăng ký lần đầu: {_signing_date('', f['issue_date']).lstrip(', ')}", "body", "center"
        ),
        _Line("1. Tên công ty"),
        _Line(f"Tên công ty viết bằng tiếng Việt: {f['company_name']}", indent_mm=5),
        _Line(f"2. Địa chỉ trụ sở chính: {f['place_of_residence']}"),
        _Line(f"3. Vốn điều lệ: {f['charter_capital']}"),
        _Line("4. Người đại diện theo pháp luật của công ty"),
        _Line(f"Họ và tên: {f['father_name']}   Giới tính: Nam", indent_mm=5),
        _Line("Chức danh: Giám đốc", indent_mm=5),
    ]


_LAYOUTS = {
    "citizen_id_card": _id_front,
    "citizen_id_card_back": _id_back,
    "birth_certificate": _birth_certificate,
    "application_form": _application_form,
    "land_use_certificate": _land_use_certificate,
    "business_registration": _business_registration,
}

#: Point sizes per style (before the dpi conversion).
_SIZES = {"body": 12.0, "bold": 12.0, "title": 16.0, "mono": 13.0}


def _font(style: str, px: int, serif: bool) -> ImageFont.FreeTypeFont:
    family = "DejaVuSerif" if serif else "DejaVuSans"
    name = {
        "body": f"{family}.ttf",
        "bold": f"{family}-Bold.ttf",
        "title": f"{family}-Bold.ttf",
        "mono": "DejaVuSansMono.ttf",
    }[style]
    return ImageFont.truetype(str(FONT_DIR / name), px)


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


def render_page(
    doc_type: str, fields: dict[str, str], dpi: int = 300, seed: int = 0
) -> tuple[Image.Image, list[str]]:
    """Render one page ("citizen_id_card_back" for a card's back) as an RGB scan.

    Returns the image (with its dpi in ``info``) and the lines as printed.
    """
    layout = _LAYOUTS[doc_type](fields)
    rng = random.Random(seed)
    card = doc_type.startswith("citizen_id_card")
    width_mm, height_mm = CARD_MM if card else A4_MM
    px_per_mm = dpi / 25.4
    size = (round(width_mm * px_per_mm), round(height_mm * px_per_mm))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    serif = not card and seed % 2 == 1
    margin_x = (6.0 if card else 20.0) + rng.uniform(-1.5, 1.5)
    y = ((5.0 if card else 15.0) + rng.uniform(-1.5, 1.5)) * px_per_mm
    if card:
        draw.rounded_rectangle(
            (4, 4, size[0] - 5, size[1] - 5), radius=round(4 * px_per_mm), outline=(170, 170, 170)
        )
        if doc_type == "citizen_id_card":  # the photo, a flat grey box
            top = round(32 * px_per_mm)
            draw.rectangle(
                (round(8 * px_per_mm), top, round(44 * px_per_mm), top + round(46 * px_per_mm)),
                fill=(215, 215, 215),
            )
    printed: list[str] = []
    for line in layout:
        pt = _SIZES[line.style] * (0.92 if card else 1.0)
        px = round(pt * dpi / 72)
        font = _font(line.style, px, serif)
        if line.style == "mono" and card:  # the MRZ sits at the card's bottom edge
            y = max(y, size[1] - (3 * 1.35 * px) - 6 * px_per_mm)
        for text in _wrap(draw, line, font, size[0], margin_x * px_per_mm, px_per_mm):
            text_w = draw.textlength(text, font=font)
            if line.align == "center":
                x = (size[0] - text_w) / 2
            elif line.align == "right":
                x = size[0] - margin_x * px_per_mm - text_w
            else:
                x = (margin_x + line.indent_mm) * px_per_mm
            draw.text((x, y), text, font=font, fill="black")
            printed.append(" ".join(text.split()))
            y += px * (1.45 if line.style == "title" else 1.35)
    image.info["dpi"] = (dpi, dpi)
    return image, printed


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
