"""Titles stage: give a printed title back the diacritics OCR got wrong.

Bold capitals stack two marks over one letter (Ấ, Ẩ, Ứ), and Tesseract's most
common residual error on the accuracy corpus was reading one of them as another:
"GIẦY" for GIẤY (8 times in 57 pages), "CHÚNG", "NHÂN", "CAN CƯƠC", "SỐ HỘ KHAU".
The titles themselves are known: they are the taxonomy's title patterns, as a
re-typist at the desk knows the printed forms. So where a run of capitals on a
page is, letter for letter without diacritics, a known title (or three or more
words of one), its words take the title's spelling. Nothing else changes: a run
whose base letters differ, a word with punctuation in it, or text in lower case
is left as read, and a fold that two titles spell differently is never used.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from functools import cache

from config.taxonomy import DOC_TYPES
from pipeline.classify import fold
from pipeline.types import PageText, Word

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


def restore_titles(page: PageText) -> int:
    """Respell the page's title words in place; how many words changed."""
    known = _known()
    lines: dict[int, list[int]] = {}
    for index, word in enumerate(page.words):
        lines.setdefault(word.line, []).append(index)
    changed = 0
    for indices in lines.values():
        words = [page.words[i] for i in indices]
        changed += _restore_line(words, known)
        for i, word in zip(indices, words, strict=True):
            page.words[i] = word
    return changed
