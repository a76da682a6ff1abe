"""A reproducible corpus of degraded synthetic scans with their ground truth.

`python -m tests.corpus OUT_DIR [--seed N] [--count N]` writes ``count`` files
(PNG, JPEG, single- and multi-page PDF, multi-page TIFF) and ``truth.jsonl``:
per file its degradations, the papers in it (doc type, page numbers, normalised
fields) and each page's printed lines. Benchmarks (OCR accuracy now,
classification, extraction and bundle splitting later) and classifier training
read the same files, so the same seed gives byte-identical files.

Degradations cycle through ``tests.degrade.DEGRADATIONS`` so that every kind is
equally represented; a fifth of the files get a second kind on top.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image

from tests.degrade import DEGRADATIONS, degrade
from tests.synth import RENDERABLE, RenderedDocument, Variant, render_document

TRUTH_FILE = "truth.jsonl"
FORMATS = ("png", "jpeg", "pdf", "pdf_multi", "tiff_multi")
#: A second kind that real counters see on top of the first (phone shots get recompressed...).
_SECOND = ("jpeg", "stamp", "skew", "noise", "low_dpi")
#: A typical dossier handed over at the desk, in order.
_DOSSIER = ("citizen_id_card", "application_form", "birth_certificate")
#: Types that have a natural multi-page form.
_MULTI = (
    "citizen_id_card",
    "legacy_id_card",
    "land_use_certificate",
    "application_form",
    "household_register",
)
RENDER_DPI = 300


@dataclass
class DocumentTruth:
    """One paper inside a file: its type, its pages (numbers from 1) and its fields."""

    doc_type: str
    pages: list[int]
    fields: dict[str, str]


@dataclass
class PageTruth:
    """One page of a file: its number, the lines printed on it and its true dpi."""

    number: int
    lines: list[str]
    dpi: int
    kind: str = ""  # the page layout, e.g. "citizen_id_card_back"


@dataclass
class FileTruth:
    """Ground truth of one corpus file."""

    file: str
    format: str
    degradations: list[str]
    documents: list[DocumentTruth] = field(default_factory=list)
    pages: list[PageTruth] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileTruth:
        return cls(
            file=d["file"],
            format=d["format"],
            degradations=list(d["degradations"]),
            documents=[DocumentTruth(**x) for x in d["documents"]],
            pages=[PageTruth(**x) for x in d["pages"]],
        )


def load_truth(path: Path) -> list[FileTruth]:
    """Read ``truth.jsonl`` (or the folder holding it)."""
    if path.is_dir():
        path = path / TRUTH_FILE
    with path.open(encoding="utf-8") as fh:
        return [FileTruth.from_dict(json.loads(line)) for line in fh if line.strip()]


# --------------------------------------------------------------------------- planning


class _TypeCycle:
    """Doc types in a seeded round-robin, so that every type appears as often as another."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._queue: list[str] = []

    def next(self, among: tuple[str, ...] = RENDERABLE) -> str:
        if not any(t in among for t in self._queue):
            more = list(RENDERABLE)
            self._rng.shuffle(more)
            self._queue.extend(more)
        for i, t in enumerate(self._queue):
            if t in among:
                return self._queue.pop(i)
        raise AssertionError("unreachable")


def _plan_documents(fmt: str, rng: random.Random, types: _TypeCycle) -> list[tuple[str, int]]:
    """(doc type, page count wanted) of each paper in a file of this format."""
    if fmt in ("png", "jpeg", "pdf"):
        return [(types.next(), 1)]
    if rng.random() < 0.4:  # one paper of several pages
        return [(types.next(_MULTI), 2)]
    if rng.random() < 0.5:  # the usual dossier: card front and back, form, certificate
        return [("citizen_id_card", 2), ("application_form", rng.choice((1, 2))), (_DOSSIER[2], 1)]
    return [(types.next(), rng.choice((1, 2))) for _ in range(rng.randrange(2, 4))]


def _degradations(index: int, rng: random.Random) -> list[str]:
    first = DEGRADATIONS[index % len(DEGRADATIONS)]
    kinds = [first]
    if first != "clean" and rng.random() < 0.2:
        second = rng.choice([k for k in _SECOND if k != first])
        kinds.append(second)
    return kinds


