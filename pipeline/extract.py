"""Extract stage: labelled fields from the OCR lines of one paper.

Vietnamese papers print "label: value" (often bilingual, "Ngày sinh / Date of
birth:"), so extraction finds a label in accent-stripped text and reads the
value after it, or on the next line when the label ends its line (the name on
an ID card). Each value's confidence is the OCR confidence of its words,
halved when it fails a cross-check (an ID number that contradicts the birth
year or sex printed beside it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from config.taxonomy import DOC_TYPES
from pipeline.classify import fold
from pipeline.types import ExtractedField, PageText, Reread, Word

#: A value that fails its cross-check keeps this share of its confidence.
FAILED_CHECK_FACTOR = 0.5

_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
_WORDED = re.compile(r"NGAY\s*(\d{1,2})\s*,?\s*THANG\s*(\d{1,2})\s*,?\s*NAM\s*(\d{4})(?!\d)")
_MRZ_ID = re.compile(r"[I1lT|][D0O]VNM[0-9O]{9}[0-9O<]([0-9O]{12})")
_DIGIT_FIXES = str.maketrans({"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "|": "1"})


# --------------------------------------------------------------------------- public helpers


def _find_date(text: str) -> tuple[str, int, int] | None:
    """First valid date in ``text``: ISO string and its character span."""
    folded = fold(text)
    found = sorted(
        (m for rx in (_DMY, _WORDED) for m in rx.finditer(folded)), key=lambda m: m.start()
    )
    for m in found:
        d, mo, y = (int(g) for g in m.groups())
        if not 1900 <= y <= 2100:
            continue
        try:
            return date(y, mo, d).isoformat(), m.start(), m.end()
        except ValueError:
            continue
    return None


def parse_date(text: str) -> str | None:
    """ISO date from "15/08/1999", "15-08-1999" or "ngày 15 tháng 8 năm 2023"; None if none."""
    found = _find_date(text)
    return found[0] if found else None


def check_personal_id(pid: str, dob_iso: str | None, sex: str | None) -> bool:
    """Whether a personal ID agrees with itself and with the birth date and sex beside it.

    12 digits PPP G YY RRRRRR: province 001-096, G = century and sex (1900s 0/1,
    2000s 2/3, 2100s 4/5; even male), YY = birth year. A 9-digit legacy number
    carries no structure and only has to be digits.
    """
    if not pid.isdigit():
        return False
    if len(pid) == 9:
        return True
    if len(pid) != 12:
        return False
    province, g, yy = int(pid[:3]), int(pid[3]), pid[4:6]
    if not 1 <= province <= 96 or g > 5:
        return False
    if dob_iso:
        year = int(dob_iso[:4])
        if (year // 100 - 19) * 2 != g - g % 2 or f"{year % 100:02d}" != yy:
            return False
    if sex:
        male = sex.lower() in ("male", "nam")
        if male != (g % 2 == 0):
            return False
    return True


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class _Line:
    """One OCR line: NFC text, its folded twin (same length) and each word's span."""

    text: str
    folded: str
    words: tuple[tuple[int, int, Word], ...]

    def confidence(self, start: int, end: int) -> float:
        """Mean OCR confidence of the words overlapping text[start:end]."""
        confs = [w.confidence for s, e, w in self.words if s < end and e > start]
        return sum(confs) / len(confs) if confs else 0.0


def _lines(pages: list[PageText]) -> list[_Line]:
    out: list[_Line] = []
    for page in pages:
        grouped: dict[int, list[Word]] = {}
        for w in page.words:
            grouped.setdefault(w.line, []).append(w)
        for key in sorted(grouped):
            text = ""
            spans = []
            for w in grouped[key]:
                word = unicodedata.normalize("NFC", w.text)
                if text:
                    text += " "
                spans.append((len(text), len(text) + len(word), w))
                text += word
            out.append(_Line(text, fold(text), tuple(spans)))
    return out


# --------------------------------------------------------------------------- labels


