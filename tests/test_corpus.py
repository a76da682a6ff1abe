"""The synthetic corpus: deterministic, every doc type, readable files, sound truth."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from config.taxonomy import DOC_TYPES
from pipeline.classify import classify_page
from pipeline.extract import check_personal_id
from pipeline.intake import triage
from pipeline.types import Limits
from tests.corpus import FORMATS, TRUTH_FILE, FileTruth, build_corpus, load_truth
from tests.degrade import DEGRADATIONS
from tests.synth import RENDERABLE, Variant, page_from_lines, render_document

#: Rendered below the real 300 dpi: these tests check structure, not OCR.
DPI = 60
COUNT = len(DEGRADATIONS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FileTruth]]:
    out = tmp_path_factory.mktemp("corpus")
    return out, build_corpus(out, seed=5, count=COUNT, dpi=DPI)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_same_seed_same_bytes(corpus: tuple[Path, list[FileTruth]], tmp_path: Path) -> None:
    first, truths = corpus
    build_corpus(tmp_path, seed=5, count=COUNT, dpi=DPI)
    assert _digest(tmp_path) == _digest(first)
    assert load_truth(tmp_path) == truths


def test_other_seed_other_corpus(tmp_path: Path, corpus: tuple[Path, list[FileTruth]]) -> None:
    other = build_corpus(tmp_path, seed=6, count=2, dpi=DPI)
    assert [t.documents for t in other] != [t.documents for t in corpus[1][:2]]


def test_every_doc_type_but_unknown_renders_and_classifies_by_its_title() -> None:
    assert set(RENDERABLE) == set(DOC_TYPES) - {"unknown"}
    for doc_type in RENDERABLE:
        for seed, pages in ((1, 1), (2, 2)):
            variant = dataclasses.replace(Variant.sample(random.Random(seed)), pages=pages)
            doc = render_document(doc_type, seed, DPI, variant)
            first = classify_page(page_from_lines(doc.pages[0].lines))
            assert (first.doc_type, first.has_title) == (doc_type, True), doc.pages[0].lines
            for page in doc.pages[1:]:
                assert not classify_page(page_from_lines(page.lines)).has_title, page.kind
            assert set(doc.fields) <= set(DOC_TYPES[doc_type].fields)
            assert set(DOC_TYPES[doc_type].required) <= set(doc.fields), doc_type


def test_corpus_covers_degradations_formats_and_bundles(
    corpus: tuple[Path, list[FileTruth]],
) -> None:
    _, truths = corpus
    assert {t.degradations[0] for t in truths} == set(DEGRADATIONS)
    assert {t.format for t in truths} == set(FORMATS)
    assert any(len(t.documents) > 1 for t in truths)
    assert all(t.degradations[0] == d for t, d in zip(truths, DEGRADATIONS, strict=True))


def test_files_are_readable_and_page_counts_match(corpus: tuple[Path, list[FileTruth]]) -> None:
    folder, truths = corpus
    assert (folder / TRUTH_FILE).exists()
    for t in truths:
        tri = triage((folder / t.file).read_bytes(), Limits())
        assert tri.kind.value == {"pdf_multi": "pdf", "tiff_multi": "tiff"}.get(t.format, t.format)
        assert tri.page_count == len(t.pages), t.file
        assert [p.number for p in t.pages] == list(range(1, len(t.pages) + 1))
        covered = [n for d in t.documents for n in d.pages]
        assert covered == [p.number for p in t.pages], t.file
        assert all(p.lines for p in t.pages)


def _iso_ok(value: str) -> bool:
    try:
        return date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def _check_fields(doc_type: str, f: dict[str, str]) -> None:
    for name, value in f.items():
        assert value == unicodedata.normalize("NFC", value)
        if name.endswith(("_date", "date_of_birth")):
            assert _iso_ok(value), (name, value)
        if name.endswith("_name") or name in ("holder", "head_of_household"):
            assert value == value.upper() and len(value.split()) >= 2
    if "personal_id" in f:
        pid = f["personal_id"]
        lengths = (9, 12) if doc_type == "legacy_id_card" else (12,)
        assert len(pid) in lengths and pid.isdigit()
        assert check_personal_id(pid, f.get("date_of_birth"), f.get("sex"))
    for key in ("husband_id", "wife_id"):
        if key in f:
            assert check_personal_id(f[key], None, "male" if key == "husband_id" else "female")
    if "sex" in f:
        assert f["sex"] in ("male", "female")
    if "enterprise_code" in f:
        assert re.fullmatch(r"\d{10}(-\d{3})?", f["enterprise_code"])
    if "area_m2" in f:
        assert re.fullmatch(r"\d+(\.\d+)?", f["area_m2"])
    if doc_type == "land_use_certificate" and "serial" in f:
        assert re.fullmatch(r"[A-Z]{2} \d{6}", f["serial"])


def test_truth_fields_pass_basic_checks(corpus: tuple[Path, list[FileTruth]]) -> None:
    for t in corpus[1]:
        for d in t.documents:
            _check_fields(d.doc_type, d.fields)
    for doc_type in RENDERABLE:
        for seed in range(8):
            _check_fields(doc_type, render_document(doc_type, seed, DPI).fields)
