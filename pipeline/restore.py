"""Restore stage: give printed text back what OCR got wrong, where the truth is known.

Two kinds of printed text are known without reading them:

- **Titles.** Bold capitals stack two marks over one letter (Ấ, Ẩ, Ứ), and
  Tesseract's most common residual error on the accuracy corpus was reading one of
  them as another: "GIẦY" for GIẤY (8 times in 57 pages), "CHÚNG", "NHÂN",
  "CAN CƯƠC", "SỐ HỘ KHAU". The titles are the taxonomy's title patterns, as a
  re-typist at the desk knows the printed forms. Where a run of capitals is, letter
  for letter without diacritics, a known title (or three or more words of one), its
  words take the title's spelling. A run whose base letters differ, a word with
  punctuation in it, or text in lower case is left as read, and a fold that two
  titles spell differently is never used.
- **A chip card's MRZ.** Its first two lines carry check digits; where they hold,
  the lines are rewritten as the checks prove them (the small-print "TDVNM" for
  IDVNM, O for 0). The name line has no check digit and stays as read.

Both run on each page right after its OCR. A third, `restore_names`, runs once a
paper's fields are extracted: a name field's words take the field's spelling
where only their marks differ, so that the record's text and fields agree.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Mapping
from functools import cache

from config.taxonomy import DOC_TYPES
from pipeline.classify import fold
from pipeline.mrz import parse_td1, proven_lines, td1_start
from pipeline.types import ExtractedField, PageText, Word

#: A part of a title this long or longer is restored on its own ("GIẤY CHỨNG NHẬN");
#: shorter parts ("NHÂN DÂN", "KẾT HÔN") could be a name, so only whole titles count.
MIN_PART_WORDS = 3


def _letters_only(folded: str) -> bool:
    return folded.isascii() and folded.isalpha()


@cache
def _known() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Folded word runs -> their printed spelling, from every capitals title pattern."""
    spellings: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for doc in DOC_TYPES.values():
        for pattern in doc.title_patterns:
            words = tuple(unicodedata.normalize("NFC", pattern).split())
            if pattern != pattern.upper() or not all(_letters_only(fold(w)) for w in words):
                continue
            runs = {words} if len(words) >= 2 else set()
            for size in range(MIN_PART_WORDS, len(words)):
                runs.update(words[i : i + size] for i in range(len(words) - size + 1))
            for run in runs:
                spellings.setdefault(tuple(fold(w) for w in run), set()).add(run)
    return {k: next(iter(v)) for k, v in spellings.items() if len(v) == 1}


def _restore_line(words: list[Word], known: dict[tuple[str, ...], tuple[str, ...]]) -> int:
    longest = max((len(k) for k in known), default=0)
    changed = 0
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 1, -1):
            run = words[i : i + size]
            if not all(w.text == w.text.upper() for w in run):
                continue
            spelling = known.get(tuple(fold(w.text) for w in run))
            if spelling is None:
                continue
            for k, right in enumerate(spelling):
                if run[k].text != right:
                    words[i + k] = dataclasses.replace(run[k], text=right)
                    changed += 1
            i += size
            break
        else:
            i += 1
    return changed


def _by_line(page: PageText) -> dict[int, list[int]]:
    lines: dict[int, list[int]] = {}
    for index, word in enumerate(page.words):
        lines.setdefault(word.line, []).append(index)
    return lines


def restore_text(page: PageText) -> int:
    """Restore the page's known text in place: title words, then MRZ lines; how many changed."""
    return restore_titles(page) + restore_mrz(page)


def restore_mrz(page: PageText) -> int:
    """Rewrite an MRZ's first two lines where their check digits prove them; lines changed."""
    grouped = _by_line(page)
    keys = sorted(grouped)
    texts = ["".join(page.words[i].text for i in grouped[k]) for k in keys]
    start = td1_start(texts)
    mrz = parse_td1(texts[start : start + 3]) if start is not None else None
    if start is None or mrz is None:
        return 0
    changed = 0
    keep: set[int] = set(range(len(page.words)))
    for offset, proven in enumerate(proven_lines(texts[start : start + 2], mrz)):
        indices = grouped[keys[start + offset]]
        if proven is None or (len(indices) == 1 and page.words[indices[0]].text == proven):
            continue
        # One word for the line, over the boxes of the pieces OCR split it into.
        pieces = [page.words[i] for i in indices]
        left, top = min(w.left for w in pieces), min(w.top for w in pieces)
        page.words[indices[0]] = dataclasses.replace(
            pieces[0],
            text=proven,
            left=left,
            top=top,
            width=max(w.left + w.width for w in pieces) - left,
            height=max(w.top + w.height for w in pieces) - top,
            confidence=min(w.confidence for w in pieces),
        )
        keep.difference_update(indices[1:])
        changed += 1
    page.words[:] = [w for i, w in enumerate(page.words) if i in keep]
    return changed


def restore_titles(page: PageText) -> int:
    """Respell the page's title words in place; how many words changed."""
    known = _known()
    changed = 0
    for indices in _by_line(page).values():
        words = [page.words[i] for i in indices]
        changed += _restore_line(words, known)
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
