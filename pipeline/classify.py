"""Classify stage: what each page is, and where one paper ends and the next begins.

Titles sit in the top fifth of a paper's first page, so a page is classified by
matching the taxonomy's title patterns against its top lines. OCR often drops
the stacked diacritics of bold titles ("GIAY KHAI SINH"), so matching compares
accent-stripped text with a fuzzy ratio.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

from config.taxonomy import DOC_TYPES
from pipeline.doctype_model import DocTypeModel, default_model
from pipeline.types import DocumentSpan, PageClass, PageText, Word

#: Patterns printed in mixed case; every other title is printed in capitals.
_MIXED_CASE_PATTERNS = frozenset({"KÍNH GỬI"})
_MIN_RATIO = 0.8
#: Short patterns ("CĂN CƯỚC", "TỜ KHAI") need a closer match: "Căn cứ" is not a title.
_MIN_RATIO_SHORT = 0.9
_SHORT = 12
#: Matches this close to the best one count as ties, decided by position and length.
_TIE = 0.05
_FALLBACK_LINES = 6

# The back of a chip ID card: no title, but an MRZ and fixed labels.
_MRZ = re.compile(r"^\s*[I1lT|][D0O]VNM")
_ID_BACK_LABELS = ("DAC DIEM NHAN DANG", "PERSONAL IDENTIFICATION", "DATE, MONTH, YEAR")
_ID_BACK_CONFIDENCE = {"mrz": 0.9, "label": 0.7}


def fold(text: str) -> str:
    """Uppercase without diacritics, one character per input character (NFC in).

    Keeping the length lets a match found in folded text be sliced from the original.
    """
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in "đĐ":
            out.append("D")
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        out.append(base.upper() if len(base.upper()) == 1 else base)
    return "".join(out)


def _tokens(text: str) -> list[str]:
    """Folded words with punctuation dropped: the unit of title matching."""
    return [t for t in re.split(r"[^0-9A-Z']+", fold(text)) if t]


@dataclass(frozen=True)
class _Pattern:
    doc_type: str
    tokens: tuple[str, ...]
    text: str
    mixed_case: bool


def _patterns() -> list[_Pattern]:
    out = []
    for doc in DOC_TYPES.values():
        for p in doc.title_patterns:
            out.append(
                _Pattern(
                    doc.code, tuple(_tokens(p)), " ".join(_tokens(p)), p in _MIXED_CASE_PATTERNS
                )
            )
    return out


_PATTERNS = _patterns()


@dataclass(frozen=True)
class _Match:
    pattern: _Pattern
    ratio: float
    line: int
    start: int
    size: int


def _mostly_upper(words: list[str]) -> bool:
    letters = [c for w in words for c in w if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.6 * len(letters)


def _best_in_line(words: list[str], line_no: int) -> list[_Match]:
    """Best window match of every pattern in one line, above its threshold."""
    folded = [_tokens(w) for w in words]
    flat: list[str] = []
    owner: list[int] = []  # index of the original word each token came from
    for i, toks in enumerate(folded):
        flat.extend(toks)
        owner.extend([i] * len(toks))
    matches = []
    for pat in _PATTERNS:
        n = len(pat.tokens)
        best: _Match | None = None
        # One token more or fewer than the title: OCR splits and merges words.
        for size in sorted({max(1, n - 1), n, n + 1}):
            for start in range(len(flat) - size + 1):
                window = " ".join(flat[start : start + size])
                ratio = SequenceMatcher(None, window, pat.text).ratio()
                if best is None or ratio > best.ratio:
                    best = _Match(pat, ratio, line_no, start, size)
        if best is None:
            continue
        threshold = _MIN_RATIO_SHORT if len(pat.text) < _SHORT else _MIN_RATIO
        if best.ratio < threshold:
            continue
        first = owner[best.start]
        last = owner[best.start + best.size - 1]
        if not pat.mixed_case and not _mostly_upper(words[first : last + 1]):
            continue  # "Giấy khai sinh số..." in a sentence is not a title
        matches.append(best)
    return matches


def _lines(page: PageText) -> list[list[Word]]:
    grouped: dict[int, list[Word]] = {}
    for w in page.words:
        grouped.setdefault(w.line, []).append(w)
    return [grouped[k] for k in sorted(grouped)]


def _title(lines: list[list[Word]]) -> _Match | None:
    matches = [m for i, ln in enumerate(lines) for m in _best_in_line([w.text for w in ln], i)]
    if not matches:
        return None
    top = max(m.ratio for m in matches)
    ties = [m for m in matches if m.ratio >= top - _TIE]
    # Earliest line, then earliest in the line, then the most specific (longest) title.
    return min(ties, key=lambda m: (m.line, m.start, -len(m.pattern.text), -m.ratio))


def _id_back(lines: list[list[Word]]) -> float:
    """Confidence that the page is the back of a chip ID card (0 when it is not)."""
    texts = [" ".join(w.text for w in ln) for ln in lines]
    if any(_MRZ.match(t.replace(" ", "")) for t in texts):
        return _ID_BACK_CONFIDENCE["mrz"]
    folded = [fold(t) for t in texts]
    if any(label in t for t in folded for label in _ID_BACK_LABELS):
        return _ID_BACK_CONFIDENCE["label"]
    return 0.0


def _title_class(page: PageText) -> PageClass:
    """What the title rules say: a fuzzy title in the top fifth, or a card's back."""
    lines = _lines(page)
    limit = page.height / 5
    top = [ln for ln in lines if min(w.top for w in ln) < limit]
    found = _title(top) or _title(lines[:_FALLBACK_LINES])
    if found is not None:
        return PageClass(found.pattern.doc_type, round(found.ratio, 3), has_title=True)
    back = _id_back(lines)
    if back:
        return PageClass("citizen_id_card", back, has_title=False)
    return PageClass("unknown", 0.0, has_title=False)


