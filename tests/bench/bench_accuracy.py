"""Character error rate of sohoa's text against the truth, next to bare Tesseract.

Builds (or reuses) a seeded corpus of degraded synthetic scans under
bench-results/corpus-accuracy/, runs sohoa's whole pipeline in-process
(`pipeline.process.process_file`, pages on a pool of two processes), and bare
`tesseract FILE - -l vie` and `... --psm 1` on the same files (PDF pages
rasterised with `pdftoppm -r 300` first; images as they are). CER is
Levenshtein(reference, hypothesis) / len(reference) on normalised text (NFC,
whitespace collapsed, lines joined by spaces), summed as total edits over total
reference characters: overall and per degradation. Prints a table and writes
bench-results/accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from tests.corpus import FileTruth, build_corpus, load_truth
from tests.degrade import DEGRADATIONS

SEED = 20250701
PER_DEGRADATION = 3
CORPUS = Path("bench-results/corpus-accuracy")
RESULT = Path("bench-results/accuracy.json")
ENGINES = ("sohoa", "tesseract", "tesseract_psm1")
#: Targets of the issue: overall CER, and sohoa against bare Tesseract per degradation.
TARGET_CER = 0.02
TARGET_RATIO = 1 / 3


def normalise(text: str) -> str:
    """NFC, every run of whitespace (line breaks included) to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def reference(truth: FileTruth) -> str:
    return normalise(" ".join(line for page in truth.pages for line in page.lines))


# --------------------------------------------------------------------------- engines


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def _tesseract(path: Path, psm1: bool) -> str:
    cmd = ["tesseract", str(path), "-", "-l", "vie", *(["--psm", "1"] if psm1 else [])]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    return done.stdout


def _page_files(path: Path, tmp: Path) -> list[Path]:
    """What bare Tesseract reads: a PDF's pages rasterised at 300 dpi, an image as is."""
    if path.suffix.lower() != ".pdf":
        return [path]
    prefix = tmp / path.stem
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(path), str(prefix)], check=True)
    return sorted(tmp.glob(f"{path.stem}-*.png"))


def run_tesseract(files: list[Path], psm1: bool, jobs: int) -> dict[str, str]:
    """Text of each file by bare Tesseract, pages in order, ``jobs`` at a time."""
    with tempfile.TemporaryDirectory(prefix="bench-acc-") as tmp:
        pages = {f.name: _page_files(f, Path(tmp)) for f in files}
        flat = [(name, p) for name, ps in pages.items() for p in ps]
        with ThreadPoolExecutor(jobs) as pool:
            texts = list(pool.map(lambda item: _tesseract(item[1], psm1), flat))
    out: dict[str, list[str]] = {}
    for (name, _), text in zip(flat, texts, strict=True):
        out.setdefault(name, []).append(text)
    return {name: "\n".join(parts) for name, parts in out.items()}


def run_sohoa(files: list[Path], jobs: int) -> dict[str, str]:
    """Text of each file by sohoa's pipeline: its records' text in page order."""
    from config.settings import load_settings
    from pipeline.process import ProcessOptions, page_pool, process_file
    from pipeline.types import Limits

    settings = load_settings()
    options = ProcessOptions(
        limits=Limits(settings.max_file_bytes, settings.max_pages, settings.max_page_pixels),
        dpi=settings.raster_dpi,
        lang=settings.ocr_lang,
        timeout_s=settings.page_timeout_s,
    )
    out: dict[str, str] = {}
    with page_pool(jobs, spawn=True) as pool:  # the corpus was just built in this process
        for i, path in enumerate(files):
            records = process_file(
                source=path.name,
                data=path.read_bytes(),
                document_id=f"bench-{i}",
                options=options,
                executor=pool,
            ).records
            records.sort(key=lambda r: min(r.pages) if r.pages else 0)
            out[path.name] = "\n".join(r.text for r in records)
    return out


# --------------------------------------------------------------------------- scoring


@dataclass
class Tally:
    """Edits and reference characters summed over files."""

    files: int = 0
    ref_chars: int = 0
    edits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENGINES, 0))

    def add(self, ref_chars: int, edits: dict[str, int]) -> None:
        self.files += 1
        self.ref_chars += ref_chars
        for k, v in edits.items():
            self.edits[k] += v

    def cer(self, engine: str) -> float:
        return self.edits[engine] / self.ref_chars if self.ref_chars else 0.0

    def verdict(self, overall: bool) -> bool:
        s, t, p = (self.cer(e) for e in ENGINES)
        if overall:
            return s <= TARGET_CER
        return s <= TARGET_RATIO * t and s <= p

    def to_dict(self, overall: bool) -> dict[str, object]:
        t = self.cer("tesseract")
        return {
            "files": self.files,
            "ref_chars": self.ref_chars,
            "edits": self.edits,
            "cer": {e: round(self.cer(e), 5) for e in ENGINES},
            "sohoa_over_tesseract": round(self.cer("sohoa") / t, 4) if t else None,
            "pass": self.verdict(overall),
        }


