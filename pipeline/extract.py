"""Extract stage: the fields of one paper from its OCR words and their positions.

Vietnamese papers print "label: value" (often bilingual, "Ngày sinh / Date of
birth:"). A label is found in accent-stripped text; its value is read to its
right on the same line, or on the line below it when the label ends its line
(the name on an ID card), below meaning the nearest line under the label that
starts near it. Each type's labels are the common ones plus its own; a few
fields have their own readers (spouses' ID numbers, household members, the
land certificate's serial, the signing date). Values are normalised by their
validator (pipeline.fields), then weighed (pipeline.weigh) and, on chip ID
cards, reconciled with the QR code and the MRZ (pipeline.reconcile).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from config.taxonomy import DOC_TYPES
from pipeline.classify import fold
from pipeline.fields import (
    WORDED_DATE,
    check_personal_id,
    date_from_words,
    find_date,
    normalise,
    parse_date,
)
from pipeline.labels import ALL_LABELS, LABELS, TYPE_LABELS
from pipeline.reconcile import Disagreement, card_evidence, reconcile
from pipeline.types import ExtractedField, PageText, Reread, Word
from pipeline.weigh import Candidate, weigh
from schemas.record import FieldDisagreement

__all__ = [
    "Disagreement",
    "Extraction",
    "check_personal_id",
    "extract_document",
    "extract_fields",
    "parse_date",
]

_MRZ_ID = re.compile(r"[I1lT|][D0O]VNM[0-9O]{9}[0-9O<]([0-9O]{12})")


@dataclass
class Extraction:
    """A paper's fields and the disagreements between its sources (chip cards)."""

    fields: dict[str, ExtractedField]
    disagreements: list[Disagreement] = field(default_factory=list)

    def record_disagreements(self) -> list[FieldDisagreement]:
        """The disagreements as the record carries them."""
        return [
            FieldDisagreement(field=d.field, values=dict(d.sources)) for d in self.disagreements
        ]


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class _Line:
    """One OCR line: NFC text, its folded twin (same length), each word's span, its page."""

    text: str
    folded: str
    words: tuple[tuple[int, int, Word], ...]
    page: int

    def span_words(self, start: int, end: int) -> tuple[Word, ...]:
        return tuple(w for s, e, w in self.words if s < end and e > start)

    @property
    def top(self) -> int:
        return min(w.top for _, _, w in self.words)

    @property
    def left(self) -> int:
        return min(w.left for _, _, w in self.words)

    @property
    def height(self) -> int:
        return max(w.height for _, _, w in self.words)


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
                # Tesseract reads rules and underlines touching a word as "_".
                word = unicodedata.normalize("NFC", w.text).strip("_") or w.text
                if text:
                    text += " "
                spans.append((len(text), len(text) + len(word), w))
                text += word
            out.append(_Line(text, fold(text), tuple(spans), page.number))
    return out


def _below(lines: list[_Line], i: int) -> int | None:
    """The line under line ``i`` on its page that starts near it (within two line heights)."""
    here = lines[i]
    for j in range(i + 1, min(i + 4, len(lines))):
        nxt = lines[j]
        if nxt.page != here.page:
            return None
        gap = nxt.top - here.top
        if 0 < gap <= 3 * here.height and abs(nxt.left - here.left) <= 8 * here.height:
            return j
    return None


def _cut_at_next_label(line: _Line, start: int) -> int:
    """End of a free-text value: where the next label on the same line begins."""
    lead = len(line.text[start:]) - len(line.text[start:].lstrip(" :;.,/"))
    end = len(line.text)
    for rx in ALL_LABELS:
        for m in rx.finditer(line.folded, start + lead + 1):
            if ":" in m.group():  # a label inside a line always has its colon
                end = min(end, m.start())
                break
    return end


# --------------------------------------------------------------------------- value readers

_Reader = Callable[[list[_Line], int, int, str], "Candidate | None"]


def _candidate(validator: str, raw: str, line: _Line, start: int, end: int) -> Candidate | None:
    value = normalise(validator, raw)
    words = line.span_words(start, end)
    if value is None or not words:
        return None
    conf = min(w.confidence for w in words)
    return Candidate(value, raw, conf, words, line.page)


