"""Restore stage: give printed text back what OCR got wrong, where the truth is known.

Three kinds of text are known, or nearly, without reading them:

- **Titles and printed lines.** Bold capitals stack two marks over one letter (Ấ,
  Ẩ, Ứ), and Tesseract's most common residual error on the accuracy corpus was
  reading one of them as another: "GIẦY" for GIẤY (8 times in 57 pages), "CHÚNG",
  "CAN CƯƠC", "SỐ HỘ KHAU"; or as letters of their own: "NGHITẸP", "NGHITIEP" for
  NGHIỆP. The titles are the taxonomy's title patterns and printed lines
  (letterheads, a card's fixed print), as a re-typist at the desk knows the printed
  forms. Where a run of capitals is, letter for letter without diacritics, a known
  title (or three or more words of one), or such a run of three words or more with
  one letter added, or one of 15 letters or more with up to two letters misread,
  added or dropped, its words take the known spelling. A shorter run whose base
  letters differ or a word with punctuation in it is left as read, and a word two
  printed forms spell differently (HÒA, HOÀ) keeps its reading. Text known in upper
  and lower case (the motto, the provinces' names) is matched exactly, in its case;
  dashes between known words stay as read.
- **Names.** A person's name after its label ("Họ và tên:") takes back the marks
  OCR swapped on common surnames and given names (`pipeline.names`).
- **A chip card's MRZ** (`pipeline.restore_mrz`): its lines as their check digits
  prove them.

All three run on each page right after its OCR. Once a paper's fields are
extracted, `restore_names` gives a name field's words the field's spelling where
only their marks differ, so that the record's text and fields agree (and
`restore_mrz_fields` does the same for a chip card's zone).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache

from rapidfuzz.distance import Levenshtein

from config.taxonomy import DOC_TYPES, PRINTED_LINES
from pipeline.classify import fold
from pipeline.names import PROVINCES, respell_name
from pipeline.restore_mrz import restore_mrz
from pipeline.types import ExtractedField, PageText, Word

#: A part of a title this long or longer is restored on its own ("GIẤY CHỨNG NHẬN");
#: shorter parts ("NHÂN DÂN", "KẾT HÔN") could be a name, so only whole titles count.
MIN_PART_WORDS = 3
#: A run of capitals this many letters long or longer may also have letters misread.
LONG_RUN = 15
#: How many letters of such a run may be misread, added or dropped.
LONG_RUN_EDITS = 2
#: Dashes printed between a line's words (the motto's), passed over when matching.
DASHES = frozenset({"-", "–", "—"})
#: Marks that may end a word of running text known in upper and lower case.
CLAUSE_ENDS = ",.;:"


#: A known spelling: the printed words (and any dash between them), None where two
#: printed forms with the same letters differ (HÒA, HOÀ): that word stays as read.
Spelling = tuple[str | None, ...]


def _letters_only(folded: str) -> bool:
    return folded.isascii() and folded.isalpha()


@cache
def _known() -> dict[tuple[str, ...], Spelling]:
    """Folded word runs -> printed spelling, from capitals titles and the printed lines."""
    patterns = [p for doc in DOC_TYPES.values() for p in doc.title_patterns]
    return _runs(p for p in (*patterns, *PRINTED_LINES) if p == p.upper())


@cache
def _known_mixed() -> dict[tuple[str, ...], Spelling]:
    """The same for text in upper and lower case: the motto, the provinces' names."""
    return _runs((*(p for p in PRINTED_LINES if p != p.upper()), *PROVINCES))


def _runs(patterns: Iterable[str]) -> dict[tuple[str, ...], Spelling]:
    """Each pattern's words and its runs of three words or more, by the fold of their words.

    Dashes between the words are kept in the spelling but not in the fold. Where two
    patterns with the same fold spell a word differently, the word is None; where they
    differ in their dashes, the fold is left out.
    """
    spellings: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for pattern in patterns:
        tokens = tuple(unicodedata.normalize("NFC", pattern).split())
        at = [i for i, t in enumerate(tokens) if t not in DASHES]
        if not all(_letters_only(fold(tokens[i])) for i in at):
            continue
        sizes = [len(at)] if len(at) >= 2 else []
        sizes += range(MIN_PART_WORDS, len(at))
        for size in sizes:
            for i in range(len(at) - size + 1):
                run = tokens[at[i] : at[i + size - 1] + 1]
                key = tuple(fold(t) for t in run if t not in DASHES)
                spellings.setdefault(key, set()).add(run)
    known: dict[tuple[str, ...], Spelling] = {}
    for key, runs in spellings.items():
        if len({tuple(t in DASHES and t for t in r) for r in runs}) == 1:
            known[key] = tuple(w[0] if len(set(w)) == 1 else None for w in zip(*runs, strict=True))
    return known


