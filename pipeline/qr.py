"""QR code on chip ID cards: where it decodes, it is ground truth.

Payload: ``ID number|old ID number|full name|ddMMyyyy birth|sex|address|ddMMyyyy issue``.
Decoding costs ~0.3 s on a card-sized page and ~1 s on A4, so the pipeline asks
only on pages that look like a card's back (an MRZ was read).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class CardQr:
    personal_id: str
    old_id: str | None
    full_name: str
    date_of_birth: str | None  # ISO
    sex: str | None  # male / female
    address: str | None
    issue_date: str | None  # ISO


def _iso(ddmmyyyy: str) -> str | None:
    if not re.fullmatch(r"\d{8}", ddmmyyyy):
        return None
    return f"{ddmmyyyy[4:]}-{ddmmyyyy[2:4]}-{ddmmyyyy[:2]}"


def parse_payload(payload: str) -> CardQr | None:
    """The card's QR text, or None when it is not a Vietnamese ID-card payload."""
    parts = [unicodedata.normalize("NFC", p.strip()) for p in payload.split("|")]
    if len(parts) < 7 or not re.fullmatch(r"\d{12}", parts[0]):
        return None
    sex = {"nam": "male", "nữ": "female", "nu": "female"}.get(parts[4].lower())
    return CardQr(
        personal_id=parts[0],
        old_id=parts[1] or None,
        full_name=parts[2].upper(),
        date_of_birth=_iso(parts[3]),
        sex=sex,
        address=parts[5] or None,
        issue_date=_iso(parts[6]),
    )


def decode_qr(image: Image.Image) -> str | None:
    """The first QR code's text on the page, or None."""
    grey = np.asarray(image.convert("L"))
    # The classic detector is fastest; the ArUco-based one finds codes it misses.
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        try:
            text, _points, _ = detector.detectAndDecode(grey)
        except cv2.error:
            text = ""
        if text:
            return str(text)
    return None
