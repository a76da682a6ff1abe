"""Weigh extracted values: second reads, cross-checks and calibrated confidences.

A confidence of 0.9 or more is a promise that the value is right, so it is only
given to a value that something confirms: a second read of the field's crop
(single-line mode, the validator's characters only) agreeing with the first, a
date printed twice (in figures and in words), or the machine-readable parts of
a chip card (pipeline.reconcile). A value read once stays below 0.9 however
sure the OCR was; a value that fails its validator or a cross-check (an ID
number against the birth date and sex beside it, dates out of order) drops
below the review threshold. A value that fails and whose second read passes is
replaced by the second read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.fields import WHITELISTS, check_personal_id, date_order, normalise, valid
from pipeline.types import ExtractedField, Reread, Word

#: A value read once, however confidently.
SINGLE_READ_CAP = 0.85
#: A value that fails its validator or a cross-check: below the review threshold (0.6).
FAILED_CAP = 0.45
#: Both reads must be at least this confident for their agreement to confirm a value.
CONFIRM_FLOOR = 0.5
#: Confirmed values range from CONFIRMED_BASE to CONFIRMED_BASE + CONFIRMED_SPAN.
CONFIRMED_BASE = 0.9
CONFIRMED_SPAN = 0.08
#: Validators whose fields get a second read (free text is too long for one line).
REREAD_VALIDATORS = frozenset({*WHITELISTS, "name", "sex"})


@dataclass
class Candidate:
    """A value read for one field, with the words it came from."""

    value: str  # normalised
    raw: str  # as read
    confidence: float  # OCR confidence of its least confident word
    words: tuple[Word, ...] = ()
    page: int = 0
    confirmed: bool = False  # another reading on the paper agrees (a date in words)
    #: Cross-check inputs of this field when they are not the paper's own (a spouse's ID).
    context: dict[str, str | None] = field(default_factory=dict)


@dataclass
class _Weighed:
    value: str
    confidence: float
    ok: bool
    confirmed: bool
    alternatives: dict[str, float]  # each reading and its confidence


def _box(words: tuple[Word, ...]) -> tuple[int, int, int, int]:
    left = min(w.left for w in words)
    top = min(w.top for w in words)
    right = max(w.left + w.width for w in words)
    bottom = max(w.top + w.height for w in words)
    return left, top, right - left, bottom - top


def second_read(c: Candidate, validator: str, reread: Reread) -> tuple[str | None, float]:
    """The field's crop read again as one line: normalised value and confidence."""
    whitelist = WHITELISTS.get(validator, "")
    if validator == "date" and not re.search(r"\d\s*[/.-]\s*\d", c.raw):
        whitelist = ""  # "ngày 5 tháng 3 năm 2020" needs its letters
    if validator == "land_serial":
        whitelist += " "
    got = reread(c.page, _box(c.words), whitelist)
    if not got:
        return None, 0.0
    text, conf = got
    return normalise(validator, text), conf


def _first_pass(
    c: Candidate, validator: str, reread: Reread | None, trusted: str | None
) -> _Weighed:
    ok = valid(validator, c.value)
    w = _Weighed(c.value, c.confidence, ok, c.confirmed, {c.value: c.confidence})
    if trusted is not None and trusted == c.value:
        w.confirmed = True
        return w
    if reread is None or validator not in REREAD_VALIDATORS or not c.words:
        return w
    second, conf = second_read(c, validator, reread)
    if second is None:
        return w
    if second == c.value:
        w.confirmed = w.confirmed or min(c.confidence, conf) >= CONFIRM_FLOOR
        w.confidence = max(c.confidence, conf)
    elif valid(validator, second):
        w.alternatives[second] = conf
        if not ok or second == trusted:  # the second read is the one that holds
            w.value, w.confidence, w.ok = second, conf, True
        else:  # two readable values: a coin toss until a cross-check decides
            w.confidence = min(w.confidence, FAILED_CAP)
    return w


def _check_ids(
    out: dict[str, _Weighed],
    found: dict[str, Candidate],
    validators: dict[str, str],
    trusted: dict[str, str],
) -> None:
    """Each ID number against the birth date and sex beside it; a passing reading wins."""

    def value(name: str) -> str | None:
        return trusted.get(name) or (out[name].value if name in out else None)

    for name, validator in validators.items():
        if validator != "personal_id" or name not in out:
            continue
        w = out[name]
        ctx = found[name].context
        dob, sex = (
            (ctx.get("date_of_birth"), ctx.get("sex"))
            if ctx
            else (
                value("date_of_birth"),
                value("sex"),
            )
        )
        passing = [a for a in w.alternatives if check_personal_id(a, dob, sex)]
        if w.value in passing:
            if not ctx and w.confirmed and "sex" in out and sex:
                out["sex"].confirmed = True  # a confirmed number carries the sex digit
            continue
        if passing:  # a second read that fits the paper: take it, unconfirmed
            w.value, w.ok, w.confirmed = passing[0], True, False
            w.confidence = min(w.alternatives[passing[0]], SINGLE_READ_CAP)
            continue
        w.ok = False
        for other in ("date_of_birth", "sex") if not ctx else ():
            if other in out and not out[other].confirmed:
                out[other].ok = False


def _final(w: _Weighed, validator: str) -> float:
    if not w.ok:
        return min(w.confidence, FAILED_CAP)
    if w.confirmed:
        return CONFIRMED_BASE + CONFIRMED_SPAN * min(max(w.confidence, 0.0), 1.0)
    return min(w.confidence, SINGLE_READ_CAP)


def weigh(
    found: dict[str, Candidate],
    validators: dict[str, str],
    reread: Reread | None,
    trusted: dict[str, str],
) -> dict[str, ExtractedField]:
    """Calibrated fields from candidates; ``trusted`` values (QR, MRZ) guide the second reads."""
    out = {
        name: _first_pass(c, validators.get(name, "text"), reread, trusted.get(name))
        for name, c in found.items()
    }
    _check_ids(out, found, validators, trusted)
    dates = {k: w.value for k, w in out.items() if validators.get(k) == "date" and w.ok}
    dates.update({k: v for k, v in trusted.items() if validators.get(k) == "date"})
    for bad in date_order(dates):
        if bad in out and trusted.get(bad) != out[bad].value:
            out[bad].ok = False
    return {
        name: ExtractedField(w.value, round(_final(w, validators.get(name, "text")), 3))
        for name, w in out.items()
    }