def _rest(line: _Line, start: int) -> tuple[int, int] | None:
    """Span of the value right of ``start``, up to the next label; None when empty."""
    end = _cut_at_next_label(line, start)
    raw = line.text[start:end]
    lead = len(raw) - len(raw.lstrip(" :;.,/"))
    value = raw.strip(" :;.,/")
    if not value:
        return None
    return start + lead, start + lead + len(value)


def _right_or_below(lines: list[_Line], i: int, start: int) -> tuple[int, int, int] | None:
    """The value right of the label, or the whole line below when the label ends its line:
    (line index, start, end)."""
    span = _rest(lines[i], start)
    if span:
        return i, *span
    j = _below(lines, i)
    if j is None or ":" in lines[j].text:
        return None
    return j, 0, len(lines[j].text)


def _continued(lines: list[_Line], j: int) -> list[int]:
    """Lines that carry on a wrapped value of line ``j``: under it, aligned, no label."""
    out: list[int] = []
    prev = lines[j]
    for k in range(j + 1, min(j + 3, len(lines))):
        nxt = lines[k]
        if (
            nxt.page != prev.page
            or ":" in nxt.text
            or not 0 < nxt.top - prev.top <= 2.2 * prev.height
            or abs(nxt.left - lines[j].left) > 2 * prev.height
        ):
            break
        out.append(k)
        prev = nxt
    return out


def _read_text(lines: list[_Line], i: int, start: int, validator: str) -> Candidate | None:
    got = _right_or_below(lines, i, start)
    if not got:
        return None
    j, s, e = got
    first = _candidate(validator, lines[j].text[s:e], lines[j], s, e)
    if first is None or e < len(lines[j].text.rstrip(" .;")):
        return first  # the value ended at another label: it is not wrapped
    more = [lines[k] for k in _continued(lines, j)]
    if not more:
        return first
    raw = " ".join([lines[j].text[s:e], *(ln.text for ln in more)])
    words = first.words + tuple(w for ln in more for _, _, w in ln.words)
    value = normalise(validator, raw)
    if value is None:
        return first
    return Candidate(value, raw, min(w.confidence for w in words), words, first.page)


def _read_first(pattern: str) -> _Reader:
    """A reader taking the first match of ``pattern`` right of the label (or below it)."""
    rx = re.compile(pattern)

    def reader(lines: list[_Line], i: int, start: int, validator: str) -> Candidate | None:
        got = _right_or_below(lines, i, start)
        if not got:
            return None
        j, s, e = got
        line = lines[j]
        m = rx.search(line.text[s:e])
        if not m:
            return None
        g = 1 if rx.groups else 0
        return _candidate(validator, m.group(g), line, s + m.start(g), s + m.end(g))

    return reader


def _read_name(lines: list[_Line], i: int, start: int, validator: str) -> Candidate | None:
    got = _right_or_below(lines, i, start)
    if not got:
        return None
    line, s, e = lines[got[0]], got[1], got[2]
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", line.text[s:e])]
    picked: list[tuple[str, int, int]] = []
    upper = bool(tokens) and tokens[0][0].strip(":;.,").isupper()
    for tok, ts, te in tokens:
        word = tok.strip(":;.,_|")
        if not word or not word.isalpha() or (upper and not word.isupper()):
            break
        picked.append((word, ts, te))
        if tok.endswith((":", ";")):
            break
    if not picked:
        return None
    raw = " ".join(w for w, _, _ in picked)
    return _candidate(validator, raw, line, s + picked[0][1], s + picked[-1][2])


def _read_date(lines: list[_Line], i: int, start: int, validator: str) -> Candidate | None:
    got = _right_or_below(lines, i, start)
    if not got:
        return None
    line, s, e = lines[got[0]], got[1], got[2]
    found = find_date(line.text[s:e])
    if not found:
        return None
    _, ds, de = found
    return _candidate(validator, line.text[s + ds : s + de], line, s + ds, s + de)


_READERS: dict[str, _Reader] = {
    "name": _read_name,
    "date": _read_date,
    "sex": _read_first(r"^[\s:;./]*(\S+)"),
    "personal_id": _read_first(r"(?<![0-9A-Za-z])([0-9OoDIl|]{12})(?![0-9A-Za-z])"),
    "legacy_id": _read_first(r"(?<![0-9A-Za-z])([0-9OoDIl|]{12}|[0-9OoDIl|]{9})(?![0-9A-Za-z])"),
    "digits": _read_first(r"(\d[\d.]*\d|\d)"),
    "area": _read_first(r"(\d[\d.,]*\d|\d)"),
    "money": _read_first(r"(\d[\d.,]*\d|\d)"),
    "enterprise_code": _read_first(r"(\d{10}(?:\s?-\s?\d{3})?)(?!\d)"),
    "land_serial": _read_first(r"([A-Z]{2}\s?\d{6})"),
    "text": _read_text,
}
#: Fields read as one token (a document number "12/2020", a class "B2"), not to the next label.
_TOKEN_FIELDS = frozenset({"document_number", "class", "serial", "register_number"})
_read_token = _read_first(r"^[\s:;.]*(\S+?)[.,;]?(?:\s|$)")


