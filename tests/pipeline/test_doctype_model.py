"""The n-gram document-type model: trains, saves as plain arrays, loads without pickle,
and works with the title rules in classify_page."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from pipeline.classify import MIN_DOCUMENT_CONFIDENCE, classify_page, split_documents
from pipeline.doctype_model import DocTypeModel, load_model, normalise, vectorizer
from pipeline.types import PageClass
from tests.synth import page_from_lines, render_document

TYPES = ("citizen_id_card", "birth_certificate", "land_use_certificate", "application_form")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> DocTypeModel:
    texts, labels = [], []
    for doc_type in TYPES:
        for seed in range(10):
            doc = render_document(doc_type, seed, dpi=72)
            for page in doc.pages:
                texts.append("\n".join(page.lines))
                labels.append(doc_type)
    texts += ["Biên lai thu tiền phí lệ phí mẫu số ký hiệu", "Hóa đơn giá trị gia tăng"] * 3
    labels += ["unknown"] * 6
    clf = LogisticRegression(C=200.0, max_iter=3000).fit(vectorizer().transform(texts), labels)
    trained = DocTypeModel(
        "test",
        tuple(clf.classes_),
        clf.coef_.astype(np.float32),
        clf.intercept_.astype(np.float32),
        2**16,
        (2, 4),
        {},
    )
    path = tmp_path_factory.mktemp("model") / "m.npz"
    trained.save(path)
    return load_model(path)


def test_normalise_folds_accents_and_case() -> None:
    assert normalise("GIẤY  KHAI\nSINH Đặng") == "giay khai sinh dang"


def test_saved_model_is_plain_arrays(model: DocTypeModel, tmp_path: Path) -> None:
    path = tmp_path / "again.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:  # would raise on any pickled object
        assert set(data.files) == {"classes", "coef", "intercept", "meta"}
    assert load_model(path).classes == model.classes


def test_model_reads_a_page_whose_title_is_gone(model: DocTypeModel) -> None:
    doc = render_document("birth_certificate", 40, dpi=72)
    body = [ln for ln in doc.pages[0].lines if "KHAI SINH" not in ln.upper()]
    rng = random.Random(1)
    noisy = ["".join(c for c in ln if rng.random() > 0.05) for ln in body]
    page = page_from_lines(noisy)
    assert classify_page(page, use_model=False).doc_type == "unknown"  # rules alone: no title
    got = classify_page(page, model=model)
    assert got.doc_type == "birth_certificate"
    assert got.by_model and not got.has_title


def test_model_doubting_a_title_lowers_confidence(model: DocTypeModel) -> None:
    doc = render_document("land_use_certificate", 41, dpi=72)
    honest = page_from_lines(doc.pages[0].lines)
    forged = page_from_lines(["GIẤY KHAI SINH", *doc.pages[0].lines[3:]])
    assert classify_page(honest, model=model).confidence >= 0.8
    doubted = classify_page(forged, model=model)
    assert doubted.doc_type == "birth_certificate"
    assert doubted.confidence < classify_page(forged, use_model=False).confidence


def test_low_confidence_paper_is_unknown() -> None:
    below = MIN_DOCUMENT_CONFIDENCE - 0.01
    unsure = PageClass("birth_certificate", below, has_title=True)
    assert split_documents([unsure])[0].doc_type == "unknown"
    sure = PageClass("birth_certificate", MIN_DOCUMENT_CONFIDENCE, has_title=True)
    assert split_documents([sure])[0].doc_type == "birth_certificate"