def _label(vi: tuple[str, ...], en: tuple[str, ...] = (), colon: bool = False) -> re.Pattern[str]:
    """Regex for a (possibly bilingual) label in folded text; the value follows its end.

    ``colon`` requires the colon (or the line's end) after the label, for labels
    that are prefixes of others ("Họ, chữ đệm, tên" / "... tên người mẹ").
    """

    def alt(options: tuple[str, ...]) -> str:
        parts = [re.escape(o).replace(",\\ ", ",?\\s*").replace("\\ ", "\\s+") for o in options]
        return "(?:" + "|".join(parts) + ")"

    english = rf"(?:\s*/\s*{alt(en)}\.?)?" if en else ""
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
)
_LABELS: dict[str, re.Pattern[str]] = {
    "full_name": _label(_NAME, ("FULL NAME",), colon=True),
    "father_name": _label(("HO, CHU DEM, TEN NGUOI CHA", "HO VA TEN CHA"), colon=True),
    "mother_name": _label(("HO, CHU DEM, TEN NGUOI ME", "HO VA TEN ME"), colon=True),
    "personal_id": _label(
        ("SO DINH DANH CA NHAN", "SO CCCD", "SO CMND", "SO"), ("NO", "ID NO", "PERSONAL NO")
    ),
    "date_of_birth": _label(
        ("NGAY SINH", "NGAY, THANG, NAM SINH", "SINH NGAY"), ("DATE OF BIRTH",)
    ),
    "sex": _label(("GIOI TINH",), ("SEX",)),
    "nationality": _label(("QUOC TICH",), ("NATIONALITY",)),
    "ethnicity": _label(("DAN TOC",), ("ETHNICITY",)),
    "place_of_origin": _label(("QUE QUAN",), ("PLACE OF ORIGIN",)),
    "place_of_residence": _label(("NOI THUONG TRU", "NOI CU TRU"), ("PLACE OF RESIDENCE",)),
    "place_of_birth": _label(("NOI SINH",), ("PLACE OF BIRTH",)),
    "address": _label(("NOI CU TRU", "DIA CHI THUONG TRU", "DIA CHI"), ("ADDRESS",)),
    "issue_date": _label(
        (
            "NGAY, THANG, NAM DANG KY",
            "NGAY DANG KY",
            "NGAY CAP",
            "DANG KY LAN DAU",
            "NGAY, THANG, NAM",
        ),
        ("DATE OF ISSUE", "DATE, MONTH, YEAR"),
        colon=True,
    ),
    "expiry_date": _label(("CO GIA TRI DEN",), ("DATE OF EXPIRY",)),
    "document_number": re.compile(r"^\W*SO\s*[:;]"),
    "parcel_number": _label(("THUA DAT SO",)),
    "map_sheet_number": _label(("TO BAN DO SO",)),
    "area_m2": _label(("DIEN TICH",)),
    "enterprise_code": _label(("MA SO DOANH NGHIEP", "MA SO THUE")),
    "company_name": _label(("TEN CONG TY VIET BANG TIENG VIET", "TEN DOANH NGHIEP")),
    "head_office": _label(("DIA CHI TRU SO CHINH",)),
    "charter_capital": _label(("VON DIEU LE",)),
}
_ALL_LABELS = tuple(_LABELS.values())


def _cut_at_next_label(line: _Line, start: int) -> int:
    """End of a free-text value: where the next label on the same line begins."""
    lead = len(line.text[start:]) - len(line.text[start:].lstrip(" :;.,/"))
    end = len(line.text)
    for rx in _ALL_LABELS:
        for m in rx.finditer(line.folded, start + lead + 1):
            if ":" in m.group():  # a label inside a line always has its colon
                end = min(end, m.start())
                break
    return end


# --------------------------------------------------------------------------- value readers

_Found = tuple[str, float]
_Reader = Callable[[list[_Line], int, int], "_Found | None"]


def _span_value(line: _Line, start: int, end: int) -> tuple[str, int, int] | None:
    """The stripped text between start and end, with its tightened span."""
    raw = line.text[start:end]
    lead = len(raw) - len(raw.lstrip(" :;.,/"))
    value = raw.strip(" :;.,/")
    if not value:
        return None
    return value, start + lead, start + lead + len(value)


def _read_text(lines: list[_Line], i: int, start: int) -> _Found | None:
    """Free text to the next label; on the next line(s) when the label ends its line."""
    line = lines[i]
    got = _span_value(line, start, _cut_at_next_label(line, start))
    if got:
        value, s, e = got
        return value, line.confidence(s, e)
    parts: list[str] = []
    confs: list[float] = []
    for nxt in lines[i + 1 : i + 3]:
        if ":" in nxt.text:  # the next label: the value has ended
            break
        parts.append(nxt.text.strip())
        confs.append(nxt.confidence(0, len(nxt.text)))
    if not parts:
        return None
    return " ".join(parts), sum(confs) / len(confs)


