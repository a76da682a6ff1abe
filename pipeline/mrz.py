"""Machine-readable zone of chip ID cards (ICAO 9303 TD1: three lines of 30).

The MRZ carries check digits, which makes it the most reliable printed source on
the card: a field whose check digit holds is almost certainly read right. OCR
reads ``<`` as ``K``/``«`` and swaps O/0, I/1 and the like; the parser repairs
what the field's alphabet allows and lets the check digits judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_WEIGHTS = (7, 3, 1)
_TO_DIGIT = str.maketrans(
    {
        "O": "0",
        "Q": "0",
        "D": "0",
        "I": "1",
        "L": "1",
        "Z": "2",
        "S": "5",
        "B": "8",
        "G": "6",
        "T": "7",
    }
)
_TO_ALPHA = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z", "6": "G"})


def check_digit(text: str) -> int:
    """ICAO 9303 check digit: weights 7, 3, 1; A=10 … Z=35, '<'=0."""
    total = 0
    for i, ch in enumerate(text):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - 55
        else:
            value = 0
        total += value * _WEIGHTS[i % 3]
    return total % 10


def _zone_chars(line: str) -> str:
    """An OCR'd zone line in the zone's alphabet (what OCR reads for ``<`` made ``<``)."""
    line = line.upper().replace(" ", "")
    line = re.sub(r"[«‹<(\[{]|K(?=<)|(?<=<)K", "<", line)
    return re.sub(r"[^A-Z0-9<]", "", line)


def _clean(line: str) -> str:
    return (_zone_chars(line) + "<" * 30)[:30]


def repaired_lines(first: str, second: str, third: str) -> tuple[str, str, str]:
    """The three lines (30 characters each) with each character in its position's alphabet.

    Line 1's numbers and line 2's dates and check digits are digits, the country code
    letters; line 3 is a name and has no digits at all. What is left differs from the
    printed line only where OCR read one character of the alphabet for another.
    """
    l1 = _clean(first)
    return (
        "ID" + l1[2:5].translate(_TO_ALPHA) + _digits(l1[5:27]) + l1[27:],
        _formatted_second(_clean(second)),
        _clean(third).translate(_TO_ALPHA),
    )


def _digits(text: str) -> str:
    return text.translate(_TO_DIGIT)


def _yymmdd(text: str, future: bool) -> str | None:
    if not re.fullmatch(r"\d{6}", text):
        return None
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:])
    this = date.today().year % 100
    # Birth dates are in the past; expiry dates (cards issued since 2016) in this century.
    century = 2000 if future or yy <= this else 1900
    try:
        return date(century + yy, mm, dd).isoformat()
    except ValueError:
        return None


@dataclass
class Mrz:
    """What the TD1 zone says, and which check digits held."""

    document_number: str  # 9 characters on line 1 (last 9 digits of the ID number)
    personal_id: str | None  # the 12-digit number in the optional data, if present
    date_of_birth: str | None  # ISO
    sex: str | None  # male / female
    expiry_date: str | None  # ISO
    nationality: str
    surname: str
    given_names: str
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_names) if p)

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(self.checks.values())


#: The zone's first line: document code I (read as 1, l, | or T in small print), D, country.
_TD1_START = re.compile(r"^[I1LT|][D0O][A-Z<]{3}")


def td1_start(lines: list[str]) -> int | None:
    """Index of the MRZ's first line among OCR lines (two more must follow), or None."""
    for i, line in enumerate(lines[:-2]):
        raw = line.upper().replace(" ", "")
        if _TD1_START.match(raw) and len(raw) >= 20:
            return i
    return None


def find_td1(lines: list[str]) -> list[str] | None:
    """The three MRZ lines among OCR lines: the one starting with ID + country and the next two."""
    i = td1_start(lines)
    return None if i is None else [_clean(x) for x in lines[i : i + 3]]


def proven_lines(lines: list[str], mrz: Mrz) -> tuple[str | None, str | None]:
    """The zone's first two lines as printed, as far as the format and check digits prove.

    Only a Vietnamese card's zone (country VNM), and only a line read at its full 30
    characters. Line 1 always starts IDVNM (the document code read as "TD" in small
    print); its document number is written as digits when its check digit holds.
    Line 2 is written out only when the birth, expiry and composite check digits all
    hold. The name line has no check digit and is never rewritten.
    """
    l1, l2 = _clean(lines[0]), _clean(lines[1])
    if l1[2:5].translate(_TO_ALPHA) != "VNM":  # not a Vietnamese card's zone
        return None, None
    checks = mrz.checks
    first = None
    if len(_zone_chars(lines[0])) == 30:
        number = _digits(l1[5:15]) if checks.get("document_number") else l1[5:15]
        optional = _digits(l1[15:]) if checks.get("composite") and mrz.personal_id else l1[15:]
        first = "IDVNM" + number + optional
    second = None
    proven = all(checks.get(k) for k in ("date_of_birth", "expiry_date", "composite"))
    if proven and len(_zone_chars(lines[1])) == 30:
        second = _formatted_second(l2)
    return first, second


