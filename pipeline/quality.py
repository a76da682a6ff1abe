"""Page quality: the measures an operator needs to decide on a re-scan.

Preprocessing rescues skew, turns, shading, noise and low resolution; it cannot
rescue text that is smeared, drowned in the dark, or missing past the paper's
edge. These measures are taken on the analysis copy (small, cheap) and the
thresholds were calibrated on rendered pages: every readable degradation in
``tests/degrade.py`` stays unflagged, while a page blurred past what Tesseract reads
(gaussian radius ~4.5 px at 300 dpi), darker than 30 % of white, or cut through its
text lines is flagged.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Edge spread over x-height above which letters merge: measured 0.04-0.09 on every
#: readable degradation and up to 0.11 at blur radius 3.5 (still read); Tesseract's CER
#: jumps to 10-35 % at 0.12-0.15 (radius 4.5) and to 30-100 % at 0.16-0.19 (radius 6).
MAX_EDGE_SPREAD = 0.12
#: Paper grey below this (0..1) leaves too few levels between ink and paper.
MIN_PAPER_LEVEL = 0.3
#: Ink-to-paper spread below this (0..1) is too faint to binarise reliably.
MIN_CONTRAST = 0.18
#: Text whose x-height-ish core is under this many pixels cannot be enlarged back.
MIN_TEXT_HEIGHT_PX = 9.0
#: Share of text-sized marks touching the paper's edge beyond which text is cut off
#: (0 on every readable render; 0.004-0.02 with a card or page cut through its lines).
MAX_EDGE_TEXT_SHARE = 0.002
#: x-height-ish core of 12 pt body text, in inches (DejaVu/Times core about 0.5 em).
BODY_CORE_INCHES = 12 / 72 * 0.62


def grey_percentile(grey: np.ndarray, q: float) -> float:
    """Percentile of a uint8 image from its histogram: a sort of the page costs ten times more.

    OpenCV's histogram: numpy's bincount widens every pixel to 64 bits first (ten times slower).
    """
    return percentile_of(histogram(grey), q)


def histogram(grey: np.ndarray) -> np.ndarray:
    """Counts of the 256 grey levels of a uint8 image."""
    image = np.ascontiguousarray(grey)
    return cv2.calcHist([image], [0], None, [256], [0, 256]).ravel().astype(np.int64)


def percentile_of(hist: np.ndarray, q: float) -> float:
    """Percentile from a 256-level histogram (the same answer as grey_percentile)."""
    counts = hist.cumsum()
    return float(np.searchsorted(counts, q / 100 * (counts[-1] - 1), side="right"))


def tone(small: np.ndarray, ink: np.ndarray) -> tuple[float, float, float]:
    """Paper level, contrast between ink and paper, mean brightness; all 0..1."""
    paper = grey_percentile(small, 90) / 255
    marks = small[ink > 0]
    ink_level = float(np.median(marks)) / 255 if marks.size else paper
    return paper, max(0.0, paper - ink_level), float(small.mean()) / 255


def sharpness(small: np.ndarray) -> float:
    """Variance of the Laplacian of the analysis copy: the conventional blur figure."""
    return float(cv2.Laplacian(small, cv2.CV_32F).var())


def edge_spread(small: np.ndarray, ink: np.ndarray) -> float:
    """Width of ink edges in pixels: the full ink step over the steepest gradients at text.

    A step blurred by a gaussian of sigma s has a peak gradient of step/(2.5 s), so this
    estimates s whatever the scan's contrast; the step is taken from the darkest ink,
    which blur lightens far less than it flattens the edges.
    """
    if not ink.any():
        return float("inf")
    denoised = cv2.medianBlur(small, 3)
    gx = cv2.Sobel(denoised, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(denoised, cv2.CV_32F, 0, 1, ksize=3) / 8
    magnitude = cv2.magnitude(gx, gy)
    near = cv2.dilate(ink, np.ones((3, 3), np.uint8)) > 0
    steep = float(np.percentile(magnitude[near], 95))
    return ink_step(small) / (2.5 * max(steep, 1e-3))


def ink_step(small: np.ndarray) -> float:
    """Grey levels from the darkest ink to the paper: the full height of an ink edge."""
    hist = histogram(small)
    return max(0.0, percentile_of(hist, 90) - percentile_of(hist, 0.5))


def band_edge_width(smooth: np.ndarray, band_rows: int, step: float) -> float:
    """Gaussian sigma of the ink edges, in the pixels of ``smooth``; 0 without edges.

    ``smooth`` is a stack of median-filtered bands of ``band_rows`` full-resolution rows
    (the analysis copy's downscale hides a blur of one or two pixels): the same estimate
    as ``edge_spread``, over every pixel whose gradient is a tenth of the ink step, rows
    at the seams between bands left out (a seam is a false sharp edge). A rendered page
    measures 0.75-0.9 px, a gaussian blur of radius 0.8-1.6 px 1.1-1.6 px.
    """
    if step <= 0:
        return 0.0
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8
    magnitude = cv2.magnitude(gx, gy)
    edge = magnitude > 0.1 * step
    for seam in range(0, smooth.shape[0] + 1, band_rows):
        edge[max(0, seam - 2) : seam + 2] = False
    if np.count_nonzero(edge) < 100:
        return 0.0
    return step / (2.5 * float(np.percentile(magnitude[edge], 95)))


def edge_text_share(ink: np.ndarray, x_height: float) -> float:
    """Share of text-sized marks that touch the border of the (cropped) page.

    Only strips along the four edges are labelled (a glyph touching an edge lies within
    a few x-heights of it), and their count is set against the page's text-like marks.
    """
    if x_height <= 0 or not ink.any():
        return 0.0
    h, w = ink.shape
    reach = min(round(4 * x_height), h // 2, w // 2)
    strips = (ink[:reach], ink[h - reach :], ink[:, :reach].T, ink[:, w - reach :].T)
    touching = 0
    for i, strip in enumerate(strips):
        _, _, stats, _ = cv2.connectedComponentsWithStats(
            np.ascontiguousarray(strip), connectivity=8
        )
        size = stats[1:, cv2.CC_STAT_HEIGHT if i < 2 else cv2.CC_STAT_WIDTH]
        top = stats[1:, cv2.CC_STAT_TOP]
        bottom = top + stats[1:, cv2.CC_STAT_HEIGHT]
        at_edge = (top <= 1) if i % 2 == 0 else (bottom >= strip.shape[0] - 1)
        textlike = (size >= 0.5 * x_height) & (size <= 3 * x_height)
        touching += int((at_edge & textlike).sum())
    # Text-like marks on the page: ink area over the area of one x-height square glyph.
    glyphs = float(np.count_nonzero(ink)) / max(1.0, 0.35 * x_height * x_height)
    return touching / max(1.0, glyphs)


def estimated_dpi(text_height_px: float) -> int:
    """Resolution implied by the text, assuming ordinary 12 pt body text."""
    return round(text_height_px / BODY_CORE_INCHES) if text_height_px > 0 else 0


def rescan_reasons(
    *,
    paper: float,
    contrast: float,
    spread_per_x: float,
    text_height_px: float,
    edge_share: float,
    has_text: bool,
) -> list[str]:
    """Why no preprocessing can save this page; empty when it reads."""
    reasons: list[str] = []
    if paper < MIN_PAPER_LEVEL:
        reasons.append("too_dark")
    elif contrast < MIN_CONTRAST:
        reasons.append("low_contrast")
    if has_text:
        if spread_per_x > MAX_EDGE_SPREAD:
            reasons.append("too_blurred")
        if text_height_px < MIN_TEXT_HEIGHT_PX:
            reasons.append("low_resolution")
        if edge_share > MAX_EDGE_TEXT_SHARE:
            reasons.append("cut_off")
    return reasons
