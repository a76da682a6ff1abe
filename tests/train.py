"""`make train`: fit the document-type classifier on OCR text of the generated corpus.

Pages of a fixed-seed corpus are OCR'd by sohoa's own page job (so the model sees
the errors the pipeline makes), then augmented with their printed lines with
accents and characters dropped as bad scans drop them. Prints held-out scores;
writes config/models/doctype-v1.npz.
"""

from __future__ import annotations

import argparse
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, f1_score

from pipeline.doctype_model import MODEL_PATH, N_FEATURES, NGRAMS, DocTypeModel, vectorizer
from pipeline.intake import triage
from pipeline.process import digitise_page
from pipeline.types import Limits
from tests.corpus import FileTruth, build_corpus, load_truth

UNKNOWN_TEXTS = (
    "Biên lai thu tiền phí, lệ phí. Mẫu số 01. Ký hiệu AA/22P. Số 0001234. Đơn vị thu",
    "HÓA ĐƠN GIÁ TRỊ GIA TĂNG Ngày tháng năm Mẫu số Ký hiệu Đơn vị bán hàng Mã số thuế",
    "THÔNG BÁO Về việc nghỉ lễ Quốc khánh 2/9 Toàn thể cán bộ công chức viên chức",
    "Phiếu khám sức khỏe Tiền sử bệnh Khám lâm sàng Nội khoa Ngoại khoa Mắt Tai Mũi Họng",
    "BIÊN BẢN HỌP Thời gian Địa điểm Thành phần tham dự Nội dung cuộc họp Kết luận",
    "Hợp đồng lao động Bên A Bên B Điều 1 Thời hạn và công việc hợp đồng Điều 2 Chế độ",
)


def _page_label(truth: FileTruth) -> dict[int, str]:
    return {n: doc.doc_type for doc in truth.documents for n in doc.pages}


def _ocr_job(args: tuple[str, int]) -> tuple[str, int, str]:
    path, number = args
    data = Path(path).read_bytes()
    result = digitise_page(data, triage(data, Limits()), number, 300, "vie", 300)
    return path, number, result.page.text


def _noisy(text: str, rng: random.Random) -> str:
    from pipeline.doctype_model import normalise

    out = []
    for ch in text:
        r = rng.random()
        if r < 0.03:
            continue
        if r < 0.05:
            out.append(rng.choice("abcdefghiklmnopqrstuvxy0123456789"))
            continue
        out.append(ch)
    noisy = "".join(out)
    return normalise(noisy) if rng.random() < 0.5 else noisy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()

    corpus = Path("bench-results") / f"corpus-train-{args.seed}-{args.count}"
    if not (corpus / "truth.jsonl").exists():
        build_corpus(corpus, seed=args.seed, count=args.count)
    truths = load_truth(corpus)
    rng = random.Random(args.seed)
    jobs = [(str(corpus / t.file), p.number) for t in truths for p in t.pages]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        ocr = {(path, n): text for path, n, text in pool.map(_ocr_job, jobs)}
    print(f"OCR of {len(jobs)} pages: {time.perf_counter() - t0:.0f} s")

    texts: list[str] = []
    labels: list[str] = []
    groups: list[int] = []
    for i, t in enumerate(truths):
        label = _page_label(t)
        for page in t.pages:
            doc_type = label.get(page.number, "unknown")
            texts.append(ocr[(str(corpus / t.file), page.number)])
            labels.append(doc_type)
            groups.append(i)
            printed = "\n".join(page.lines)
            for _ in range(2):
                texts.append(_noisy(printed, rng))
                labels.append(doc_type)
                groups.append(i)
    for j, text in enumerate(UNKNOWN_TEXTS):
        for _ in range(8):
            texts.append(_noisy(text, rng))
            labels.append("unknown")
            groups.append(-1 - j)

    held_out = {i for i in range(len(truths)) if i % 5 == 0}
    train = [k for k, g in enumerate(groups) if g not in held_out]
    test = [k for k, g in enumerate(groups) if g in held_out and k % 3 == 0]  # OCR'd pages
    vec = vectorizer(N_FEATURES, NGRAMS)
    x = vec.transform(texts)
    y = np.array(labels)
    clf = LogisticRegression(C=20.0, max_iter=3000)
    clf.fit(x[train], y[train])
    pred = clf.predict(x[test])
    print(classification_report(y[test], pred, zero_division=0))
    macro = f1_score(y[test], pred, average="macro")
    print(f"held-out macro-F1 (OCR'd pages of unseen files): {macro:.3f}")

    clf.fit(x, y)
    model = DocTypeModel(
        version="1",
        classes=tuple(str(c) for c in clf.classes_),
        coef=clf.coef_.astype(np.float32),
        intercept=clf.intercept_.astype(np.float32),
        n_features=N_FEATURES,
        ngrams=NGRAMS,
        meta={
            "corpus_seed": args.seed,
            "corpus_files": len(truths),
            "pages": len(jobs),
            "held_out_macro_f1": round(float(macro), 4),
        },
    )
    model.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