@cache
def _long_runs() -> dict[int, list[tuple[str, ...]]]:
    """Known runs (as folded) of LONG_RUN letters or more, by their number of words."""
    runs: dict[int, list[tuple[str, ...]]] = {}
    for run in _known():
        if sum(len(w) for w in run) >= LONG_RUN:
            runs.setdefault(len(run), []).append(run)
    return runs


def _near(folded: tuple[str, ...]) -> Spelling | None:
    """The one known run this run is but for a letter or two misread; else None.

    A stacked mark is sometimes read as a letter of its own: "NGHITẸP" for NGHIỆP,
    "TTRUNG" beside it. In a run of LONG_RUN letters or more, up to LONG_RUN_EDITS
    letters may be read for others, added or dropped, word by word ("SOCTIALIST",
    "MINISTRY OE PUBLIC", "NGHITIEP" where the mark became two letters). Only letters
    may be wrong (never a mark of punctuation), and the nearest known runs must all
    have the same spelling. Titles and printed lines in capitals only.
    """
    known = _known()
    found: set[Spelling] = set()
    for k, word in enumerate(folded):
        for j, ch in enumerate(word):
            if len(word) > 1 and "A" <= ch <= "Z":
                spelling = known.get((*folded[:k], word[:j] + word[j + 1 :], *folded[k + 1 :]))
                if spelling is not None:
                    found.add(spelling)
    if found or not all(_letters_only(w) for w in folded):
        return found.pop() if len(found) == 1 else None
    if sum(len(w) for w in folded) < LONG_RUN:
        return None
    best, nearest = LONG_RUN_EDITS + 1, set()
    for run in _long_runs().get(len(folded), []):
        edits = 0
        for a, b in zip(folded, run, strict=True):
            edits += Levenshtein.distance(a, b, score_cutoff=best - edits)
            if edits > best:
                break
        if edits < best:
            best, nearest = edits, {known[run]}
        elif edits == best:
            nearest.add(known[run])
    return nearest.pop() if best <= LONG_RUN_EDITS and len(nearest) == 1 else None


def _same_case(read: str, printed: str) -> bool:
    """A word as read is in the printed word's case: all capitals, or capitalised or not."""
    if printed == printed.upper():
        return read == read.upper()
    return read != read.upper() and read[:1].isupper() == printed[:1].isupper()


def _restore_line(words: list[Word], known: dict[tuple[str, ...], Spelling], capitals: bool) -> int:
    """Respell the line's known runs of words in place, passing over the dashes between them.

    With ``capitals``, only runs of capitals, which may also be near a known run
    (`_near`); else a run in the printed text's upper and lower case, exactly.
    """
    at = [i for i, w in enumerate(words) if w.text not in DASHES]
    longest = max((len(k) for k in known), default=0)
    changed = 0
    i = 0
    while i < len(at):
        for size in range(min(longest, len(at) - i), 1, -1):
            run = [words[k] for k in at[i : i + size]]
            if capitals and not all(w.text == w.text.upper() for w in run):
                continue
            # In running text a word may end a clause ("Hòa Binh,"): the mark stays.
            folded = tuple(fold(w.text if capitals else w.text.rstrip(CLAUSE_ENDS)) for w in run)
            spelling = known.get(folded)
            if spelling is None and capitals and size >= MIN_PART_WORDS:
                spelling = _near(folded)
            if spelling is None:
                continue
            printed = [t for t in spelling if t is None or t not in DASHES]
            if not all(
                right is None or _same_case(w.text, right)
                for w, right in zip(run, printed, strict=True)
            ):
                continue
            changed += _respell(words, range(at[i], at[i + size - 1] + 1), spelling)
            i += size
            break
        else:
            i += 1
    return changed


def _respell(words: list[Word], stretch: range, spelling: Spelling) -> int:
    """Give the stretch's words the spelling's words; its dashes stay as read.

    The motto is printed with hyphens on some papers and en dashes on others.
    """
    printed = [t for t in spelling if t is None or t not in DASHES]
    changed = seen = 0
    for k in stretch:
        text = words[k].text
        if text in DASHES:
            continue
        right = printed[seen]
        seen += 1
        if right is None:
            continue
        right += text[len(text.rstrip(CLAUSE_ENDS)) :]  # the clause's end stays as read
        if right != text:
            words[k] = dataclasses.replace(words[k], text=right)
            changed += 1
    return changed