#: Below this a paper's type is not trusted: it becomes "unknown".
MIN_DOCUMENT_CONFIDENCE = 0.5
#: The model alone may name a page whose title was lost when it is at least this sure.
MODEL_ALONE = 0.9
#: A title that the model finds this unlikely is doubted (confidence lowered)...
MODEL_DOUBT = 0.05
#: ...on pages with at least this many words (a title alone says little to the model).
MODEL_MIN_WORDS = 25


def classify_page(
    page: PageText, model: DocTypeModel | None = None, use_model: bool = True
) -> PageClass:
    """Doc type of one page: title rules first, the n-gram model to confirm or fill in.

    A title the model agrees with keeps its ratio; one it finds very unlikely loses
    confidence. A page with no readable title takes the model's answer only when
    the model is sure; otherwise it continues the paper before it.
    """
    ruled = _title_class(page)
    model = model if model is not None else (default_model() if use_model else None)
    if model is None or not page.words:
        return ruled
    probs = model.probabilities(page.text)
    best = max(probs, key=probs.__getitem__)
    if ruled.has_title or ruled.doc_type != "unknown":
        agree = probs.get(ruled.doc_type, 0.0)
        confidence = ruled.confidence
        # Doubt a title only on a page with enough text for the model to be sure of another type.
        if len(page.words) >= MODEL_MIN_WORDS and agree < MODEL_DOUBT and probs[best] >= 0.8:
            confidence *= 0.5
        elif best == ruled.doc_type:
            confidence = max(confidence, min(1.0, (confidence + agree) / 2 + 0.1))
        return PageClass(ruled.doc_type, round(confidence, 3), ruled.has_title)
    if best != "unknown" and probs[best] >= MODEL_ALONE:
        return PageClass(best, round(probs[best], 3), has_title=False, by_model=True)
    return ruled


_ID_CARDS = ("citizen_id_card", "legacy_id_card")


def _starts_paper(page: PageClass, current: str) -> bool:
    """A title starts a paper; so does a card's back that follows no card, and a page
    the model is sure belongs to another kind of paper than the one before it."""
    if page.has_title:
        return True
    if page.by_model and page.doc_type != current:
        return True
    return page.doc_type in _ID_CARDS and current not in _ID_CARDS


def split_documents(classes: list[PageClass]) -> list[DocumentSpan]:
    """Group consecutive pages into papers: a title starts one, other pages continue it.

    An ID card's back has no title: it joins the card front before it, and
    starts a card of its own otherwise.
    """
    spans: list[tuple[str, float, list[int]]] = []
    for number, cls in enumerate(classes, start=1):
        if spans and not _starts_paper(cls, spans[-1][0]):
            spans[-1][2].append(number)
        else:
            spans.append((cls.doc_type, cls.confidence, [number]))
    # A paper typed with too little confidence is "unknown" for a human to name, not a guess.
    return [
        DocumentSpan(t if c >= MIN_DOCUMENT_CONFIDENCE else "unknown", c, tuple(p))
        for t, c, p in spans
    ]