def _labelled(
    rx: re.Pattern[str], lines: list[_Line], reader: _Reader, validator: str
) -> Candidate | None:
    """The value after the first occurrence of a label that yields one."""
    for i, line in enumerate(lines):
        for m in rx.finditer(line.folded):
            found = reader(lines, i, m.end(), validator)
            if found:
                return found
    return None


# --------------------------------------------------------------------------- special fields


def _id_fallback(lines: list[_Line], validator: str) -> Candidate | None:
    """An ID card's number from the MRZ of its back, or a lone 12-digit run."""
    for line in lines:
        m = _MRZ_ID.search(line.text.replace(" ", ""))
        if m:
            return Candidate(
                m.group(1).replace("O", "0"), m.group(1), 0.0, line.span_words(0, 10**6), line.page
            )
    rx = re.compile(r"(?<![0-9A-Za-z])([0-9OoDIl|]{12})(?![0-9A-Za-z])")
    for line in lines:
        m = rx.search(line.text)
        if m and sum(c.isdigit() for c in m.group(1)) >= 10:
            return _candidate(validator, m.group(1), line, m.start(1), m.end(1))
    return None


def _signing_date(lines: list[_Line]) -> Candidate | None:
    """The "<place>, ngày 10 tháng 3 năm 2024" line (or a card's "Ngày 05 tháng 03 năm 2010")."""
    for line in reversed(lines):
        m = WORDED_DATE.search(line.folded)
        if m and ("," in line.text[: m.start()] or not line.folded[: m.start()].strip()):
            return _candidate("date", line.text[m.start() : m.end()], line, m.start(), m.end())
    return None


def _serial(lines: list[_Line]) -> Candidate | None:
    """Land certificate serial: two capitals and six digits on a line of its own."""
    for line in reversed(lines):
        m = re.fullmatch(r"\s*([A-Z]{2})\s?([0-9OID]{6})\s*", line.text)
        if m:
            return _candidate("land_serial", line.text.strip(), line, 0, len(line.text))
    return None


def _members(lines: list[_Line]) -> Candidate | None:
    """Household members: the names of the numbered "1. Họ và tên: ..." rows."""
    rx = re.compile(r"^\W*(?:\d{1,2}\s*)?[.)]?\s*HO VA TEN\s*:")
    names: list[Candidate] = []
    for i, line in enumerate(lines):
        m = rx.match(line.folded)
        if m:
            got = _read_name(lines, i, m.end(), "name")
            if got:
                names.append(got)
    if not names:
        return None
    words = tuple(w for n in names for w in n.words)
    value = "; ".join(n.value for n in names)
    return Candidate(value, value, min(n.confidence for n in names), words, names[0].page)


def _spouse_ids(lines: list[_Line], found: dict[str, Candidate]) -> dict[str, Candidate]:
    """Husband's and wife's ID numbers: the first 12-digit run after each one's name."""
    rx = re.compile(r"(?<![0-9A-Za-z])([0-9OoDIl|]{12})(?![0-9A-Za-z])")
    starts = {}
    for i, line in enumerate(lines):
        for who in ("husband", "wife"):
            if who not in starts and LABELS[f"{who}_name"].search(line.folded):
                starts[who] = i
    out: dict[str, Candidate] = {}
    for who, first in starts.items():
        other = starts.get("wife") if who == "husband" else None
        dob = None
        for line in lines[first : other or len(lines)]:
            if dob is None and LABELS["date_of_birth"].search(line.folded):
                dob = parse_date(line.text)
            m = rx.search(line.text)
            if m:
                got = _candidate("personal_id", m.group(1), line, m.start(1), m.end(1))
                if got:
                    sex = "male" if who == "husband" else "female"
                    got.context = {"date_of_birth": dob, "sex": sex}
                    out[f"{who}_id"] = got
                break
    return out


