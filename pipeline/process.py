"""The whole pipeline in one process: what `sohoa process` runs.

The Celery tasks call the same steps (`digitise_page` per page, `finish_document`
per file) one task at a time; here they run back to back, pages in parallel on
a process pool, so the evaluation entry point and production cannot drift.
Each page job rasterises its own page, so rasterisation is parallel too and no
page image crosses a process boundary.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from pipeline import errors
from pipeline.archive import ArchivePage, build_archive_pdf
from pipeline.assemble import assemble_record, rejected_record
from pipeline.classify import classify_page, split_documents
from pipeline.extract import extract_document
from pipeline.intake import sha256_of, triage
from pipeline.ocr import OcrEngine, TesseractEngine
from pipeline.preprocess import prepare_page
from pipeline.qr import decode_qr
from pipeline.rasterise import decode_image, encode_jpeg, render_page
from pipeline.restore import restore_names, restore_text
from pipeline.restore_mrz import restore_mrz_fields
from pipeline.types import DocumentSpan, Limits, PageText, Reread, Triage
from schemas.record import Record

#: A page with words read at a lower mean confidence than this asks for a re-scan.
LOW_OCR_CONFIDENCE = 0.6
ARCHIVE_JPEG_QUALITY = 80

_ENGINES: dict[tuple[str, int], OcrEngine] = {}
_MRZ_HINT = re.compile(r"[I1][D0O]VNM")
#: Margin around a word box for a second read, in fractions of the box height.
_REREAD_PAD = 0.35


def _engine(lang: str, timeout_s: int) -> OcrEngine:
    key = (lang, timeout_s)
    if key not in _ENGINES:
        _ENGINES[key] = TesseractEngine(lang=lang, timeout_s=timeout_s)
    return _ENGINES[key]


@dataclass
class PageResult:
    """One page digitised: its OCR (with hOCR, text layer, quality) and its archive image."""

    page: PageText
    archive_jpeg: bytes
    archive_dpi: int


def read_page(image: Image.Image, number: int, dpi: int, engine: OcrEngine) -> PageResult:
    """Preprocess then OCR one page, once."""
    prepared = prepare_page(image, dpi, engine)
    assert isinstance(prepared.ocr_image, Image.Image)
    assert isinstance(prepared.archive_image, Image.Image)
    page = engine.read(prepared.ocr_image, number=number, dpi=prepared.ocr_dpi)
    restore_text(page)
    if _MRZ_HINT.search(page.text.replace(" ", "")):  # a card's back: its QR is ground truth
        page.qr = decode_qr(prepared.archive_image)
    quality = prepared.quality
    quality.mean_confidence = round(page.mean_confidence, 4)
    if (
        len(page.words) >= 5
        and page.mean_confidence < LOW_OCR_CONFIDENCE
        and "low_ocr_confidence" not in quality.rescan_reasons
    ):
        quality.rescan_reasons.append("low_ocr_confidence")
    page.quality = quality
    page.rotation = quality.rotation
    archive = encode_jpeg(prepared.archive_image, ARCHIVE_JPEG_QUALITY)
    return PageResult(page=page, archive_jpeg=archive, archive_dpi=prepared.archive_dpi)


def digitise_page(
    data: bytes, tri: Triage, number: int, dpi: int, lang: str, timeout_s: int
) -> PageResult:
    """Rasterise, preprocess and OCR page ``number`` of an original."""
    rendered = render_page(data, tri, number, dpi, timeout_s)
    return read_page(rendered.image, number, rendered.dpi, _engine(lang, timeout_s))


def _page_job(args: tuple[str, Triage, int, int, str, int]) -> PageResult:
    path, tri, number, dpi, lang, timeout_s = args
    with open(path, "rb") as fh:  # the original crosses to the pool as a path, not bytes
        data = fh.read()
    return digitise_page(data, tri, number, dpi, lang, timeout_s)


def make_reread(
    archive: Callable[[int], tuple[Image.Image, int]],
    pages: dict[int, PageText],
    engine: OcrEngine,
) -> Reread:
    """Second reads from the archive copy: the OCR box scaled to it, padded, read as one line."""

    def reread(
        number: int, box: tuple[int, int, int, int], whitelist: str
    ) -> tuple[str, float] | None:
        page = pages.get(number)
        if page is None or page.width == 0:
            return None
        image, dpi = archive(number)
        scale = image.width / page.width
        left, top, width, height = box
        pad = _REREAD_PAD * height
        # Crop first, then make the small crop grey (the same pixels, a fraction of the work).
        crop = image.crop(
            (
                max(0, round((left - pad) * scale)),
                max(0, round((top - pad) * scale)),
                min(image.width, round((left + width + pad) * scale)),
                min(image.height, round((top + height + pad) * scale)),
            )
        ).convert("L")
        if crop.width < 4 or crop.height < 4:
            return None
        try:
            text, confidence = engine.read_line(crop, dpi, whitelist)
        except errors.SohoaError:
            return None
        return (text, confidence) if text else None

    return reread


def finish_document(
    *,
    document_id: str,
    source: str,
    sha256: str,
    dossier_code: str | None,
    pages: list[PageText],
    code_taken: Callable[[str], bool] = lambda _code: False,
    reread: Reread | None = None,
) -> list[Record]:
    """Classify, split, extract and assemble: one record per paper found."""
    pages = sorted(pages, key=lambda p: p.number)
    classes = [classify_page(p) for p in pages]
    records: list[Record] = []
    for span in split_documents(classes):
        # split_documents numbers pages by position; map back to the original's numbers.
        span_pages = [pages[i - 1] for i in span.pages]
        numbered = DocumentSpan(span.doc_type, span.confidence, tuple(p.number for p in span_pages))
        extraction = extract_document(span.doc_type, span_pages, reread=reread)
        restore_names(span_pages, extraction.fields, span.doc_type)
        restore_mrz_fields(span_pages, extraction.fields)
        suffix = 1
        while True:
            rec = assemble_record(
                document_id=document_id,
                source=source,
                sha256=sha256,
                dossier_code=dossier_code,
                span=numbered,
                pages=span_pages,
                fields=extraction.fields,
                suffix=suffix,
                disagreements=extraction.record_disagreements(),
            )
            if not code_taken(rec.record_code) and all(
                r.record_code != rec.record_code for r in records
            ):
                break
            suffix += 1
        records.append(rec)
    return records


def record_archive_pdf(record: Record, results: dict[int, PageResult]) -> bytes:
    """The searchable PDF/A of one record, from its pages' archive images and text layers."""
    return build_archive_pdf(
        [
            ArchivePage(
                image=decode_image(results[n].archive_jpeg),
                dpi=results[n].archive_dpi,
                text_layer_pdf=results[n].page.text_layer_pdf,
            )
            for n in record.pages
        ],
        title=f"{record.doc_type} {record.document_id}",
    )


