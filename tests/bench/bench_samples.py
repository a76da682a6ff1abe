"""Pages per minute of `sohoa process` on the sample scans, next to bare Tesseract.

Bare Tesseract reads the very page images sohoa rasterises (PDF pages at the
configured DPI), once serially and once two at a time, with OMP_THREAD_LIMIT=1.
Prints a table and writes bench-results/samples.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.intake import triage
from pipeline.rasterise import rasterise
from pipeline.types import Limits


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, check=False, capture_output=True, env=env)


def main(folder: Path) -> None:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    files = sorted(p for p in folder.iterdir() if p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        pages: list[Path] = []
        for f in files:
            data = f.read_bytes()
            try:
                tri = triage(data, Limits())
            except Exception:
                continue
            for page in rasterise(data, tri, 300):
                out = Path(tmp, f"{f.stem}-{page.number}.png")
                page.image.save(out, dpi=(page.dpi, page.dpi))
                pages.append(out)
        n = len(pages)
        rows = []

        cpu0, t0 = _children_cpu(), time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "process", "--json", *map(str, files)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        read = sum(len(json.loads(line)["pages"]) for line in done.stdout.splitlines())
        rows.append(("sohoa process (2 processes)", read, wall, cpu))

        cpu0, t0 = _children_cpu(), time.perf_counter()
        for p in pages:
            _run(["tesseract", str(p), "-", "-l", "vie"], env)
        rows.append(
            ("tesseract -l vie, serial", n, time.perf_counter() - t0, _children_cpu() - cpu0)
        )

        cpu0, t0 = _children_cpu(), time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda p: _run(["tesseract", str(p), "-", "-l", "vie"], env), pages))
        rows.append(
            ("tesseract -l vie, 2 at a time", n, time.perf_counter() - t0, _children_cpu() - cpu0)
        )

    print(f"{'run':34} {'pages':>5} {'wall s':>7} {'pages/min':>9} {'CPU s/page':>10}")
    result = []
    for name, count, wall, cpu in rows:
        ppm = 60 * count / wall if wall else 0.0
        print(f"{name:34} {count:5d} {wall:7.2f} {ppm:9.1f} {cpu / max(count, 1):10.2f}")
        result.append(
            {
                "run": name,
                "pages": count,
                "wall_s": round(wall, 3),
                "pages_per_min": round(ppm, 1),
                "cpu_s_per_page": round(cpu / max(count, 1), 3),
            }
        )
    Path("bench-results").mkdir(exist_ok=True)
    Path("bench-results/samples.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "samples"))