def _words_date(lines: list[_Line]) -> str | None:
    """A birth certificate's date of birth in words ("ghi bằng chữ: Ngày mười lăm ...")."""
    for i, line in enumerate(lines):
        if "BANG CHU" in line.folded:
            text = line.text + " " + (lines[i + 1].text if i + 1 < len(lines) else "")
            return date_from_words(text) or date_from_words(line.text)
    return None


# --------------------------------------------------------------------------- stage


def validators_of(doc_type: str) -> dict[str, str]:
    """Field -> validator of a type; an unknown paper gets every label the extractor knows."""
    spec = DOC_TYPES.get(doc_type)
    if spec and spec.validators:
        return dict(spec.validators)
    out: dict[str, str] = {}
    for t in DOC_TYPES.values():
        out.update({k: v for k, v in t.validators.items() if k in LABELS and k not in out})
    return out


def _read_all(doc_type: str, lines: list[_Line]) -> dict[str, Candidate]:
    validators = validators_of(doc_type)
    own = TYPE_LABELS.get(doc_type, {})
    found: dict[str, Candidate] = {}
    for name, validator in validators.items():
        rx = own.get(name) or LABELS.get(name)
        if rx is None:
            continue
        reader = _read_token if name in _TOKEN_FIELDS else _READERS[validator]
        got = _labelled(rx, lines, reader, validator)
        if got:
            found[name] = got
    card = doc_type in ("citizen_id_card", "legacy_id_card")
    if card and "personal_id" in validators and "personal_id" not in found:
        got = _id_fallback(lines, validators["personal_id"])
        if got:
            found["personal_id"] = got
    if "issue_date" in validators and "issue_date" not in found:
        got = _signing_date(lines)
        if got:
            found["issue_date"] = got
    if validators.get("serial") == "land_serial":
        got = _serial(lines)
        if got:
            found["serial"] = got
    if "members" in validators:
        got = _members(lines)
        if got:
            found["members"] = got
    if "husband_id" in validators:
        found.update(_spouse_ids(lines, found))
    if doc_type == "birth_certificate" and "date_of_birth" in found:
        worded = _words_date(lines)
        if worded == found["date_of_birth"].value:
            found["date_of_birth"].confirmed = True
    return found


def extract_document(
    doc_type: str, pages: list[PageText], reread: Reread | None = None
) -> Extraction:
    """Fields of one paper found on its pages (a field not found is left out), weighed,
    re-read where doubtful, and on chip ID cards reconciled with the QR code and MRZ."""
    lines = _lines(pages)
    found = _read_all(doc_type, lines)
    spec = DOC_TYPES.get(doc_type)
    validators = validators_of(doc_type)
    evidence = card_evidence(pages) if doc_type == "citizen_id_card" else None
    trusted = {k: next(iter(v.values())) for k, v in evidence.claims.items()} if evidence else {}
    fields = weigh(found, validators, reread, trusted)
    if evidence is None:
        return Extraction(_located(fields, found, pages))
    fields, disagreements = reconcile(fields, evidence, spec.fields if spec else ())
    return Extraction(_located(fields, found, pages), disagreements)


def _located(
    fields: dict[str, ExtractedField], found: dict[str, Candidate], pages: list[PageText]
) -> dict[str, ExtractedField]:
    """Attach to each field the box of the words it was read from (for the operator's view)."""
    sizes = {p.number: (p.width, p.height) for p in pages}
    out = {}
    for name, f in fields.items():
        cand = found.get(name)
        size = sizes.get(cand.page) if cand else None
        if cand is None or not cand.words or not size or not all(size):
            out[name] = f
            continue
        w, h = size
        x0 = min(wd.left for wd in cand.words)
        y0 = min(wd.top for wd in cand.words)
        x1 = max(wd.left + wd.width for wd in cand.words)
        y1 = max(wd.top + wd.height for wd in cand.words)
        box = tuple(round(min(max(v, 0.0), 1.0), 4) for v in (x0 / w, y0 / h, x1 / w, y1 / h))
        out[name] = replace(f, page=cand.page, box=box)  # type: ignore[arg-type]
    return out


def extract_fields(
    doc_type: str, pages: list[PageText], reread: Reread | None = None
) -> dict[str, ExtractedField]:
    """Fields of one paper found on its pages; a field not found is left out."""
    return extract_document(doc_type, pages, reread).fields
