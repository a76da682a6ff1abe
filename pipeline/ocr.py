"""OCR stage: the engine interface and its Tesseract implementation.

The engine is an interface so tests and fault injection can swap it out
(a Tesseract that crashes, a fake that returns canned words) without touching
the stages that call it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import statistics
import subprocess
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

import pytesseract
from PIL import Image

from pipeline.errors import OcrFailed, PageTimeout
from pipeline.types import PageText, Word

#: OSD answers only with quarter turns.
_QUARTER_TURNS = (0, 90, 180, 270)
#: Page-layout setting for the full-page read: the initial line size taken as 2x the blob
#: height (Tesseract's default 1.25). With the default, two failures dominated sohoa's
#: residual errors on the accuracy corpus: the stacked accents of a capitals title set
#: tight under the line above (the motto over "GIẤY CHỨNG NHẬN ...") were given to that
#: line ("GIAY CHƯNG NHẠN" plus junk), and the numbers of a numbered list ("1.", "2.", ...
#: down the margin, as on a CT07 form) became a column of their own, read as a vertical
#: line of garbage. Measured on the 57-page corpus: 398 -> 255 edits, with uneven light
#: 39 -> 2 and phone photos 98 -> 12, but blur 10 -> 24 (one title page). The effect is
#: layout luck per page (2.25 undid the blur loss and tripled the skew errors), so it is
#: a measured choice, not a principle; it costs no CPU.
PAGE_LAYOUT_CONFIG: tuple[str, ...] = ("-c", "textord_min_linesize=2")
#: Page segmentation for the full-page read: 4, one column of lines of varying size, not 3
#: (automatic). Mode 3 split a form's list markers ("1.", "2.", "c)", "d)" down the left
#: margin) into a column of their own and read it as one garbage line, or after the text:
#: 64 edits on one clean land-use certificate, 30 on a residence confirmation. Both modes
#: read a two-column letterhead (agency left, national motto right) as the same merged
#: lines. Measured sohoa edits, mode 3 -> 4: 142 -> 130 on the 57-page corpus (seed
#: 20250701), 752 -> 627 on 151 pages of another seed (clean pages 2.05 -> 0.58 % CER;
#: uneven light 0.38 -> 0.57 %, one diploma 0 -> 9 edits).
PAGE_SEG_MODE = "4"
#: Per-character boxes and confidences in the hOCR, for `_word_text` (output only: the
#: recognition is the same; the page's hOCR grows about threefold, ~75 kB for an A4 form).
CHAR_BOXES_CONFIG: tuple[str, ...] = ("-c", "hocr_char_boxes=1")
#: A word-final mark whose box ends within this many pixels of the letter before it has no
#: ink of its own; read below this confidence (0-1) it is dropped as a phantom.
PHANTOM_OWN_PX = 1
PHANTOM_MAX_CONF = 0.98
#: A word with no letter or digit read below this confidence (0-1) is a speck, not a mark:
#: photocopy toner, a stamp's edge, a fold. On 208 pages of two seeded corpora, 82 such
#: words were inserted where nothing is printed (median confidence 0.47), while 95 % of
#: true standalone marks ("/" between labels, "-" in the motto) read at 0.91 or more.
#: Below 0.5 the filter saved 73 edits and lost 2 true marks; it keeps a mark it believes.
SPECK_MAX_CONF = 0.5
#: Characters whose box is the font's cap height (flat top and foot, no marks) and the
#: standalone dashes `_dashes` measures against it (less half their thickness): below
#: EN_DASH_MIN cap heights a hyphen, below EM_DASH_MIN an en dash, else an em dash.
CAP_HIGH = frozenset("BDEFHIKLMNPRTXYZĐ147")
DASHES = frozenset({"-", "–", "—"})
EN_DASH_MIN = 0.40
EM_DASH_MIN = 0.95
DASH_MIN_ASPECT = 1.5
#: A word with no letter or digit whose box is smaller, both ways, than this share of
#: its line's letter height is a speck however sure Tesseract is: of 40 mark-only words
#: read at 0.5 or more where nothing is printed (97 pages of three seeded corpora), 33
#: were 2-3 px specks under a tenth of the line's height; the smallest true mark (a
#: bold hyphen) measured a fifth of it.
SPECK_MAX_SIZE = 0.15
#: An underscore word narrower than this share of its line's letter height is a speck
#: or a mark's detached dot, not a fill-in line (those run for several letters): on
#: legacy ID cards read at their own scale Tesseract made "_" of the dot under "Ộ".
UNDERSCORE_MAX_WIDTH = 1.0


class OcrEngine(Protocol):
    """What the pipeline needs from an OCR engine."""

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        """Degrees clockwise to rotate ``image`` by to make it upright, and a confidence."""
        ...

    def read(self, image: Image.Image, number: int, dpi: int) -> PageText:
        """Words with boxes and confidences of one upright page."""
        ...

    def read_line(self, image: Image.Image, dpi: int, whitelist: str = "") -> tuple[str, float]:
        """One line of text from a small crop (a field's second read), with its confidence."""
        ...


def _tessdata_dir() -> str:
    """Where the system's traineddata files are (Debian: /usr/share/tesseract-ocr/5/tessdata)."""
    try:
        out = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return ""
    m = re.search(r'"(.+?)"', out)
    return m.group(1).rstrip("/") + "/" if m else ""


class TesseractEngine:
    """Tesseract through pytesseract: one process per call, one thread each."""

    def __init__(
        self, lang: str = "vie", timeout_s: float = 0, script: str = "Latin", tessdata: str = ""
    ) -> None:
        # One OpenMP thread is ~3x faster per page here; parallelism comes from pages.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.lang = lang
        self.timeout_s = timeout_s
        self.tessdata = tessdata or _tessdata_dir()
        self._api: Any = None
        #: OSD's answer counts only when it also sees this script: on a photo or on
        #: noise it reports another script and a confident but arbitrary turn.
        self.script = script

    def orientation(self, image: Image.Image) -> tuple[int, float]:
        """Quarter turn from OSD; (0, 0.0) when the page has too little text to tell."""
        try:
            osd = pytesseract.image_to_osd(
                image, output_type=pytesseract.Output.DICT, timeout=self.timeout_s
            )
        except pytesseract.TesseractError as exc:
            if "Too few characters" in str(exc.message):
                return 0, 0.0
            raise OcrFailed(f"orientation detection failed (status {exc.status})") from exc
        except (RuntimeError, OSError) as exc:
            raise OcrFailed(f"orientation detection failed: {type(exc).__name__}") from exc
        rotate = int(osd.get("rotate", 0)) % 360
        if rotate not in _QUARTER_TURNS or osd.get("script", self.script) != self.script:
            return 0, 0.0
        return rotate, float(osd.get("orientation_conf", 0.0))

    def read(self, image: Image.Image, number: int, dpi: int) -> PageText:
        """One full-page pass giving words (from hOCR), the hOCR and a text-only PDF page.

        Tesseract renders all three from the same recognition, so the archive PDF's
        text layer costs no second OCR. The image goes over as uncompressed TIFF:
        PNG encoding would cost more CPU than it saves in I/O, and Leptonica reads
        PNM byte by byte (an A4 page at 300 dpi: 0.12 s more Tesseract CPU than TIFF,
        for the same output).
        """
        mode = image.mode if image.mode in ("1", "L", "RGB") else "RGB"
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        with tempfile.TemporaryDirectory(prefix="sohoa-ocr-") as tmp:
            src = Path(tmp, "page.tif")
            (image if image.mode == mode else image.convert(mode)).save(src, compression="raw")
            out = Path(tmp, "out")
            cmd = [
                "tesseract",
                str(src),
                str(out),
                "-l",
                self.lang,
                "--dpi",
                str(dpi),
                "--psm",
                PAGE_SEG_MODE,
                *PAGE_LAYOUT_CONFIG,
                *CHAR_BOXES_CONFIG,
                "-c",
                "textonly_pdf=1",
                "hocr",
                "pdf",
            ]
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, env=env, timeout=self.timeout_s or None, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise PageTimeout(f"OCR of page {number} took over {self.timeout_s} s") from exc
            except OSError as exc:
                raise OcrFailed(f"cannot run tesseract: {type(exc).__name__}") from exc
            hocr_path, pdf_path = out.with_suffix(".hocr"), out.with_suffix(".pdf")
            if proc.returncode != 0 or not hocr_path.exists():
                raise OcrFailed(f"tesseract failed on page {number} (status {proc.returncode})")
            hocr = hocr_path.read_text(encoding="utf-8")
            text_pdf = pdf_path.read_bytes() if pdf_path.exists() else b""
        page = parse_hocr(hocr, number, image.width, image.height)
        page.hocr = hocr
        page.text_layer_pdf = text_pdf
        return page

    def read_line(self, image: Image.Image, dpi: int, whitelist: str = "") -> tuple[str, float]:
        """A cheap second read of one field's crop: single-line mode, optional whitelist.

        Runs in-process through libtesseract (tesserocr), the model loaded once per
        process: ~20 ms a crop instead of ~250 ms for a new tesseract process.
        """
        api = self._line_api()
        try:
            api.SetVariable("tessedit_char_whitelist", whitelist)
            api.SetImage(image.convert("L"))
            api.SetSourceResolution(dpi)
            text = api.GetUTF8Text()
            confidence = api.MeanTextConf()
        except RuntimeError as exc:
            raise OcrFailed(f"line re-read failed: {type(exc).__name__}") from exc
        text = unicodedata.normalize("NFC", " ".join(text.split()))
        if not text:
            return "", 0.0
        return text, max(0.0, min(1.0, confidence / 100.0))

    def _line_api(self) -> Any:
        if self._api is None:
            import tesserocr

            try:
                self._api = tesserocr.PyTessBaseAPI(
                    path=self.tessdata, lang=self.lang, psm=tesserocr.PSM.SINGLE_LINE
                )
            except RuntimeError as exc:
                raise OcrFailed(f"cannot load the {self.lang} model for line reads") from exc
        return self._api


_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_WCONF = re.compile(r"x_wconf (\d+(?:\.\d+)?)")
_CHAR = re.compile(r"x_bboxes (\d+) (\d+) (\d+) (\d+); x_conf (\d+(?:\.\d+)?)")
_LINE_CLASSES = {"ocr_line", "ocr_caption", "ocr_header", "ocr_textfloat"}


def _word_text(word: ElementTree.Element) -> tuple[str, list[int]]:
    """The word's text, less a final mark that has no ink of its own; and the heights of
    its cap-high characters (for `_dashes`), from the same pass over its character boxes.

    Before a wide gap (a name, then "Quan hệ với chủ hộ" further along the line) or at a
    line's end, Tesseract's LSTM sometimes ends a word with a mark it did not see:
    "HÀ_", "QUÂN:", "NAM.", "122/2022_". Its character box then ends inside the previous
    letter's, and its confidence is a little lower. On the 57-page accuracy corpus every
    such phantom (13) ended within 1 px of the letter before it and read below 0.975, and
    of ~900 true word-final marks two ended that close, both read above 0.994.
    """
    chars: list[tuple[str, int, float]] = []
    caps: list[int] = []
    for span in word:
        found = _CHAR.search(span.get("title", "")) if span.get("class") == "ocrx_cinfo" else None
        if found is None:  # no character boxes: the word as Tesseract wrote it
            return "".join(word.itertext()).strip(), []
        char = "".join(span.itertext())
        chars.append((char, int(found.group(3)), float(found.group(5)) / 100.0))
        if char in CAP_HIGH:
            caps.append(int(found.group(4)) - int(found.group(2)))
    if len(chars) >= 2:
        (last, right, conf), before = chars[-1], chars[-2][1]
        if not last.isalnum() and right <= before + PHANTOM_OWN_PX and conf < PHANTOM_MAX_CONF:
            chars.pop()
    return "".join(c[0] for c in chars).strip(), caps


def _dashes(words: list[Word], caps: dict[int, list[int]]) -> list[Word]:
    """Standalone dashes told apart by their length against the line's cap height.

    The vie model has no en dash: it reads "–" as "-" (or, in some fonts, as "—"), and
    Word's autocorrect prints " – " wherever a typist wrote " - " (the motto, ranges).
    Half the dash's own thickness is taken off its length and off the cap height, which
    cancels most of the spread of toner and bold print. So measured, a hyphen is
    0.30-0.36 cap heights, an en dash 0.44-0.80 and an em dash 1.1 or more in DejaVu
    and Liberation (Arial, Times), regular and bold; on 276 dashes of three seeded
    corpora the cut at 0.40 missed one. A line with no cap-high character, or a "dash"
    not twice as long as thick (a speck read as one), keeps what was read.
    """
    out = []
    for w in words:
        cap = statistics.median(caps[w.line]) if w.text in DASHES and caps.get(w.line) else 0
        if cap > w.height and w.width >= DASH_MIN_ASPECT * w.height:
            ratio = (w.width - w.height / 2) / (cap - w.height / 2)
            text = "-" if ratio < EN_DASH_MIN else "–" if ratio < EM_DASH_MIN else "—"
            w = w if text == w.text else dataclasses.replace(w, text=text)
        out.append(w)
    return out


def _without_specks(words: list[Word]) -> list[Word]:
    """The words less mark-only ones too small beside their line's letters to be ink,
    and underscores too short to be a fill-in line."""
    heights: dict[int, list[int]] = {}
    for w in words:
        if any(c.isalpha() for c in w.text):
            heights.setdefault(w.line, []).append(w.height)
    if not heights:
        return words
    page = statistics.median(h for v in heights.values() for h in v)
    letter = {n: statistics.median(v) for n, v in heights.items()}

    def ink(w: Word) -> bool:
        size = letter.get(w.line, page)
        if set(w.text) == {"_"} and w.width < UNDERSCORE_MAX_WIDTH * size:
            return False
        return any(c.isalnum() for c in w.text) or max(w.width, w.height) >= SPECK_MAX_SIZE * size

    return [w for w in words if ink(w)]


def _reading_order(words: list[Word]) -> dict[int, int]:
    """Tesseract's line numbers -> dense ones, top to bottom.

    In single-column mode Tesseract still reads a block it set apart last: a card's
    wrapped signatory line ("... QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI") came after
    the MRZ below it. Lines are put in the order of their middles, down the page;
    lines whose middles are within half a line's height of each other share a row
    and keep Tesseract's order in it. A line of specks alone leaves no gap.
    """
    middles: dict[int, list[float]] = {}
    heights: dict[int, list[int]] = {}
    for w in words:
        middles.setdefault(w.line, []).append(w.top + w.height / 2)
        heights.setdefault(w.line, []).append(w.height)
    mid = {n: statistics.median(v) for n, v in middles.items()}
    half = {n: statistics.median(heights[n]) / 2 for n in mid}
    rows: list[list[int]] = []
    for n in sorted(mid, key=lambda n: (mid[n], n)):
        if rows and mid[n] - mid[rows[-1][0]] <= max(half[n], half[rows[-1][0]]):
            rows[-1].append(n)
        else:
            rows.append([n])
    ordered = [n for row in rows for n in sorted(row)]
    return {n: i for i, n in enumerate(ordered)}


def _unglued(text: str) -> str:
    """A word less one underscore at its start or end: a speck under its edge.

    Tesseract glues these to a word ("1992_", "HÀ_", "_Người"); no printed word of
    these papers starts or ends with one, and a fill-in line is two or more.
    """
    if any(c.isalnum() for c in text):
        if text.endswith("_") and not text.endswith("__"):
            text = text[:-1]
        if text.startswith("_") and not text.startswith("__"):
            text = text[1:]
    return text


def parse_hocr(hocr: str, number: int, width: int, height: int) -> PageText:
    """Words with boxes and confidences from Tesseract's hOCR, lines in order down the page."""
    try:
        root = ElementTree.fromstring(hocr.encode("utf-8"))
    except ElementTree.ParseError as exc:
        raise OcrFailed(f"unreadable hOCR for page {number}") from exc
    words: list[Word] = []
    caps: dict[int, list[int]] = {}
    line_no = -1
    for el in root.iter():
        cls = el.get("class", "")
        if cls in _LINE_CLASSES:
            line_no += 1
        elif cls == "ocrx_word":
            text, cap_heights = _word_text(el)
            text = _unglued(text)
            caps.setdefault(max(line_no, 0), []).extend(cap_heights)
            box = _BBOX.search(el.get("title", ""))
            if not text or box is None:
                continue
            conf = _WCONF.search(el.get("title", ""))
            confidence = max(0.0, min(1.0, float(conf.group(1)) / 100.0)) if conf else 0.0
            if confidence < SPECK_MAX_CONF and not any(c.isalnum() for c in text):
                continue
            x0, y0, x1, y1 = (int(v) for v in box.groups())
            words.append(
                Word(
                    text=unicodedata.normalize("NFC", text),
                    confidence=confidence,
                    left=x0,
                    top=y0,
                    width=x1 - x0,
                    height=y1 - y0,
                    line=max(line_no, 0),
                )
            )
    words = _dashes(_without_specks(words), caps)
    order = _reading_order(words)
    words = [
        w if order[w.line] == w.line else dataclasses.replace(w, line=order[w.line]) for w in words
    ]
    mean = sum(w.confidence for w in words) / len(words) if words else 0.0
    return PageText(number=number, width=width, height=height, words=words, mean_confidence=mean)
