"""Statistical document-type classifier: character n-grams of OCR text, a linear model.

Title rules fail when OCR mangles the title or a page has none; the words on
the rest of the page still say what it is. Features are hashed character
n-grams of the accent-folded text (stateless: no vocabulary to ship), and the
model is a multinomial logistic regression stored as plain arrays in an
``.npz`` read with ``allow_pickle=False``: loading it executes no code.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

MODEL_PATH = Path(__file__).resolve().parents[1] / "config" / "models" / "doctype-v1.npz"
N_FEATURES = 2**16
NGRAMS = (2, 4)


def normalise(text: str) -> str:
    """Lower-case, accents and đ folded, whitespace collapsed: what OCR keeps reliably."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(stripped.lower().split())


@cache
def vectorizer(n_features: int = N_FEATURES, ngrams: tuple[int, int] = NGRAMS) -> HashingVectorizer:
    return HashingVectorizer(
        n_features=n_features,
        analyzer="char_wb",
        ngram_range=ngrams,
        alternate_sign=False,
        norm="l2",
        preprocessor=normalise,
    )


@dataclass(frozen=True)
class DocTypeModel:
    version: str
    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, features), float32
    intercept: np.ndarray  # (classes,)
    n_features: int
    ngrams: tuple[int, int]
    meta: dict[str, object]

    def probabilities(self, text: str) -> dict[str, float]:
        x = vectorizer(self.n_features, self.ngrams).transform([text])
        scores = np.asarray(x @ self.coef.T).ravel() + self.intercept
        scores -= scores.max()
        p = np.exp(scores)
        p /= p.sum()
        return {c: float(v) for c, v in zip(self.classes, p, strict=True)}

    def predict(self, text: str) -> tuple[str, float]:
        probs = self.probabilities(text)
        best = max(probs, key=probs.__getitem__)
        return best, probs[best]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            classes=np.array(self.classes, dtype="U64"),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            meta=np.array(
                json.dumps(
                    {
                        **self.meta,
                        "version": self.version,
                        "n_features": self.n_features,
                        "ngrams": list(self.ngrams),
                    }
                )
            ),
        )


def load_model(path: Path = MODEL_PATH) -> DocTypeModel:
    """Plain arrays only (allow_pickle=False): a tampered file cannot run code."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        return DocTypeModel(
            version=str(meta["version"]),
            classes=tuple(str(c) for c in data["classes"]),
            coef=data["coef"].astype(np.float32),
            intercept=data["intercept"].astype(np.float32),
            n_features=int(meta["n_features"]),
            ngrams=(int(meta["ngrams"][0]), int(meta["ngrams"][1])),
            meta=meta,
        )


@cache
def default_model() -> DocTypeModel | None:
    """The shipped model, or None when it has not been trained (`make train`)."""
    return load_model(MODEL_PATH) if MODEL_PATH.exists() else None