@dataclass
class ProcessOptions:
    limits: Limits
    dpi: int = 300
    lang: str = "vie"
    timeout_s: int = 300


def reread_from(results: dict[int, PageResult], lang: str, timeout_s: int) -> Reread:
    """Second reads on the pages' archive copies (decoded on demand, once per page)."""
    decoded: dict[int, Image.Image] = {}

    def archive(number: int) -> tuple[Image.Image, int]:
        if number not in decoded:
            decoded[number] = decode_image(results[number].archive_jpeg)
        return decoded[number], results[number].archive_dpi

    pages = {n: r.page for n, r in results.items()}
    return make_reread(archive, pages, _engine(lang, timeout_s))


@dataclass
class ProcessedFile:
    records: list[Record]
    pages: dict[int, PageResult]


def process_file(
    *,
    source: str,
    data: bytes,
    document_id: str,
    options: ProcessOptions,
    executor: Executor | None = None,
    dossier_code: str | None = None,
) -> ProcessedFile:
    """Digitise one file; a file that cannot be digitised gives one rejected record."""
    sha = sha256_of(data)
    results: dict[int, PageResult] = {}
    try:
        tri = triage(data, options.limits)
        with tempfile.NamedTemporaryFile(prefix="sohoa-original-") as original:
            original.write(data)
            original.flush()
            jobs = [
                (original.name, tri, n, options.dpi, options.lang, options.timeout_s)
                for n in range(1, tri.page_count + 1)
            ]
            mapped = map(_page_job, jobs) if executor is None else executor.map(_page_job, jobs)
            for result in mapped:
                results[result.page.number] = result
    except errors.SohoaError as exc:
        return ProcessedFile(
            records=[_rejected(exc, document_id, source, sha, dossier_code)], pages={}
        )
    records = finish_document(
        document_id=document_id,
        source=source,
        sha256=sha,
        dossier_code=dossier_code,
        pages=[r.page for r in results.values()],
        reread=reread_from(results, options.lang, options.timeout_s),
    )
    return ProcessedFile(records=records, pages=results)


