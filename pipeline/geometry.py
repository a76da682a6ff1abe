"""Page geometry: find the paper, its quarter turn, its skew and its text height.

Everything here is measured on a small grey copy of the page (the analysis copy)
because the answers do not need full resolution and OSD on every page would
cost as much as the OCR itself. The findings are composed into one transform
that the preprocess stage applies once to the full-size page.

Orientation comes from the text itself: the direction in which the ink's
projection profile is sharpest gives the line direction and the skew; whether
a page is upright or upside down comes from the asymmetry of each line, since
ascenders, capitals and (in Vietnamese above all) diacritics put far more ink
above the x-height band than descenders put below the baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Longer side of the analysis copy; text lines stay several pixels tall at this size.
ANALYSIS_SIDE = 1600
#: Largest skew searched, in degrees either way.
MAX_SKEW = 15.0
#: Below this |asymmetry| the up/down answer is a guess and OSD is asked instead.
MIN_ASYMMETRY = 0.08
#: Below this ratio of line-direction sharpness the horizontal/vertical answer is a guess.
MIN_AXIS_RATIO = 1.25
#: The paper must stand out from the desk or border by this much grey across its edge.
MIN_EDGE_STEP = 35.0
#: Most points kept for the profile searches (a random subsample beyond that).
MAX_POINTS = 40_000
#: Dots of this many analysis pixels or fewer with no bigger ink within SPECK_REACH
#: pixels are toner, not marks: on a sparse photocopied page they filled the line
#: profile's gaps and turned it upside down (asymmetry 0.10 the wrong way; 0.41 the
#: right way without them). A diacritic's dot sits closer than that to its letter.
#: Only the up/down answer leaves them out.
SPECK_AREA, SPECK_REACH = 2, 5
#: A card's short centred lines (a title, a number under it) hold little ink per row
#: and break into slivers of core a few rows tall; where these outnumber the lines,
#: the median core is a sliver (5 px where the lines are 27: a 300 dpi legacy ID card
#: was read as 61 dpi, scaled up 3x and flagged for a re-scan). Core runs carrying at
#: least LINE_INK_SHARE of the heaviest run's ink are lines; runs under SLIVER_SHARE of
#: their median height are slivers, and when they are half the runs or more, the text
#: height is the median of the rest. (A page blurred past reading merges its lines
#: into a few tall runs beside some slivers: its median stays as it was.)
LINE_INK_SHARE, SLIVER_SHARE = 0.2, 1 / 3

Quad = np.ndarray  # 4x2 float32: top-left, top-right, bottom-right, bottom-left


@dataclass(frozen=True)
class Paper:
    """Where the paper lies in the analysis copy."""

    quad: Quad  # corners in analysis-copy pixels
    size: tuple[int, int]  # width, height of the flattened paper, analysis pixels
    warp: bool  # True: a perspective warp; False: an axis-aligned crop does


@dataclass(frozen=True)
class Layout:
    """What the text says about the page's geometry."""

    turn: int  # clockwise quarter turn that makes the page upright
    skew: float  # degrees the lines slope down to the right after the turn
    axis_ratio: float  # sharpness of the chosen line direction over the other one
    asymmetry: float  # ink above lines minus below, over both; near 0 means unsure
    x_height: float  # median core height of text lines, analysis pixels (0: no text)
    line_count: int

    @property
    def sure_axis(self) -> bool:
        return self.axis_ratio >= MIN_AXIS_RATIO

    @property
    def sure_direction(self) -> bool:
        return abs(self.asymmetry) >= MIN_ASYMMETRY


def analysis_scale(width: int, height: int) -> float:
    return min(1.0, ANALYSIS_SIDE / max(width, height))