def restore_text(page: PageText) -> int:
    """Restore the page's known text in place: titles, names, MRZ lines; how many changed."""
    return restore_titles(page) + restore_name_runs(page) + restore_mrz(page)


def _names_a_person(label: list[str]) -> bool:
    """A label a name follows: "Họ và tên:", "Họ, chữ đệm, tên người cha:", "Full name:"."""
    words = {fold(w).strip(",:/") for w in label}
    return {"HO", "TEN"} <= words or {"FULL", "NAME"} <= words


#: A name after its label is two to this many words of capitals.
MAX_NAME_WORDS = 6


#: A label may run on past a colon for this many words ("Họ, chữ đệm và tên: chủ hộ:").
LABEL_TAIL_WORDS = 3


def _capitals(text: str) -> bool:
    return text.isalpha() and text == text.upper()


def _name_runs(texts: list[str]) -> list[range]:
    """Where a line holds a person's name: capitals after a label that names a person.

    A line of capitals alone is left: "TRƯỞNG CÔNG AN" (the police chief over a
    signature) is as much a name as "ĐĂNG KIM THẢO" (a signer's).
    """
    runs: list[range] = []
    start, prev = 0, None  # the label's first word; the colon before, if any
    for k, text in enumerate(texts):
        if not text.endswith(":"):
            continue
        if prev is not None and (
            k - prev > LABEL_TAIL_WORDS or not _names_a_person(texts[start : prev + 1])
        ):
            start = prev + 1
        prev = k
        if not _names_a_person(texts[start : k + 1]):
            continue
        end = k + 1
        while end < len(texts) and _capitals(texts[end]):
            end += 1
        if 2 <= end - k - 1 <= MAX_NAME_WORDS:
            runs.append(range(k + 1, end))
            start, prev = end, None
    return runs


def restore_name_runs(page: PageText) -> int:
    """A person's name printed after its label gets its marks back.

    The name's words are respelled as `pipeline.names.respell_name` says (a common
    surname's or given name's marks swapped by OCR); only capitals right after a
    label that names a person, so "ĐĂNG KÝ" in a title or a company's name is not
    touched. Words changed.
    """
    changed = 0
    for indices in page.line_indices().values():
        texts = [page.words[i].text for i in indices]
        for run in _name_runs(texts):
            names = respell_name([texts[k] for k in run])
            for k, right in zip(run, names, strict=True):
                if texts[k] != right:
                    page.words[indices[k]] = dataclasses.replace(page.words[indices[k]], text=right)
                    changed += 1
    return changed


def restore_titles(page: PageText) -> int:
    """Respell the page's title words in place; how many words changed."""
    known, mixed = _known(), _known_mixed()
    changed = 0
    for indices in page.line_indices().values():
        words = [page.words[i] for i in indices]
        changed += _restore_line(words, known, True) + _restore_line(words, mixed, False)
        for i, word in zip(indices, words, strict=True):
            page.words[i] = word
    return changed


def restore_names(
    pages: list[PageText], fields: Mapping[str, ExtractedField], doc_type: str
) -> int:
    """A name field's words on its page take the field's spelling where only marks differ.

    Field extraction restores a common surname's stacked marks ("NGUYÊN" read, NGUYỄN
    given) and takes a chip card's name from its QR code; with this the record's text
    says what its fields say. Only words inside the field's box, as many as the value
    has, each the same letters without diacritics; anything else is left as read.
    """
    spec = DOC_TYPES.get(doc_type)
    if spec is None:
        return 0
    by_number = {p.number: p for p in pages}
    changed = 0
    for name in (n for n, v in spec.validators.items() if v == "name"):
        f = fields.get(name)
        page = by_number.get(f.page) if f is not None and f.page is not None else None
        if f is None or page is None or f.box is None or not page.width or not page.height:
            continue
        x0, y0, x1, y1 = f.box
        inside = [
            i
            for i, w in enumerate(page.words)
            if x0 <= (w.left + w.width / 2) / page.width <= x1
            and y0 <= (w.top + w.height / 2) / page.height <= y1
        ]
        spelling = f.value.split()
        if len(inside) != len(spelling):
            continue
        words = [page.words[i] for i in inside]
        if any(fold(w.text) != fold(s) for w, s in zip(words, spelling, strict=True)):
            continue
        for i, w, s in zip(inside, words, spelling, strict=True):
            if w.text != s:
                page.words[i] = dataclasses.replace(w, text=s)
                changed += 1
    return changed
