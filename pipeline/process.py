"""The whole pipeline in one process: what `sohoa process` runs.

The Celery tasks call the same three steps (`read_page`, `finish_document`)
one task at a time; here they run back to back, pages in parallel on a
process pool, so the evaluation entry point and production cannot drift.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from PIL import Image

from pipeline import errors
from pipeline.assemble import assemble_record, rejected_record
from pipeline.classify import classify_page, split_documents
from pipeline.extract import extract_fields
from pipeline.intake import sha256_of, triage
from pipeline.ocr import OcrEngine, TesseractEngine
from pipeline.preprocess import preprocess
from pipeline.rasterise import PageImage, rasterise
from pipeline.types import Limits, PageText
from schemas.record import Record

_ENGINES: dict[str, OcrEngine] = {}


def _engine(lang: str) -> OcrEngine:
    if lang not in _ENGINES:
        _ENGINES[lang] = TesseractEngine(lang=lang)
    return _ENGINES[lang]


def read_page(image: Image.Image, number: int, dpi: int, engine: OcrEngine) -> PageText:
    """Preprocess then OCR one page, once."""
    upright, rotation = preprocess(image, engine)
    page = engine.read(upright, number=number, dpi=dpi)
    page.rotation = rotation
    return page


def _read_page_job(args: tuple[Image.Image, int, int, str]) -> PageText:
    image, number, dpi, lang = args
    return read_page(image, number, dpi, _engine(lang))


def finish_document(
    *,
    document_id: str,
    source: str,
    sha256: str,
    dossier_code: str | None,
    pages: list[PageText],
    code_taken: Callable[[str], bool] = lambda _code: False,
) -> list[Record]:
    """Classify, split, extract and assemble: one record per paper found."""
    pages = sorted(pages, key=lambda p: p.number)
    classes = [classify_page(p) for p in pages]
    records: list[Record] = []
    by_number = {p.number: p for p in pages}
    for span in split_documents(classes):
        # split_documents numbers pages by position; map back to original numbers.
        span_pages = [pages[i - 1] for i in span.pages]
        numbers = tuple(p.number for p in span_pages)
        fields = extract_fields(span.doc_type, span_pages)
        suffix = 1
        while True:
            rec = assemble_record(
                document_id=document_id,
                source=source,
                sha256=sha256,
                dossier_code=dossier_code,
                span=type(span)(span.doc_type, span.confidence, numbers),
                pages=[by_number[n] for n in numbers],
                fields=fields,
                suffix=suffix,
            )
            if not code_taken(rec.record_code) and all(
                r.record_code != rec.record_code for r in records
            ):
                break
            suffix += 1
        records.append(rec)
    return records


@dataclass
class ProcessOptions:
    limits: Limits
    dpi: int = 300
    lang: str = "vie"
    timeout_s: int = 300


def process_bytes(
    *,
    source: str,
    data: bytes,
    document_id: str,
    options: ProcessOptions,
    executor: Executor | None = None,
    dossier_code: str | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> list[Record]:
    """Digitise one file; a file that cannot be digitised gives one rejected record."""
    sha = sha256_of(data)
    try:
        tri = triage(data, options.limits)
        images: Iterable[PageImage] = rasterise(data, tri, options.dpi, options.timeout_s)
        jobs = [(p.image, p.number, p.dpi, options.lang) for p in images]
        if executor is None:
            pages = []
            for job in jobs:
                pages.append(_read_page_job(job))
                if on_page:
                    on_page(len(pages), len(jobs))
        else:
            pages = []
            for page in executor.map(_read_page_job, jobs):
                pages.append(page)
                if on_page:
                    on_page(len(pages), len(jobs))
    except errors.SohoaError as exc:
        return [
            rejected_record(
                document_id=document_id,
                source=source,
                sha256=sha,
                dossier_code=dossier_code,
                code=exc.code,
                message=exc.detail,
            )
        ]
    return finish_document(
        document_id=document_id, source=source, sha256=sha, dossier_code=dossier_code, pages=pages
    )


def page_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """One OCR process per core: Tesseract runs single-threaded (OMP_THREAD_LIMIT=1)."""
    return ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
