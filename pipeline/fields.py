"""Field values: normalisers and validators, one per validator name of the taxonomy.

The taxonomy (config/doc_types.yaml) names a validator for every field: name,
date, sex, personal_id, legacy_id, digits, text, area, money, enterprise_code,
land_serial. Here each one has a normaliser (raw OCR text to the stored form:
ISO dates, NFC capitals, "125.5" areas, digits-only money...), a structural
check, and the characters a second read of its crop may return. Cross-field
rules (an ID number against the birth date and sex beside it, dates in order)
live here too, so the extractor only has to find values and weigh them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from pipeline.classify import fold
from pipeline.names import respell_name

_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
WORDED_DATE = re.compile(r"NGAY\s*(\d{1,2})\s*,?\s*THANG\s*(\d{1,2})\s*,?\s*NAM\s*(\d{4})(?!\d)")
#: OCR letters that stand for digits inside a number.
DIGIT_FIXES = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "S": "5", "B": "8"}
)
#: Earliest plausible date on a paper in use (birth dates of the oldest holders).
EARLIEST = date(1900, 1, 1)

DIGITS = "0123456789"
#: Characters a second read of a field's crop may return, by validator (empty: any).
WHITELISTS: dict[str, str] = {
    "personal_id": DIGITS,
    "legacy_id": DIGITS,
    "digits": DIGITS,
    "date": DIGITS + "/-.",
    "enterprise_code": DIGITS + "-",
    "area": DIGITS + ",.",
    "money": DIGITS + ".",
    "land_serial": "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + DIGITS,
}


# --------------------------------------------------------------------------- dates


def find_date(text: str) -> tuple[str, int, int] | None:
    """First valid date in ``text`` (dd/mm/yyyy or "ngày d tháng m năm y"): ISO and its span."""
    folded = fold(text)
    found = sorted(
        (m for rx in (_DMY, WORDED_DATE) for m in rx.finditer(folded)), key=lambda m: m.start()
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
    found = find_date(text)
    return found[0] if found else None


_UNIT_WORDS = {
    "KHONG": 0,
    "MOT": 1,
    "HAI": 2,
    "BA": 3,
    "BON": 4,
    "TU": 4,
    "NAM": 5,
    "LAM": 5,
    "SAU": 6,
    "BAY": 7,
    "TAM": 8,
    "CHIN": 9,
}


def number_from_words(tokens: list[str]) -> int | None:
    """A number written in Vietnamese words (folded tokens): "HAI NGHIN KHONG TRAM MUOI LAM"."""
    if not tokens:
        return None
    total, current = 0, 0
    for tok in tokens:
        if tok in _UNIT_WORDS:
            current += _UNIT_WORDS[tok]
        elif tok == "MUOI":  # mười (ten) leads, mươi (tens) follows a unit
            current = 10 if current == 0 else current * 10
        elif tok == "TRAM":
            total += current * 100
            current = 0
        elif tok in ("NGHIN", "NGAN"):
            total += current * 1000
            current = 0
        elif tok not in ("LINH", "LE"):
            return None
    return total + current


def date_from_words(text: str) -> str | None:
    """ISO date from "Ngày mười lăm tháng tám năm hai nghìn không trăm mười lăm"."""
    tokens = re.findall(r"[A-Z]+", fold(text))
    if "NGAY" not in tokens or "THANG" not in tokens:
        return None
    tokens = tokens[tokens.index("NGAY") + 1 :]
    if "THANG" not in tokens:
        return None
    t = tokens.index("THANG")
    day, rest = number_from_words(tokens[:t]), tokens[t + 1 :]
    # "năm" is both the word for five and "year": try each place the month may end.
    for k in range(1, min(4, len(rest))):
        if rest[k] != "NAM":
            continue
        month, year = number_from_words(rest[:k]), number_from_words(rest[k + 1 :])
        if day and month and year and 1900 <= year <= 2100:
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                continue
    return None


def plausible_date(iso: str, today: date | None = None) -> bool:
    """A date a paper in use can carry: from 1900 to 60 years after today (expiry dates)."""
    d = date.fromisoformat(iso)
    today = today or date.today()
    return EARLIEST <= d <= today.replace(year=today.year + 60)


def date_order(values: dict[str, str], today: date | None = None) -> set[str]:
    """Date fields that break the order birth < issue < expiry or lie in the future."""
    today = today or date.today()
    dob, issued, expiry = (values.get(k) for k in ("date_of_birth", "issue_date", "expiry_date"))
    bad: set[str] = set()
    if dob and dob > today.isoformat():
        bad.add("date_of_birth")
    if issued and issued > today.isoformat():
        bad.add("issue_date")
    for early, late in (("date_of_birth", "issue_date"), ("issue_date", "expiry_date")):
        a, b = values.get(early), values.get(late)
        if a and b and a >= b:
            bad.update((early, late))
    if dob and expiry and dob >= expiry:
        bad.update(("date_of_birth", "expiry_date"))
    return bad


# --------------------------------------------------------------------------- ID numbers


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


# --------------------------------------------------------------------------- normalisers


def _digits(raw: str) -> str:
    return re.sub(r"\s+", "", raw).translate(DIGIT_FIXES)


def normalise_name(raw: str) -> str:
    """NFC capitals, one space between words; marks misread on a known name restored."""
    return " ".join(respell_name(" ".join(raw.split()).upper().split()))


def normalise_text(raw: str) -> str:
    value = unicodedata.normalize("NFC", " ".join(raw.split())).strip(" :;,._|")
    return "Việt Nam" if fold(value) == "VIET NAM" else value


def normalise_area(raw: str) -> str | None:
    """'125,5' (decimal comma, dot thousands) -> '125.5'; '1.250,75' -> '1250.75'."""
    m = re.search(r"\d[\d.]*(?:,\d+)?", raw.translate(DIGIT_FIXES).replace(" ", ""))
    if not m:
        return None
    whole, _, frac = m.group().partition(",")
    whole = whole.replace(".", "")
    return f"{int(whole)}.{frac}" if frac else str(int(whole))


def normalise_money(raw: str) -> str | None:
    """'500.000.000 đồng' -> '500000000'."""
    m = re.search(r"\d{1,3}(?:[.,\s]\d{3})+|\d+", raw)
    return re.sub(r"\D", "", m.group()).lstrip("0") or None if m else None


def normalise(validator: str, raw: str) -> str | None:
    """The stored form of a raw value read for a field of this validator; None if unreadable."""
    raw = unicodedata.normalize("NFC", raw).strip()
    if validator == "name":
        return normalise_name(raw) or None
    if validator == "date":
        return parse_date(raw)
    if validator == "sex":
        word = fold(raw).strip(" .:;,")
        return {"NAM": "male", "NU": "female", "MALE": "male", "FEMALE": "female"}.get(word)
    if validator in ("personal_id", "legacy_id", "digits"):
        return _digits(raw) or None
    if validator == "enterprise_code":
        m = re.search(r"(\d{10})(?:\s*-\s*(\d{3}))?(?!\d)", _digits(raw.replace("-", " - ")))
        if not m:
            return None
        return m.group(1) + (f"-{m.group(2)}" if m.group(2) else "")
    if validator == "area":
        return normalise_area(raw)
    if validator == "money":
        return normalise_money(raw)
    if validator == "land_serial":
        m = re.fullmatch(r"([A-Z]{2})\s*([0-9OIlDS]{6})", raw.replace(" ", "").upper())
        return f"{m.group(1)} {m.group(2).translate(DIGIT_FIXES)}" if m else None
    return normalise_text(raw) or None


_NAME_WORD = re.compile(r"[^\W\d_]{1,7}")


def valid(validator: str, value: str) -> bool:
    """Whether a normalised value has the structure its validator demands (no cross-checks)."""
    if validator == "name":
        words = value.split()
        return 2 <= len(words) <= 6 and all(_NAME_WORD.fullmatch(w) for w in words)
    if validator == "date":
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and plausible_date(value)
    if validator == "sex":
        return value in ("male", "female")
    if validator == "personal_id":
        return len(value) == 12 and check_personal_id(value, None, None)
    if validator == "legacy_id":
        return len(value) in (9, 12) and check_personal_id(value, None, None)
    if validator == "digits":
        return value.isdigit()
    if validator == "enterprise_code":
        return bool(re.fullmatch(r"\d{10}(?:-\d{3})?", value))
    if validator == "area":
        return bool(re.fullmatch(r"[1-9]\d*(?:\.\d+)?", value))
    if validator == "money":
        return value.isdigit() and not value.startswith("0")
    if validator == "land_serial":
        return bool(re.fullmatch(r"[A-Z]{2} \d{6}", value))
    return bool(value.strip())