def _name_tokens(line: _Line, start: int) -> tuple[str, int, int] | None:
    """Leading name words after ``start``: capitals when the name is printed in capitals."""
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", line.text[start:])]
    picked: list[tuple[str, int, int]] = []
    upper = bool(tokens) and tokens[0][0].strip(":;.,").isupper()
    for tok, s, e in tokens:
        word = tok.strip(":;.,")
        if not word or not word.isalpha() or (upper and not word.isupper()):
            break
        picked.append((word, s, e))
        if tok.endswith((":", ";")):
            break
    if not picked:
        return None
    name = " ".join(w for w, _, _ in picked)
    return name, start + picked[0][1], start + picked[-1][2]


def _read_name(lines: list[_Line], i: int, start: int) -> _Found | None:
    got = _name_tokens(lines[i], start)
    line = lines[i]
    if got is None and i + 1 < len(lines) and lines[i].text[start:].strip(" :;.") == "":
        line = lines[i + 1]
        got = _name_tokens(line, 0)
    if got is None:
        return None
    name, s, e = got
    value = unicodedata.normalize("NFC", " ".join(name.split()).upper())
    return value, line.confidence(s, e)


def _read_date(lines: list[_Line], i: int, start: int) -> _Found | None:
    for line, offset in ((lines[i], start), *((ln, 0) for ln in lines[i + 1 : i + 2])):
        found = _find_date(line.text[offset:])
        if found:
            iso, s, e = found
            return iso, line.confidence(offset + s, offset + e)
        if line.text[offset:].strip(" :;."):
            return None  # something else follows the label: no date here
    return None


def _read_sex(lines: list[_Line], i: int, start: int) -> _Found | None:
    line = lines[i]
    m = re.match(r"[\s:;./]*(\S+)", line.folded[start:])
    if not m:
        return None
    word = m.group(1).strip(".,;")
    value = {"NAM": "male", "NU": "female", "MALE": "male", "FEMALE": "female"}.get(word)
    if value is None:
        return None
    return value, line.confidence(start + m.start(1), start + m.end(1))


def _digit_runs(line: _Line, start: int) -> list[tuple[str, int, int]]:
    """Digit-looking tokens after ``start`` with OCR letter/digit confusions fixed."""
    out = []
    for m in re.finditer(r"[0-9OoDIl|]+", line.text[start:]):
        raw = m.group()
        if sum(c.isdigit() for c in raw) < 0.7 * len(raw):
            continue
        out.append((raw.translate(_DIGIT_FIXES), start + m.start(), start + m.end()))
    return out


def _read_id(lines: list[_Line], i: int, start: int, lengths: tuple[int, ...]) -> _Found | None:
    line = lines[i]
    for digits, s, e in _digit_runs(line, start)[:1]:
        if len(digits) in lengths:
            return digits, line.confidence(s, e)
    return None


def _read_digits(lines: list[_Line], i: int, start: int) -> _Found | None:
    line = lines[i]
    m = re.match(r"[\s:;.]*(\d[\d.,\-]*\d|\d)", line.text[start:])
    if not m:
        return None
    return m.group(1), line.confidence(start + m.start(1), start + m.end(1))


def _read_area(lines: list[_Line], i: int, start: int) -> _Found | None:
    found = _read_digits(lines, i, start)
    if not found:
        return None
    value, conf = found
    return value.replace(".", "").replace(",", "."), conf


def _read_token(lines: list[_Line], i: int, start: int) -> _Found | None:
    line = lines[i]
    m = re.match(r"[\s:;.]*(\S+)", line.text[start:])
    if not m:
        return None
    return m.group(1).rstrip(".,;"), line.confidence(start + m.start(1), start + m.end(1))


def _read_enterprise(lines: list[_Line], i: int, start: int) -> _Found | None:
    line = lines[i]
    m = re.match(r"[\s:;.]*(\d{10}(?:-\d{3})?)(?!\d)", line.text[start:])
    if not m:
        return None
    return m.group(1), line.confidence(start + m.start(1), start + m.end(1))


