"""Preprocess stage: turn any scan or photo of a page into what Tesseract reads best.

Order matters and is cheap by design: every decision (paper outline, quarter
turn, skew, text height, shading, noise, quality) is taken on one small grey
analysis copy; the full-size page is then warped once for OCR (grey, flattened,
binarised only when noisy, scaled so text reaches a height Tesseract reads
well) and once for the archive (same geometry, original scale; in colour when
the page has any, else grey, and then one warp serves both when the scale is 1).
Tesseract's OSD, which costs as much as the OCR itself, is asked only when
the text's own shape leaves the turn in doubt.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from pipeline import geometry, quality
from pipeline.ocr import OcrEngine
from pipeline.types import PageQuality, PreparedPage

#: Below this OSD confidence its answer is a guess: the page keeps the cheap answer.
MIN_ORIENTATION_CONFIDENCE = 2.0
#: Scale the OCR copy only when the text's x-height-ish core falls outside this range
#: (pixels). Measured: enlarging 150-200 dpi pages (core 15-21 px) to a 30 px core made
#: Tesseract's CER worse (0.6 % against 0.2 %), so only smaller text is enlarged.
MIN_CORE_PX, TARGET_CORE_PX, MAX_CORE_PX = 14.0, 20.0, 56.0
#: Flatten only when the paper's brightness varies by more than this (grey levels) or is
#: darker than PAPER_WHITE: on white, evenly lit pages the division only added JPEG ringing
#: (CER 0.9 % against 0 % on a card).
UNEVEN_LIGHT, PAPER_WHITE = 30.0, 225.0
#: Deskew below this many degrees is not worth a resampling pass.
MIN_SKEW = 0.2
#: Residual noise (grey levels, sigma) above which median + Otsu beats grey for Tesseract.
NOISE_LIMIT = 4.0
#: Full-resolution rows sampled for noise and blur: this many bands of this many rows.
BANDS, BAND_ROWS = 8, 32
#: Ink edge width (gaussian sigma, input pixels) above which a grey page is sharpened:
#: on the accuracy corpus every page that is not blurred measured 0.73-0.84 px (skewed,
#: JPEG, low-dpi and noisy pages included), out-of-focus pages 1.1-1.6 px and phone photos
#: 0.84-1.16 px. Measured on the input, so an enlarged low-dpi page does not count.
BLURRED_EDGE_PX = 1.0
#: Unsharp mask: gaussian radius in measured edge widths, and strength. On the accuracy
#: corpus's blurred pages sharpening restored the gap between a capitals title's accents
#: and the line above, which Tesseract had merged (one page 17 -> 3 edits, blur 24 -> 8
#: edits in all; phone photos 12 -> 9); radius 1-2 and strength 0.5-1 all did as well.
SHARPEN_RADIUS, SHARPEN_AMOUNT = 1.5, 1.0
#: Specks: ink darker than this, blobs no wider than this share of the x-height, with no
#: other ink within this many x-heights. A grey page is despeckled when the sampled bands
#: hold this many: on 208 corpus pages, 149 held 0-5 and speckled photocopies 27-217.
#: Noisy pages are not concerned: their median filter before Otsu removes specks already.
#: Measured: one speckled, skewed card photocopy 152 -> 120 edits; the full-page pass
#: costs ~0.2 s on an A4 page, so the bands decide. Painting also takes drifts of specks
#: beside no letter: three skewed photocopies of a held-out seed 579 -> 179 edits.
SPECK_INK, SPECK_SIZE, SPECK_CLEARANCE, MIN_SPECKS = 160, 0.2, 0.5, 10
#: A colour counts as ink (a stamp, a signature) with this chroma, in grey levels.
COLOUR_CHROMA = 60
#: A page is grey when under this share of its pixels reach this chroma (JPEG and sensor
#: noise on grey scans stay below ~15): it is carried grey from then on, archive included,
#: which saves two thirds of the archive's warp and about half of its JPEG encode.
GREY_CHROMA, GREY_SHARE = 24, 0.0005


def _grey(rgb: np.ndarray, drop_colour: bool) -> np.ndarray:
    """Grey copy; with ``drop_colour`` the brightest channel, so red and blue ink fade out."""
    if rgb.ndim == 2:
        return rgb
    if drop_colour:
        return np.asarray(cv2.max(cv2.max(rgb[..., 0], rgb[..., 1]), rgb[..., 2]))
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def _colour(grid: np.ndarray) -> tuple[bool, bool]:
    """(any colour at all, colour ink) on a sparse grid of the page's RGB pixels.

    Colour ink (stamps, signatures) is a visible share of strongly coloured pixels;
    a page with no colour at all (a grey scan saved as RGB) can go grey at once.
    """
    r, g, b = grid[..., 0], grid[..., 1], grid[..., 2]
    chroma = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    tinted = float(np.count_nonzero(chroma > GREY_CHROMA)) > GREY_SHARE * chroma.size
    ink = float(np.count_nonzero(chroma > COLOUR_CHROMA)) > 0.001 * chroma.size
    return tinted or ink, ink


def _page_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """The page as (archive source, grey copy for analysis and OCR); one array if grey.

    The colour question is asked on a sparse grid first: a page without colour goes
    grey in Pillow at once, so its RGB pixels never become an array (that copy and a
    second grey conversion cost ~25 ms an A4 page).
    """
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if image.mode == "L":
        grey = np.asarray(image)
        return grey, grey
    width, height = image.size
    step = max(1, min(width, height) // 400)
    size = (max(1, width // step), max(1, height // step))
    tinted, ink = _colour(np.asarray(image.resize(size, Image.Resampling.NEAREST)))
    if not tinted:
        grey = np.asarray(image.convert("L"))
        return grey, grey
    rgb = np.asarray(image)
    return rgb, _grey(rgb, ink)


def _turn_matrix(turn: int, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Clockwise quarter turn of a width x height image as a 3x3 matrix, and the new size."""
    if turn == 90:
        return np.array([[0, -1, height - 1], [1, 0, 0], [0, 0, 1]], np.float64), (height, width)
    if turn == 180:
        m = np.array([[-1, 0, width - 1], [0, -1, height - 1], [0, 0, 1]], np.float64)
        return m, (width, height)
    if turn == 270:
        return np.array([[0, 1, 0], [-1, 0, width - 1], [0, 0, 1]], np.float64), (height, width)
    return np.eye(3), (width, height)