def _formatted_second(l2: str) -> str:
    """Line 2 with each character in its position's alphabet (digits, sex, country)."""
    return (
        _digits(l2[0:7])
        + l2[7]
        + _digits(l2[8:15])
        + l2[15:18].translate(_TO_ALPHA)
        + l2[18:29]
        + _digits(l2[29])
    )


def _yymmdd_of(iso: str) -> str | None:
    m = re.fullmatch(r"\d\d(\d\d)-(\d\d)-(\d\d)", iso)
    return "".join(m.groups()) if m else None


#: Line 1's last three characters when the card prints nothing after the ID number.
FILLER_TAIL = "<<<"


def first_line(first: str, personal_id: str, tail: str | None = None) -> str | None:
    """Line 1 of a Vietnamese card with this ID number.

    Its last three characters, which no field names, are ``tail`` if given, else as
    read in ``first``.
    """
    if not re.fullmatch(r"\d{12}", personal_id):
        return None
    number = personal_id[-9:]
    end = _clean(first)[27:30] if tail is None else tail
    return "IDVNM" + number + str(check_digit(number)) + personal_id + end


def second_line(
    first: str | None,
    second: str,
    *,
    date_of_birth: str,
    sex: str,
    expiry_date: str,
    nationality: str,
) -> str | None:
    """Line 2 as a card with these fields (and line 1 ``first``, if known) would print it.

    ``second`` (as read) gives only the optional characters, which no field names, and,
    when line 1 is not known for sure, the composite check digit. Every other check
    digit is worked out, so a line that differs from the read one by a digit or two is
    the read line with its misreads undone.
    """
    dob, exp = _yymmdd_of(date_of_birth), _yymmdd_of(expiry_date)
    code = {"male": "M", "female": "F"}.get(sex)
    l2 = _clean(second)
    if dob is None or exp is None or code is None or not re.fullmatch(r"[A-Z]{3}", nationality):
        return None
    body = dob + str(check_digit(dob)) + code + exp + str(check_digit(exp)) + nationality
    body += l2[18:29]
    if first is None:
        return body + _digits(l2[29])
    composite = _clean(first)[5:30] + body[0:7] + body[8:15] + body[18:29]
    return body + str(check_digit(composite))


def name_line(surname: str, given_names: list[str]) -> str | None:
    """Line 3 for a holder's name in the zone's letters (SURNAME<<GIVEN<NAMES, filled with <)."""
    line = surname + "<<" + "<".join(given_names)
    if len(line) > 30 or not re.fullmatch(r"[A-Z<]+", line):
        return None  # a name the zone shortens: what it keeps is not ours to guess
    return line.ljust(30, "<")


def parse_td1(lines: list[str]) -> Mrz | None:
    """Parse three TD1 lines (OCR'd or not); None when they do not look like a TD1 zone."""
    if len(lines) != 3:
        return None
    l1, l2, l3 = (_clean(x) for x in lines)
    doc_no = _digits(l1[5:14])
    optional = l1[15:30]
    pid_match = re.match(r"[0-9OQDILZSBGT]{12}", optional.replace("<", ""))
    personal_id = _digits(pid_match.group(0)) if pid_match else None
    dob_raw, exp_raw = _digits(l2[0:6]), _digits(l2[8:14])
    sex = {"M": "male", "F": "female"}.get(l2[7])
    checks = {
        "document_number": l1[14].translate(_TO_DIGIT) == str(check_digit(doc_no)),
        "date_of_birth": _digits(l2[6]) == str(check_digit(dob_raw)),
        "expiry_date": _digits(l2[14]) == str(check_digit(exp_raw)),
    }
    # On the repaired characters: an O read for a 0 in the number must not fail the composite.
    repaired_1 = (
        doc_no + l1[14].translate(_TO_DIGIT) + (_digits(optional) if pid_match else optional)
    )
    composite = repaired_1 + dob_raw + _digits(l2[6]) + exp_raw + _digits(l2[14]) + l2[18:29]
    checks["composite"] = _digits(l2[29]) == str(check_digit(composite))
    names = l3.split("<<", 1)
    surname = names[0].replace("<", " ").strip().translate(_TO_ALPHA)
    given = names[1].replace("<", " ").strip().translate(_TO_ALPHA) if len(names) > 1 else ""
    if personal_id and personal_id[-9:] != doc_no:
        checks["personal_id"] = False
    return Mrz(
        document_number=doc_no,
        personal_id=personal_id,
        date_of_birth=_yymmdd(dob_raw, future=False),
        sex=sex,
        expiry_date=_yymmdd(exp_raw, future=True),
        nationality=l2[15:18].translate(_TO_ALPHA),
        surname=re.sub(r"\s+", " ", surname),
        given_names=re.sub(r"\s+", " ", given),
        checks=checks,
    )