_READERS: dict[str, _Reader] = {
    "full_name": _read_name,
    "father_name": _read_name,
    "mother_name": _read_name,
    "date_of_birth": _read_date,
    "issue_date": _read_date,
    "expiry_date": _read_date,
    "sex": _read_sex,
    "nationality": _read_text,
    "ethnicity": _read_text,
    "place_of_origin": _read_text,
    "place_of_residence": _read_text,
    "place_of_birth": _read_text,
    "address": _read_text,
    "document_number": _read_token,
    "parcel_number": _read_digits,
    "map_sheet_number": _read_digits,
    "area_m2": _read_area,
    "enterprise_code": _read_enterprise,
    "company_name": _read_text,
    "head_office": _read_text,
    "charter_capital": _read_text,
}


def _labelled(field: str, lines: list[_Line], reader: _Reader) -> _Found | None:
    """The value after the first occurrence of ``field``'s label that yields one."""
    rx = _LABELS[field]
    for i, line in enumerate(lines):
        for m in rx.finditer(line.folded):
            found = reader(lines, i, m.end())
            if found:
                return found
    return None


# --------------------------------------------------------------------------- special fields


def _personal_id(lines: list[_Line], doc_type: str) -> _Found | None:
    """Labelled number first, then the MRZ of a card's back, then any lone 12-digit run."""
    lengths = (12, 9) if doc_type in ("legacy_id_card", "unknown") else (12,)

    def reader(ls: list[_Line], i: int, start: int) -> _Found | None:
        return _read_id(ls, i, start, lengths)

    found = _labelled("personal_id", lines, reader)
    if found:
        return found
    for line in lines:
        m = _MRZ_ID.search(line.text.replace(" ", ""))
        if m:
            return m.group(1).replace("O", "0"), line.confidence(0, len(line.text))
    for line in lines:
        for digits, s, e in _digit_runs(line, 0):
            if len(digits) == 12:
                return digits, line.confidence(s, e)
    return None


def _signing_date(lines: list[_Line]) -> _Found | None:
    """The "<place>, ngày 10 tháng 3 năm 2024" line above a signature: the last one wins."""
    for line in reversed(lines):
        if "," not in line.text:
            continue
        m = _WORDED.search(line.folded)
        if m:
            iso = parse_date(line.text[m.start() : m.end()])
            if iso:
                return iso, line.confidence(m.start(), m.end())
    return None


def _serial(lines: list[_Line]) -> _Found | None:
    """Land certificate serial: two capitals and six digits on a line of its own."""
    for line in reversed(lines):
        m = re.fullmatch(r"\s*([A-Z]{2})\s?(\d{6})\s*", line.text)
        if m:
            return f"{m.group(1)} {m.group(2)}", line.confidence(0, len(line.text))
    return None


# --------------------------------------------------------------------------- stage


def extract_fields(
    doc_type: str, pages: list[PageText], reread: Reread | None = None
) -> dict[str, ExtractedField]:
    """Fields of one paper found on its pages; a field not found is left out."""
    lines = _lines(pages)
    found: dict[str, _Found] = {}
    for field, reader in _READERS.items():
        got = _labelled(field, lines, reader)
        if got:
            found[field] = got
    pid = _personal_id(lines, doc_type)
    if pid:
        found["personal_id"] = pid
    if "issue_date" not in found:
        signed = _signing_date(lines)
        if signed:
            found["issue_date"] = signed
    serial = _serial(lines)
    if serial:
        found["serial"] = serial

    wanted = DOC_TYPES[doc_type].fields if doc_type in DOC_TYPES else ()
    if wanted:
        found = {k: v for k, v in found.items() if k in wanted}

    checks = _checks(found)
    return {
        k: ExtractedField(v, round(c * (1.0 if checks.get(k, True) else FAILED_CHECK_FACTOR), 3))
        for k, (v, c) in found.items()
    }


def _checks(found: dict[str, _Found]) -> dict[str, bool]:
    """Cross-checks between fields of the same paper; False lowers a field's confidence."""
    out: dict[str, bool] = {}
    dob = found.get("date_of_birth", (None, 0.0))[0]
    sex = found.get("sex", (None, 0.0))[0]
    if "personal_id" in found:
        out["personal_id"] = check_personal_id(found["personal_id"][0], dob, sex)
    for name in ("full_name", "father_name", "mother_name"):
        if name in found:
            out[name] = len(found[name][0].split()) >= 2
    if dob and "expiry_date" in found:
        out["expiry_date"] = found["expiry_date"][0] > dob
    return out