def _order(points: np.ndarray) -> Quad:
    """Corners in the order top-left, top-right, bottom-right, bottom-left."""
    pts = points.reshape(-1, 2).astype(np.float32)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    return np.array(
        [pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32
    )


def find_paper(small: np.ndarray) -> Paper | None:
    """The paper's quad when a darker desk or border surrounds it; None for a plain scan.

    Text is closed away first, so the only large dark areas left are the desk, the
    scanner's lid edge or a photocopier's bands; the bright region must meet them
    at a real step in grey, not at a soft shading gradient.
    """
    h, w = small.shape
    k = max(9, round(max(h, w) / 100)) | 1
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    frame = np.concatenate([closed[0], closed[-1], closed[:, 0], closed[:, -1]])
    if int(frame.min()) >= 0.6 * int(closed.max()):  # paper-bright all round: nothing to find
        return None
    _, bright = cv2.threshold(closed, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[best, cv2.CC_STAT_AREA] < 0.2 * h * w:
        return None
    mask = (labels == best).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    if cv2.contourArea(hull) > 0.995 * h * w:
        return None
    filled = np.zeros_like(mask)
    cv2.fillConvexPoly(filled, hull, 1)
    ring = np.ones((k, k), np.uint8)
    inside = filled.astype(bool) & ~cv2.erode(filled, ring).astype(bool)
    outside = cv2.dilate(filled, ring).astype(bool) & ~filled.astype(bool)
    if not inside.any() or not outside.any():
        return None
    if float(closed[inside].mean()) - float(closed[outside].mean()) < MIN_EDGE_STEP:
        return None
    quad = _quad_of(hull)
    top_w = float(np.linalg.norm(quad[1] - quad[0]))
    bottom_w = float(np.linalg.norm(quad[2] - quad[3]))
    left_h = float(np.linalg.norm(quad[3] - quad[0]))
    right_h = float(np.linalg.norm(quad[2] - quad[1]))
    size = (round(max(top_w, bottom_w)), round(max(left_h, right_h)))
    x, y, bw, bh = cv2.boundingRect(quad.astype(np.int32))
    box = np.array([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]], np.float32)
    warp = float(np.abs(quad - box).max()) > 0.01 * max(h, w)
    if not warp:
        return Paper(box, (bw, bh), False)
    return Paper(quad, size, True)


def _quad_of(hull: np.ndarray) -> Quad:
    """Four corners of a convex hull: a polygon fit, else its minimum-area rectangle."""
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            return _order(approx)
    return _order(cv2.boxPoints(cv2.minAreaRect(hull)))


def ink_mask(small: np.ndarray) -> np.ndarray:
    """Dark marks on the flattened analysis copy, minus rules, frames and photos."""
    h, w = small.shape
    k = max(9, round(max(h, w) / 80)) | 1
    background = cv2.dilate(small, np.ones((k, k), np.uint8))
    flat = cv2.divide(small, np.maximum(background, 1), scale=255)
    _, ink = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if float(np.count_nonzero(ink)) > 0.4 * h * w:  # no real ink: Otsu split the paper
        return np.zeros_like(ink)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    limit = 0.04 * max(h, w)
    keep = (
        (stats[:, cv2.CC_STAT_WIDTH] <= limit)
        & (stats[:, cv2.CC_STAT_HEIGHT] <= limit)
        & (stats[:, cv2.CC_STAT_AREA] >= 2)
    )
    keep[0] = False
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _without_specks(ink: np.ndarray) -> np.ndarray:
    """The ink less dots of SPECK_AREA pixels or fewer with no bigger ink within reach."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    dots = area <= SPECK_AREA
    dots[0] = False
    if not dots.any():
        return ink
    bigger = np.where((labels > 0) & ~dots[labels], 255, 0).astype(np.uint8)
    reach = cv2.dilate(bigger, np.ones((2 * SPECK_REACH + 1,) * 2, np.uint8))
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    lone = dots & (reach[y, x] == 0)
    return np.where(lone[labels], 0, ink).astype(np.uint8)


def _points(ink: np.ndarray, seed: int = 0) -> np.ndarray:
    ys, xs = np.nonzero(ink)
    pts = np.stack([xs, ys], axis=1).astype(np.float32)
    if len(pts) > MAX_POINTS:
        pts = pts[np.random.default_rng(seed).choice(len(pts), MAX_POINTS, replace=False)]
    return pts


def _sharpness(pts: np.ndarray, angle: float) -> float:
    """How peaked the profile across lines of direction ``angle`` (degrees) is."""
    a = math.radians(angle)
    offsets = pts[:, 1] * math.cos(a) - pts[:, 0] * math.sin(a)
    hist = np.bincount((offsets - offsets.min()).astype(np.int64))
    return float(np.dot(hist, hist))


def _best_angle(pts: np.ndarray, centre: float) -> tuple[float, float]:
    """Best line direction within MAX_SKEW of ``centre``: coarse grid, then refined."""
    grid = np.arange(centre - MAX_SKEW, centre + MAX_SKEW + 0.01, 1.0)
    scores = [_sharpness(pts, a) for a in grid]
    best = float(grid[int(np.argmax(scores))])
    for step in (0.25, 0.05):
        fine = np.arange(best - 4 * step, best + 4 * step + step / 2, step)
        fine_scores = [_sharpness(pts, a) for a in fine]
        best = float(fine[int(np.argmax(fine_scores))])
    return best, _sharpness(pts, best)


def turn_points(pts: np.ndarray, turn: int, width: int, height: int) -> np.ndarray:
    """Coordinates of points after turning a width x height image ``turn`` degrees clockwise."""
    x, y = pts[:, 0], pts[:, 1]
    if turn == 90:
        return np.stack([height - 1 - y, x], axis=1)
    if turn == 180:
        return np.stack([width - 1 - x, height - 1 - y], axis=1)
    if turn == 270:
        return np.stack([y, width - 1 - x], axis=1)
    return pts


def _line_profile(pts: np.ndarray, skew: float) -> np.ndarray:
    """Ink per row once lines sloping by ``skew`` degrees are made horizontal."""
    a = math.radians(skew)
    rows = pts[:, 1] * math.cos(a) - pts[:, 0] * math.sin(a)
    return np.bincount((rows - rows.min()).astype(np.int64)).astype(np.float32)


def _asymmetry(profile: np.ndarray) -> tuple[float, float, int]:
    """(ink above core bands - ink below) / both, median core height, and line count."""
    if profile.size < 8 or profile.max() <= 0:
        return 0.0, 0.0, 0
    smooth = np.convolve(profile, np.ones(3, np.float32) / 3, mode="same")
    core = smooth >= 0.35 * float(np.percentile(smooth[smooth > 0], 90))
    edges = np.flatnonzero(np.diff(core.astype(np.int8)))
    starts = list(edges[::2] + 1) if core[0] == 0 else [0, *list(edges[1::2] + 1)]
    ends = list(edges[1::2] + 1) if core[0] == 0 else list(edges[::2] + 1)
    above = below = 0.0
    heights: list[int] = []
    masses: list[float] = []
    for a, b in zip(starts, ends, strict=False):
        c = b - a
        if c < 2:
            continue
        reach = max(1, round(0.6 * c))
        above += float(smooth[max(0, a - reach) : a].sum())
        below += float(smooth[b : b + reach].sum())
        heights.append(c)
        masses.append(float(smooth[a:b].sum()))
    if not heights or above + below <= 0:
        return 0.0, 0.0, len(heights)
    return (above - below) / (above + below), _core_height(heights, masses), len(heights)


def _core_height(heights: list[int], masses: list[float]) -> float:
    """Median core run height, slivers of short lines left out where they are the most."""
    top = max(masses)
    lines = [c for c, m in zip(heights, masses, strict=True) if m >= LINE_INK_SHARE * top]
    least = SLIVER_SHARE * float(np.median(lines))
    rest = [c for c in heights if c >= least]
    if 2 * (len(heights) - len(rest)) >= len(heights):
        return float(np.median(rest))
    return float(np.median(heights))


def measure_layout(ink: np.ndarray) -> Layout:
    """Quarter turn, skew and text height from the ink of an analysis copy."""
    height, width = ink.shape
    pts = _points(ink)
    if len(pts) < 200:
        return Layout(0, 0.0, 0.0, 0.0, 0.0, 0)
    horizontal, h_score = _best_angle(pts, 0.0)
    vertical, v_score = _best_angle(pts, 90.0)
    if h_score >= v_score:
        base, skew, ratio = 0, horizontal, h_score / max(v_score, 1.0)
    else:
        base, skew, ratio = 90, vertical - 90.0, v_score / max(h_score, 1.0)
    turned = turn_points(pts, base, width, height)
    _, x_height, lines = _asymmetry(_line_profile(turned, skew))
    # Up or down from the ink less toner dots (x-height and lines as calibrated, with them).
    marks = _points(_without_specks(ink))
    asym = _asymmetry(_line_profile(turn_points(marks, base, width, height), skew))[0]
    # A half turn keeps the lines' slope, so the skew holds for either answer.
    turn = base if asym >= 0 else (base + 180) % 360
    return Layout(turn, skew, ratio, abs(asym), x_height, lines)