def score(
    truths: list[FileTruth], texts: dict[str, dict[str, str]]
) -> tuple[list[dict[str, object]], Tally, dict[str, Tally]]:
    per_file = []
    overall = Tally()
    by_kind = {k: Tally() for k in DEGRADATIONS}
    for t in truths:
        ref = reference(t)
        edits = {e: Levenshtein.distance(ref, normalise(texts[e].get(t.file, ""))) for e in ENGINES}
        overall.add(len(ref), edits)
        for kind in t.degradations:
            by_kind[kind].add(len(ref), edits)
        per_file.append(
            {
                "file": t.file,
                "degradations": t.degradations,
                "pages": len(t.pages),
                "ref_chars": len(ref),
                "edits": edits,
                "cer": {e: round(edits[e] / max(len(ref), 1), 5) for e in ENGINES},
            }
        )
    return per_file, overall, by_kind


def _table(overall: Tally, by_kind: dict[str, Tally]) -> str:
    head = f"{'degradation':14} {'files':>5} {'sohoa':>8} {'tesseract':>10} {'psm 1':>8}"
    head += f" {'sohoa/tess':>10}  target"
    rows = [head, "-" * len(head)]
    for name, tally, is_overall in (
        *((k, v, False) for k, v in by_kind.items() if v.files),
        ("overall", overall, True),
    ):
        s, t, p = (tally.cer(e) for e in ENGINES)
        ratio = f"{s / t:10.2f}" if t else f"{'-':>10}"
        mark = "pass" if tally.verdict(is_overall) else "FAIL"
        rows.append(f"{name:14} {tally.files:5d} {s:8.2%} {t:10.2%} {p:8.2%} {ratio}  {mark}")
    rows.append(
        "targets: overall sohoa CER <= 2%; per degradation sohoa <= 1/3 of tesseract"
        " and <= tesseract --psm 1"
    )
    return "\n".join(rows)


# --------------------------------------------------------------------------- main


def corpus(folder: Path, seed: int, count: int, rebuild: bool) -> list[FileTruth]:
    """The corpus in ``folder``, built unless one with this seed and count is there."""
    meta = folder / "corpus.json"
    wanted = {"seed": seed, "count": count}
    if not rebuild and meta.exists() and json.loads(meta.read_text()) == wanted:
        return load_truth(folder)
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    truths = build_corpus(folder, seed, count)
    meta.write_text(json.dumps(wanted))
    return truths


def _write_texts(folder: Path, truths: list[FileTruth], texts: dict[str, dict[str, str]]) -> None:
    """One normalised file per engine and source, next to the truth, for ``diff``."""
    folder.mkdir(parents=True, exist_ok=True)
    for t in truths:
        (folder / f"{t.file}.truth.txt").write_text(reference(t).replace(" ", "\n") + "\n")
        for engine in ENGINES:
            words = normalise(texts[engine].get(t.file, "")).replace(" ", "\n")
            (folder / f"{t.file}.{engine}.txt").write_text(words + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--per-degradation", type=int, default=PER_DEGRADATION)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the corpus")
    parser.add_argument(
        "--texts",
        type=Path,
        help="also write each engine's text per file here (to read the errors)",
    )
    args = parser.parse_args(argv)

    count = args.per_degradation * len(DEGRADATIONS)
    t0 = time.perf_counter()
    truths = corpus(args.corpus, args.seed, count, args.rebuild)
    timing = {"corpus_s": round(time.perf_counter() - t0, 1)}
    files = [args.corpus / t.file for t in truths]
    pages = sum(len(t.pages) for t in truths)
    print(f"{len(files)} files, {pages} pages in {args.corpus}", file=sys.stderr)

    texts: dict[str, dict[str, str]] = {}
    for engine, run in (
        ("sohoa", lambda: run_sohoa(files, args.jobs)),
        ("tesseract", lambda: run_tesseract(files, False, args.jobs)),
        ("tesseract_psm1", lambda: run_tesseract(files, True, args.jobs)),
    ):
        t0 = time.perf_counter()
        texts[engine] = run()
        timing[f"{engine}_s"] = round(time.perf_counter() - t0, 1)
        print(f"{engine}: {timing[f'{engine}_s']} s", file=sys.stderr)

    if args.texts:
        _write_texts(args.texts, truths, texts)
    per_file, overall, by_kind = score(truths, texts)
    print(_table(overall, by_kind))
    result = {
        "seed": args.seed,
        "files": len(files),
        "pages": pages,
        "targets": {"overall_cer": TARGET_CER, "sohoa_over_tesseract": TARGET_RATIO},
        "overall": overall.to_dict(True),
        "by_degradation": {k: v.to_dict(False) for k, v in by_kind.items() if v.files},
        "timing_s": timing,
        "per_file": per_file,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