# --------------------------------------------------------------------------- writing


def _pdf(pages: list[tuple[Image.Image, int]]) -> bytes:
    """One PDF whose pages keep their own dpi (Pillow gives every page the same one)."""
    out = pikepdf.Pdf.new()
    for image, dpi in pages:
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PDF", resolution=float(dpi), quality=85)
        with pikepdf.open(io.BytesIO(buf.getvalue())) as one:
            out.pages.extend(one.pages)
    data = io.BytesIO()
    out.save(data, deterministic_id=True)
    return data.getvalue()


def _encode(fmt: str, pages: list[tuple[Image.Image, int]]) -> tuple[str, bytes]:
    buf = io.BytesIO()
    first, dpi = pages[0]
    if fmt == "png":
        first.save(buf, format="PNG", dpi=(dpi, dpi))
        return "png", buf.getvalue()
    if fmt == "jpeg":
        first.save(buf, format="JPEG", dpi=(dpi, dpi), quality=90)
        return "jpg", buf.getvalue()
    if fmt.startswith("pdf"):
        return "pdf", _pdf(pages)
    frames = [im.convert("RGB") for im, _ in pages]
    frames[0].save(
        buf,
        format="TIFF",
        save_all=True,
        append_images=frames[1:],
        compression="tiff_deflate",
        dpi=(dpi, dpi),
    )
    return "tif", buf.getvalue()


def build_file(
    index: int, seed: int, types: _TypeCycle, rng: random.Random, dpi: int = RENDER_DPI
) -> tuple[FileTruth, bytes]:
    """Render, degrade and encode file number ``index`` of the corpus."""
    fmt = FORMATS[index % len(FORMATS)]
    kinds = _degradations(index, rng)
    docs: list[RenderedDocument] = []
    for d, (doc_type, pages) in enumerate(_plan_documents(fmt, rng, types)):
        doc_seed = seed * 100_000 + index * 10 + d
        variant = Variant.sample(random.Random(f"variant:{doc_seed}"))
        docs.append(
            render_document(doc_type, doc_seed, dpi, dataclasses.replace(variant, pages=pages))
        )
    truth = FileTruth(file="", format=fmt, degradations=kinds)
    encoded: list[tuple[Image.Image, int]] = []
    number = 0
    for doc in docs:
        first = number + 1
        for page in doc.pages:
            number += 1
            image, page_dpi = page.image, dpi
            for kind in kinds:
                # low_dpi draws the same target for every page: one scanner setting per file.
                key = f"{seed}:{index}:{kind}" + ("" if kind == "low_dpi" else f":{number}")
                image, page_dpi = degrade(image, kind, random.Random(key), page_dpi)
            encoded.append((image, page_dpi))
            truth.pages.append(PageTruth(number, page.lines, page_dpi, page.kind))
        truth.documents.append(
            DocumentTruth(doc.doc_type, list(range(first, number + 1)), doc.fields)
        )
    ext, data = _encode(fmt, encoded)
    names = "+".join(dict.fromkeys(d.doc_type for d in docs))
    truth.file = f"{index:04d}-{'+'.join(kinds)}-{names}.{ext}"
    return truth, data


def build_corpus(
    out: Path, seed: int = 0, count: int = 44, dpi: int = RENDER_DPI
) -> list[FileTruth]:
    """Write ``count`` files and truth.jsonl into ``out``; the same seed, the same bytes.

    ``dpi`` is the rendering resolution before degradation (tests use less to be quick).
    """
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"corpus:{seed}")
    types = _TypeCycle(random.Random(f"types:{seed}"))
    truths: list[FileTruth] = []
    for index in range(count):
        truth, data = build_file(index, seed, types, random.Random(rng.getrandbits(64)), dpi)
        (out / truth.file).write_bytes(data)
        truths.append(truth)
    (out / TRUTH_FILE).write_text("".join(t.to_json() + "\n" for t in truths), encoding="utf-8")
    return truths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=44)
    args = parser.parse_args(argv)
    truths = build_corpus(args.out, args.seed, args.count)
    pages = sum(len(t.pages) for t in truths)
    docs = sum(len(t.documents) for t in truths)
    print(f"{len(truths)} files, {docs} documents, {pages} pages in {args.out}")


if __name__ == "__main__":
    main()
