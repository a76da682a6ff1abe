"""Restore a chip card's machine-readable zone: what its check digits and fields prove.

The zone's first two lines carry check digits; where they hold, the lines are
rewritten as the checks prove them (the small-print "TDVNM" for IDVNM, O for 0),
right after the page's OCR. Once the paper's fields are extracted, the lines are
rewritten as the card's sure fields print them, where the line as read is within
two edits of that (`restore_mrz_fields`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from rapidfuzz.distance import Levenshtein

from pipeline.classify import fold
from pipeline.mrz import (
    FILLER_TAIL,
    first_line,
    name_line,
    parse_td1,
    proven_lines,
    repaired_lines,
    second_line,
    td1_start,
)
from pipeline.names import is_syllable
from pipeline.types import ExtractedField, PageText
from pipeline.weigh import CONFIRMED_BASE


def _zone(page: PageText) -> tuple[list[list[int]], list[str]] | None:
    """The word indices and texts of the page's MRZ lines (three), or None."""
    grouped = page.line_indices()
    lines = [grouped[k] for k in sorted(grouped)]
    texts = ["".join(page.words[i].text for i in line) for line in lines]
    start = td1_start(texts)
    if start is None:
        return None
    return lines[start : start + 3], texts[start : start + 3]


def _rewrite(page: PageText, indices: list[int], text: str) -> list[int]:
    """One word for the line, over the boxes of the pieces OCR split it into; the rest to drop."""
    pieces = [page.words[i] for i in indices]
    left, top = min(w.left for w in pieces), min(w.top for w in pieces)
    page.words[indices[0]] = dataclasses.replace(
        pieces[0],
        text=text,
        left=left,
        top=top,
        width=max(w.left + w.width for w in pieces) - left,
        height=max(w.top + w.height for w in pieces) - top,
        confidence=min(w.confidence for w in pieces),
    )
    return indices[1:]


def _apply(page: PageText, lines: list[list[int]], texts: list[str | None]) -> int:
    """Rewrite the zone lines that have a new text; how many changed."""
    drop: set[int] = set()
    changed = 0
    for indices, text in zip(lines, texts, strict=False):
        if text is None or (len(indices) == 1 and page.words[indices[0]].text == text):
            continue
        drop.update(_rewrite(page, indices, text))
        changed += 1
    page.words[:] = [w for i, w in enumerate(page.words) if i not in drop]
    return changed


def restore_mrz(page: PageText) -> int:
    """Rewrite an MRZ's first two lines where their check digits prove them; lines changed."""
    zone = _zone(page)
    mrz = parse_td1(zone[1]) if zone is not None else None
    if zone is None or mrz is None:
        return 0
    return _apply(page, zone[0], list(proven_lines(zone[1][:2], mrz)))


#: A zone line is rewritten from the paper's sure fields only when the line as read is
#: this close to what the fields say (edits, after the format's own repairs): a misread
#: digit or letter or two, never another person's line.
MRZ_FIELD_EDITS = 2


def _name_for_zone(
    read: str, fields: Mapping[str, ExtractedField], sure: Mapping[str, str]
) -> str | None:
    """The holder's name to write line 3 from: a sure one, or one that mends a non-word.

    A name printed on the card but read once is still trusted over the zone where the
    zone's line holds a word no Vietnamese syllable could be ("MTNH") and every word of
    the printed name is one.
    """
    if "full_name" in sure:
        return sure["full_name"]
    f = fields.get("full_name")
    if f is None or not f.value:
        return None
    read_words = [w for w in read.split("<") if w]
    if all(is_syllable(w) for w in read_words):
        return None
    return f.value if all(is_syllable(w) for w in f.value.split()) else None


def restore_mrz_fields(pages: list[PageText], fields: Mapping[str, ExtractedField]) -> int:
    """A chip card's zone lines rewritten from the fields the paper is sure of.

    Line 1 holds the ID number, line 2 the birth and expiry dates and the sex (each
    with a check digit, and a composite one over both lines), line 3 the name (no check
    digit). Where a line's checks fail (a 0 read as 9 in small print) or its name has a
    misread letter ("HAT" for HAI), and the paper's own fields for it are sure
    (confirmed by the QR code, the printed text or a second read: confidence 0.9 or
    more), the line is written as those fields print it, provided the line as read is
    within two edits of that. Line 1's last three characters belong to no field: they
    are kept as read, or taken as filler where that makes the composite digit as read
    hold (a "<" read as a digit). Line 3 is also written from a name read once where
    the zone's name is no word (`_name_for_zone`). Lines changed.
    """
    sure = {k: f.value for k, f in fields.items() if f.confidence >= CONFIRMED_BASE}
    changed = 0
    for page in pages:
        zone = _zone(page)
        if zone is None:
            continue
        reads = repaired_lines(*zone[1])
        if reads[0][2:5] != "VNM":
            continue
        wants = _zone_from_fields(reads, fields, sure)
        texts = [
            want if want and Levenshtein.distance(read, want) <= MRZ_FIELD_EDITS else None
            for want, read in zip(wants, reads, strict=True)
        ]
        changed += _apply(page, zone[0], texts)
    return changed


def _zone_from_fields(
    reads: tuple[str, str, str], fields: Mapping[str, ExtractedField], sure: Mapping[str, str]
) -> list[str | None]:
    """The three lines as the fields print them (None where the fields do not say)."""

    def second(first: str | None) -> str | None:
        if not all(k in sure for k in ("date_of_birth", "sex", "expiry_date")):
            return None
        return second_line(
            first,
            reads[1],
            date_of_birth=sure["date_of_birth"],
            sex=sure["sex"],
            expiry_date=sure["expiry_date"],
            nationality="VNM",
        )

    wants: list[str | None] = [None, None, None]
    if "personal_id" in sure:
        for tail in (reads[0][27:30], FILLER_TAIL):
            one = first_line(reads[0], sure["personal_id"], tail)
            two = second(one)
            if two is not None and two[29] == reads[1][29]:
                wants[0], wants[1] = one, two
                break
        else:
            wants[0] = first_line(reads[0], sure["personal_id"])
            wants[1] = second(wants[0])
    else:
        wants[1] = second(None)
    name = _name_for_zone(reads[2], fields, sure)
    if name:
        words = [fold(w) for w in name.split()]
        wants[2] = name_line(words[0], words[1:]) if words else None
    return wants