def _deskew_matrix(skew: float, width: int, height: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Rotation that levels lines sloping ``skew`` degrees, on a canvas grown to fit."""
    m = np.vstack([cv2.getRotationMatrix2D((width / 2, height / 2), skew, 1.0), [0, 0, 1]])
    corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], float)
    moved = corners @ m.T
    low, high = moved[:, :2].min(axis=0), moved[:, :2].max(axis=0)
    m[:2, 2] -= low
    size = np.ceil(high - low).astype(int)
    return m, (int(size[0]), int(size[1]))


def _paper_matrix(
    paper: geometry.Paper | None, scale: float, width: int, height: int
) -> tuple[np.ndarray, tuple[int, int]]:
    """Full-size transform taking the paper's outline to an upright rectangle."""
    if paper is None:
        return np.eye(3), (width, height)
    quad = paper.quad / scale
    w, h = (round(paper.size[0] / scale), round(paper.size[1] / scale))
    if not paper.warp:
        m = np.array([[1, 0, -quad[0, 0]], [0, 1, -quad[0, 1]], [0, 0, 1]], np.float64)
        return m, (w, h)
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return cv2.getPerspectiveTransform(quad.astype(np.float32), rect).astype(np.float64), (w, h)


def _warp(image: np.ndarray, m: np.ndarray, size: tuple[int, int], fill: int) -> np.ndarray:
    """One resampling pass; a pure crop or quarter turn is done by slicing instead.

    The identity gives back ``image`` itself: callers never write into the result.
    """
    if size == (image.shape[1], image.shape[0]) and np.array_equal(m, np.eye(3)):
        return image
    border = (fill, fill, fill) if image.ndim == 3 else fill
    if np.allclose(m[2], [0, 0, 1]):
        lin = m[:2, :2]
        exact = np.allclose(np.abs(lin), np.round(np.abs(lin))) and np.allclose(
            m[:2, 2], np.round(m[:2, 2])
        )
        if exact and np.isclose(abs(np.linalg.det(lin)), 1):
            return _exact(image, m, size, fill)
        return cv2.warpAffine(
            image,
            m[:2],
            size,
            flags=cv2.INTER_LINEAR,
            borderValue=border,
        )
    return cv2.warpPerspective(
        image,
        m,
        size,
        flags=cv2.INTER_LINEAR,
        borderValue=border,
    )


def _exact(image: np.ndarray, m: np.ndarray, size: tuple[int, int], fill: int) -> np.ndarray:
    """Crop and quarter turn without interpolation (bit-exact, and far cheaper)."""
    inverse = np.linalg.inv(m)
    w, h = size
    corners = np.array([[0, 0, 1], [w - 1, h - 1, 1]], float) @ inverse.T
    x0, x1 = sorted(round(v) for v in corners[:, 0])
    y0, y1 = sorted(round(v) for v in corners[:, 1])
    src_h, src_w = image.shape[:2]
    out = np.full((y1 - y0 + 1, x1 - x0 + 1, *image.shape[2:]), fill, image.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1 + 1, src_w), min(y1 + 1, src_h)
    if sx0 < sx1 and sy0 < sy1:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    a, b = m[0, 0], m[0, 1]
    if b == 0 and a < 0:
        out = out[::-1, ::-1]
    elif b < 0:  # clockwise quarter turn
        out = np.rot90(out, k=-1)
    elif b > 0:
        out = np.rot90(out, k=1)
    return np.ascontiguousarray(out)


def _trim(
    upright_ink: np.ndarray, scale: float, size: tuple[int, int], x_height: float
) -> tuple[np.ndarray, tuple[int, int]]:
    """Crop the white corners a deskew adds, keeping a margin of a few lines round the ink."""
    ys, xs = np.nonzero(upright_ink)
    if xs.size == 0:
        return np.eye(3), size
    margin = max(4 * x_height, 0.03 * max(upright_ink.shape))
    x0 = max(0.0, (xs.min() - margin) / scale)
    y0 = max(0.0, (ys.min() - margin) / scale)
    x1 = min(float(size[0]), (xs.max() + margin) / scale)
    y1 = min(float(size[1]), (ys.max() + margin) / scale)
    m = np.array([[1, 0, -round(x0)], [0, 1, -round(y0)], [0, 0, 1]], np.float64)
    return m, (round(x1 - x0), round(y1 - y0))


def _needs_flattening(small: np.ndarray, core_px: float) -> bool:
    """Shading or grey paper: the text-free background is uneven or dark."""
    k = max(3, round(2 * core_px)) | 1
    background = cv2.dilate(small, np.ones((k, k), np.uint8))
    hist = quality.histogram(background)
    low = quality.percentile_of(hist, 20)  # above a card's photo or a logo
    high = quality.percentile_of(hist, 98)
    return high - low > UNEVEN_LIGHT or quality.percentile_of(hist, 50) < PAPER_WHITE


def _flatten(grey: np.ndarray, core_px: float) -> np.ndarray:
    """Divide by the paper's own brightness: lamps, vignettes and grey copies go white."""
    factor = 4
    small = cv2.resize(
        grey,
        (max(1, grey.shape[1] // factor), max(1, grey.shape[0] // factor)),
        interpolation=cv2.INTER_AREA,
    )
    k = max(3, round(1.5 * core_px / factor)) | 1
    background = cv2.dilate(small, np.ones((k, k), np.uint8))
    background = cv2.blur(background, (k, k))
    background = cv2.resize(
        background, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    return np.asarray(cv2.divide(grey, np.maximum(background, 1), scale=255))


def _bands(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A few full-resolution bands of rows, stacked, and their 3x3 median."""
    h = grey.shape[0]
    starts = np.linspace(0, max(0, h - BAND_ROWS), BANDS).astype(int)
    sample = np.vstack([grey[y : y + BAND_ROWS] for y in starts])
    return sample, np.asarray(cv2.medianBlur(sample, 3))


def _noise_sigma(sample: np.ndarray, smooth: np.ndarray) -> float:
    """Sensor noise on the paper, from a median filter's residual on a few bands of rows.

    Measured on the input pixels, before resampling smooths it and flattening saturates it;
    from the residual's dark side only, since white paper clips the bright side at 255.
    """
    paper = smooth > 0.75 * quality.grey_percentile(smooth, 90)
    if not paper.any():
        return 0.0
    residual = sample.astype(np.int16)[paper] - smooth[paper]
    return -float(np.percentile(residual, 25)) / 0.674


def _sharpen(grey: np.ndarray, edge_px: float) -> np.ndarray:
    """Unsharp mask matched to the measured blur: steepens smeared ink edges again."""
    soft = cv2.GaussianBlur(grey, (0, 0), SHARPEN_RADIUS * edge_px)
    return np.asarray(cv2.addWeighted(grey, 1 + SHARPEN_AMOUNT, soft, -SHARPEN_AMOUNT, 0))


def _specks(grey: np.ndarray, core_px: float, clusters: bool) -> tuple[np.ndarray, int]:
    """Mask of lone dots, and how many: ink blobs far smaller than a letter, alone.

    A diacritic's dot, a full stop or a colon's other dot sits within half an
    x-height of more ink; toner specks on a photocopy stand alone on the paper. With
    ``clusters``, a speck beside other specks only (toner falls in drifts) is one too;
    a stamp's thin ring also breaks into such dots, so that is for painting a page
    already found speckled, not for finding one.
    """
    ink = (grey < SPECK_INK).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    x, y, w, h, area = (stats[:, i] for i in range(5))
    small = area <= max(4.0, (SPECK_SIZE * core_px) ** 2)
    small[0] = False
    if not small.any():
        return np.zeros_like(ink), 0
    # Other ink in the blob's box widened by the clearance, from an integral image.
    r = max(2, round(SPECK_CLEARANCE * core_px))
    rows, cols = ink.shape
    x0, y0 = np.clip(x - r, 0, cols), np.clip(y - r, 0, rows)
    x1, y1 = np.clip(x + w + r, 0, cols), np.clip(y + h + r, 0, rows)
    # With clusters only letter-sized ink counts; else any ink but the blob's own.
    counted = (~small[labels] & (ink > 0)).astype(np.uint8) if clusters else ink
    total = cv2.integral(counted)
    around = total[y1, x1] - total[y0, x1] - total[y1, x0] + total[y0, x0]
    lone = small & (around == (0 if clusters else area))
    return lone[labels].astype(np.uint8), int(lone.sum())


def _speckled(sample: np.ndarray, core_px: float) -> bool:
    """Whether the sampled bands of rows show toner specks (cheap: ~5 ms a page)."""
    return _specks(sample, core_px, clusters=False)[1] >= MIN_SPECKS


def _despeckle(grey: np.ndarray, core_px: float) -> np.ndarray:
    """The page with its lone specks, and their grey halo, painted paper-white."""
    mask = cv2.dilate(_specks(grey, core_px, clusters=True)[0], np.ones((3, 3), np.uint8))
    out = grey.copy()
    out[mask > 0] = 255
    return out


def _binarise(grey: np.ndarray) -> np.ndarray:
    _, binary = cv2.threshold(cv2.medianBlur(grey, 3), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(binary)


def _orientation(
    layout: geometry.Layout, small: np.ndarray, engine: OcrEngine
) -> tuple[int, float]:
    """The cheap answer, or OSD's on the small upright candidate when that is unsure."""
    if layout.line_count == 0 or (layout.sure_axis and layout.sure_direction):
        return layout.turn, layout.skew
    h, w = small.shape
    m, size = _turn_matrix(layout.turn, w, h)
    candidate = _warp(small, m, size, 255)
    degrees, confidence = engine.orientation(Image.fromarray(candidate))
    degrees %= 360
    if confidence < MIN_ORIENTATION_CONFIDENCE:
        return layout.turn, layout.skew
    if layout.sure_axis and degrees in (90, 270):
        return layout.turn, layout.skew  # OSD disagrees with clear line direction: a guess
    return (layout.turn + degrees) % 360, layout.skew if degrees in (0, 180) else 0.0


def prepare_page(image: Image.Image, dpi: int, engine: OcrEngine) -> PreparedPage:
    """Find, turn, level, flatten and scale one page; measure what a re-scan would fix."""
    colour, full_grey = _page_arrays(image)
    height, width = full_grey.shape
    scale = geometry.analysis_scale(width, height)
    small = cv2.resize(
        full_grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
    )

    paper = geometry.find_paper(small)
    p_small, p_small_size = _paper_matrix(paper, 1.0, small.shape[1], small.shape[0])
    small_paper = _warp(small, p_small, p_small_size, 255)
    ink = geometry.ink_mask(small_paper)
    layout = geometry.measure_layout(ink)
    turn, skew = _orientation(layout, small_paper, engine)
    if abs(skew) < MIN_SKEW:
        skew = 0.0

    core_px = layout.x_height / scale  # in input pixels
    ocr_scale = 1.0
    if core_px > 0 and not MIN_CORE_PX <= core_px <= MAX_CORE_PX:
        ocr_scale = TARGET_CORE_PX / core_px

    # The same turn and deskew on the analysis copy, for the trim and the quality report.
    s_h, s_w = small_paper.shape
    ts, tsize = _turn_matrix(turn, s_w, s_h)
    ds, dsize = _deskew_matrix(skew, *tsize) if skew else (np.eye(3), tsize)
    upright_small = _warp(small_paper, ds @ ts, dsize, 255)
    upright_ink = _warp(ink, ds @ ts, dsize, 0)

    p_full, size = _paper_matrix(paper, scale, width, height)
    t_full, size = _turn_matrix(turn, *size)
    archive_m = t_full @ p_full
    if skew:
        d_full, size = _deskew_matrix(skew, *size)
        trim, size = _trim(upright_ink, scale, size, layout.x_height)
        archive_m = trim @ d_full @ archive_m
    ocr_m = np.diag([ocr_scale, ocr_scale, 1.0]) @ archive_m
    ocr_size = (max(1, round(size[0] * ocr_scale)), max(1, round(size[1] * ocr_scale)))

    archive = _warp(colour, archive_m, size, 255)
    if colour is full_grey and ocr_scale == 1.0:
        grey = archive  # a grey page at its own scale: the archive warp is the OCR's
    else:
        grey = _warp(full_grey, ocr_m, ocr_size, 255)
    sample, smooth = _bands(full_grey)
    noise = _noise_sigma(sample, smooth)
    flattened = _needs_flattening(small_paper, layout.x_height)
    flat = _flatten(grey, core_px * ocr_scale) if flattened else grey
    binarised = noise > NOISE_LIMIT
    sharpened = despeckled = False
    if binarised:
        ocr = _binarise(flat)
    else:
        edge_px = quality.band_edge_width(smooth, BAND_ROWS, quality.ink_step(small_paper))
        sharpened = edge_px > BLURRED_EDGE_PX
        ocr = _sharpen(flat, edge_px * ocr_scale) if sharpened else flat
        despeckled = _speckled(sample, core_px)
        if despeckled:
            ocr = _despeckle(ocr, core_px * ocr_scale)

    paper_level, contrast, brightness = quality.tone(small_paper, ink)
    spread = quality.edge_spread(small_paper, ink)
    report = PageQuality(
        blur=quality.sharpness(upright_small),
        contrast=round(contrast, 3),
        brightness=round(brightness, 3),
        text_height_px=round(core_px, 1),
        estimated_dpi=quality.estimated_dpi(core_px),
        rotation=turn,
        skew_degrees=round(skew, 2),
        cropped=paper is not None,
        perspective_corrected=paper is not None and paper.warp,
        scale=round(ocr_scale, 3),
        binarised=binarised,
        flattened=flattened,
        sharpened=sharpened,
        despeckled=despeckled,
    )
    report.rescan_reasons = quality.rescan_reasons(
        paper=paper_level,
        contrast=contrast,
        spread_per_x=spread / layout.x_height if layout.x_height else 0.0,
        text_height_px=core_px,
        edge_share=quality.edge_text_share(upright_ink, layout.x_height),
        has_text=layout.line_count > 0,
    )
    ocr_dpi = max(1, round(dpi * ocr_scale))
    ocr_image = Image.fromarray(ocr)
    ocr_image.info["dpi"] = (ocr_dpi, ocr_dpi)
    archive_image = Image.fromarray(archive)
    archive_image.info["dpi"] = (dpi, dpi)
    return PreparedPage(ocr_image, ocr_dpi, archive_image, dpi, report)


def preprocess(image: Image.Image, engine: OcrEngine) -> tuple[Image.Image, int]:
    """Compatibility wrapper: the OCR-ready page and the clockwise degrees it was turned by.

    The page may have been rescaled; its dpi is in ``info["dpi"]`` (prefer prepare_page).
    """
    tag = image.info.get("dpi", (300, 300))
    prepared = prepare_page(image, round(float(tag[0])) or 300, engine)
    assert isinstance(prepared.ocr_image, Image.Image)
    return prepared.ocr_image, prepared.quality.rotation
