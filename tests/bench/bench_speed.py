"""Speed of `sohoa process` next to bare Tesseract and OCRmyPDF on the same files.

Prints pages per minute and CPU seconds per page, and the speed-up of sohoa from
one to two worker processes; writes bench-results/speed.json. The corpus is the
generator's (fixed seed), so runs compare.

Fairness: every contender gets both cores. Bare Tesseract reads the very page
images (PDF pages rasterised at 300 dpi beforehand, not timed), two at a time;
OCRmyPDF gets two files at a time with one job each (images wrapped into PDFs
beforehand, not timed). CPU time is that of all child processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from tests.corpus import build_corpus, load_truth

OUT = Path("bench-results")


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _timed(fn: Callable[[], None]) -> tuple[float, float]:
    cpu0, t0 = _cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, _cpu() - cpu0


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def page_images(files: list[Path], tmp: Path) -> list[Path]:
    """What bare Tesseract reads: PDF pages at 300 dpi, images as they are."""
    out: list[Path] = []
    for f in files:
        if f.suffix.lower() == ".pdf":
            prefix = tmp / f.stem
            subprocess.run(["pdftoppm", "-r", "300", "-png", str(f), str(prefix)], check=True)
            out.extend(sorted(tmp.glob(f"{f.stem}-*.png")))
        else:
            out.append(f)
    return out


def as_pdfs(files: list[Path], tmp: Path) -> list[Path]:
    """OCRmyPDF takes PDFs (and single images only): wrap images into PDFs at their dpi."""
    out: list[Path] = []
    for f in files:
        if f.suffix.lower() == ".pdf":
            out.append(f)
            continue
        img = Image.open(f)
        dpi = img.info.get("dpi", (300, 300))[0] or 300
        frames = []
        for i in range(getattr(img, "n_frames", 1)):
            img.seek(i)
            frames.append(img.convert("RGB"))
        target = tmp / f"{f.stem}.pdf"
        frames[0].save(target, save_all=True, append_images=frames[1:], resolution=float(dpi))
        out.append(target)
    return out


def run_sohoa(files: list[Path], jobs: int) -> int:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "process",
            "--json",
            "--jobs",
            str(jobs),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    pages = 0
    for line in done.stdout.splitlines():
        pages += len(json.loads(line)["pages"])
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=22, help="corpus files")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--skip-ocrmypdf", action="store_true")
    args = parser.parse_args()

    corpus = OUT / f"corpus-speed-{args.seed}-{args.count}"
    if not (corpus / "truth.jsonl").exists():
        build_corpus(corpus, seed=args.seed, count=args.count)
    truth = load_truth(corpus)
    files = [corpus / t.file for t in truth]
    n_pages = sum(len(t.pages) for t in truth)
    rows: list[dict[str, object]] = []

    def row(name: str, pages: int, wall: float, cpu: float) -> None:
        rows.append(
            {
                "run": name,
                "pages": pages,
                "wall_s": round(wall, 2),
                "pages_per_min": round(60 * pages / wall, 1) if wall else 0.0,
                "cpu_s_per_page": round(cpu / max(pages, 1), 3),
            }
        )

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        images = page_images(files, tmp)
        pdfs = as_pdfs(files, tmp)
        run_sohoa(files[:1], 1)  # warm the file cache and Python's bytecode

        counted: dict[str, int] = {}
        wall, cpu = _timed(lambda: counted.__setitem__("n", run_sohoa(files, 2)))
        row("sohoa process, 2 processes", counted["n"], wall, cpu)
        wall, cpu = _timed(lambda: counted.__setitem__("n", run_sohoa(files, 1)))
        row("sohoa process, 1 process", counted["n"], wall, cpu)

        def tesseract(p: Path) -> None:
            subprocess.run(
                ["tesseract", str(p), "-", "-l", "vie"],
                capture_output=True,
                env=_env(),
                check=False,
            )

        def tesseract_all() -> None:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(tesseract, images))

        wall, cpu = _timed(tesseract_all)
        row("tesseract -l vie, 2 at a time", n_pages, wall, cpu)

        if not args.skip_ocrmypdf and shutil.which("gs"):

            def ocrmypdf(p: Path) -> None:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "ocrmypdf",
                        "--rotate-pages",
                        "--deskew",
                        "-l",
                        "vie",
                        "-j",
                        "1",
                        "-q",
                        str(p),
                        str(tmp / f"ocrmypdf-{p.name}"),
                    ],
                    capture_output=True,
                    env=_env(),
                    check=False,
                )

            def ocrmypdf_all() -> None:
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(ocrmypdf, pdfs))

            wall, cpu = _timed(ocrmypdf_all)
            row("ocrmypdf --rotate-pages --deskew, 2 at a time", n_pages, wall, cpu)

    by = {r["run"]: r for r in rows}
    two, one = by["sohoa process, 2 processes"], by["sohoa process, 1 process"]
    bare = by["tesseract -l vie, 2 at a time"]
    speedup = float(one["wall_s"]) / float(two["wall_s"])  # type: ignore[arg-type]
    cpu_ratio = float(two["cpu_s_per_page"]) / float(bare["cpu_s_per_page"])  # type: ignore[arg-type]
    print(f"corpus: {len(files)} files, {n_pages} pages ({corpus})")
    print(f"{'run':48} {'pages':>5} {'wall s':>7} {'pages/min':>9} {'CPU s/page':>10}")
    for r in rows:
        print(
            f"{r['run']:48} {r['pages']:5} {r['wall_s']:7} {r['pages_per_min']:9} "
            f"{r['cpu_s_per_page']:10}"
        )
    print(f"sohoa speed-up 1 -> 2 processes: {speedup:.2f}x (target >= 1.8)")
    print(f"sohoa CPU per page / bare tesseract: {cpu_ratio:.2f} (target <= 1.3)")
    ocr = by.get("ocrmypdf --rotate-pages --deskew, 2 at a time")
    if ocr:
        print(
            f"sohoa pages/min / ocrmypdf: "
            f"{float(two['pages_per_min']) / float(ocr['pages_per_min']):.2f} (target >= 1)"
        )  # type: ignore[arg-type]
    OUT.mkdir(exist_ok=True)
    (OUT / "speed.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "speedup_1_to_2": round(speedup, 2),
                "cpu_ratio_vs_tesseract": round(cpu_ratio, 2),
                "files": len(files),
                "pages": n_pages,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