def _rejected(
    exc: errors.SohoaError, document_id: str, source: str, sha: str, dossier_code: str | None
) -> Record:
    return rejected_record(
        document_id=document_id,
        source=source,
        sha256=sha,
        dossier_code=dossier_code,
        code=exc.code,
        message=exc.detail,
    )


def process_paths(
    files: list[tuple[str, Path]],
    options: ProcessOptions,
    executor: Executor,
    dossier_code: str | None = None,
) -> Iterator[ProcessedFile]:
    """Digitise many files with every page of every file queued on the pool at once.

    Results come back file by file in order; a one-page file no longer leaves a
    core idle while the next file waits.
    """
    queued: list[tuple[str, str, str, errors.SohoaError | None, list[Future[PageResult]]]] = []
    for source, path in files:
        document_id = uuid.uuid4().hex
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        sha = sha256_of(data)
        try:
            tri = triage(data, options.limits)
        except errors.SohoaError as exc:
            queued.append((source, sha, document_id, exc, []))
            continue
        futures = [
            executor.submit(
                _page_job, (str(path), tri, n, options.dpi, options.lang, options.timeout_s)
            )
            for n in range(1, tri.page_count + 1)
        ]
        queued.append((source, sha, document_id, None, futures))
    # Classification and extraction (with their second reads) run on the pool too, so the
    # main process only waits: one worker process really is one core.
    pending: list[tuple[Future[list[Record]], dict[int, PageResult]]] = []
    for source, sha, document_id, error, futures in queued:
        results: dict[int, PageResult] = {}
        try:
            if error is not None:
                raise error
            for future in futures:
                result = future.result()
                results[result.page.number] = result
        except errors.SohoaError as exc:
            done: Future[list[Record]] = Future()
            done.set_result([_rejected(exc, document_id, source, sha, dossier_code)])
            pending.append((done, {}))
        else:
            job = (document_id, source, sha, dossier_code, results, options.lang, options.timeout_s)
            pending.append((executor.submit(_finish_job, job), results))
        while pending and pending[0][0].done():
            finished, pages = pending.pop(0)
            yield ProcessedFile(records=finished.result(), pages=pages)
    for finished, pages in pending:
        yield ProcessedFile(records=finished.result(), pages=pages)


def _finish_job(
    args: tuple[str, str, str, str | None, dict[int, PageResult], str, int],
) -> list[Record]:
    document_id, source, sha, dossier_code, results, lang, timeout_s = args
    return finish_document(
        document_id=document_id,
        source=source,
        sha256=sha,
        dossier_code=dossier_code,
        pages=[r.page for r in results.values()],
        reread=reread_from(results, lang, timeout_s),
    )


def single_threaded() -> None:
    """Parallelism comes from page processes: keep OpenCV and Tesseract to one thread each."""
    import cv2

    cv2.setNumThreads(1)
    os.environ["OMP_THREAD_LIMIT"] = "1"


def page_pool(workers: int | None = None, spawn: bool = False) -> ProcessPoolExecutor:
    """One OCR process per core, each single-threaded.

    ``spawn`` for callers that ran OpenCV or numpy threads before: a forked child
    can inherit a lock held by a thread that does not exist in it, and hang.
    """
    import multiprocessing

    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        initializer=single_threaded,
        mp_context=multiprocessing.get_context("spawn") if spawn else None,
    )
