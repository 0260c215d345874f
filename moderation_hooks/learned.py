"""The learned crisis layer: a small logistic model beside the rules.

Features of a message (``Featurizer``):

- the mean and the max of its WordLlama token embeddings (256 dimensions each, static
  embeddings shipped inside the ``wordllama`` wheel; read from the package's own files with
  ``tokenizers`` and ``safetensors.numpy``; the ``wordllama`` loader itself is never called, so
  nothing is ever downloaded);
- hashed word unigrams and bigrams of the text as the rules read it (``crisis_detect.normalise``:
  accents, contractions and slang folded), ``HASH_DIM`` buckets, binary.

Three heads, each a logistic regression with our own numpy training code (``fit``): ``risk``
(moderate or high), ``high`` and ``third_party`` (the message is about someone else). The
weights file (``models/crisis_learned.npz``) is produced deterministically by
``python -m moderation_hooks.train`` and loaded lazily, once per process.

Thresholds are calibrated out of fold on the training data (``calibrate``): ``strong`` is the
lowest score whose out-of-fold false-positive rate on negatives is at most ``STRONG_FP``,
``look`` the same at ``LOOK_FP``.
"""

from __future__ import annotations

import importlib.util
import math
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moderation_hooks.crisis_detect import normalise as rules_normalise

MODEL_PATH = Path(__file__).with_name("models") / "crisis_learned.npz"
HASH_DIM = 1 << 12
CHAR_GRAMS = False  # character 4-grams of words (tried: lower cross-writer recall, more FP; docs)
EMB_DIM = 256
HEADS = ("risk", "high", "third_party")
STRONG_FP = 0.03
LOOK_FP = 0.10
MAX_TOKENS = 256


def wordllama_files() -> tuple[Path, Path]:
    """The tokenizer and embedding files inside the installed ``wordllama`` package (found
    without importing it)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wordllama package is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    tok = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
    weights = root / "weights" / "l2_supercat_256.safetensors"
    if not tok.exists() or not weights.exists():
        raise RuntimeError(f"wordllama files not found under {root}")
    return tok, weights


MEMORY_MAP = True  # share the table's pages between processes (read-only, from the wheel's file)


def _mapped_table(path: Path) -> np.ndarray:
    """The embedding table mapped read-only from the safetensors file (header: 8-byte length,
    JSON with dtype, shape and data offsets); falls back to loading if the layout is unexpected."""
    import json

    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
    meta = header.get("embedding.weight", {})
    if meta.get("dtype") != "F16" or len(meta.get("shape", ())) != 2:
        from safetensors.numpy import load_file

        table: np.ndarray = load_file(str(path))["embedding.weight"]
        return table
    start, end = meta["data_offsets"]
    rows, dim = meta["shape"]
    if end - start != rows * dim * 2:
        raise RuntimeError(f"unexpected embedding layout in {path}")
    return np.memmap(path, dtype=np.float16, mode="r", offset=8 + n + start, shape=(rows, dim))


class Embedder:
    """Token embeddings of a text: a local tokenizer file and a float16 table (16 MB)."""

    def __init__(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        tok_path, weights_path = wordllama_files()
        self.tokenizer = Tokenizer.from_file(str(tok_path))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.table = _mapped_table(weights_path) if MEMORY_MAP else load_file(str(weights_path))["embedding.weight"]

    def pooled(self, text: str) -> np.ndarray:
        ids = self.tokenizer.encode(text.lower(), add_special_tokens=False).ids[:MAX_TOKENS]
        out = np.zeros(2 * EMB_DIM, dtype=np.float32)
        if not ids:
            return out
        vecs = self.table[ids].astype(np.float32)
        mean = vecs.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm > 0:
            mean /= norm
        mx = vecs.max(axis=0)
        mnorm = float(np.linalg.norm(mx))
        if mnorm > 0:
            mx /= mnorm
        out[:EMB_DIM] = mean
        out[EMB_DIM:] = mx
        return out


_BUCKETS: dict[str, int] = {}  # word or bigram -> bucket (bounded cache)


def _bucket(token: str) -> int:
    b = _BUCKETS.get(token)
    if b is None:
        b = zlib.crc32(token.encode()) % HASH_DIM
        if len(_BUCKETS) < 200_000:
            _BUCKETS[token] = b
    return b


def hashed(text: str, sentences: list[str] | None = None) -> list[int]:
    """Bucket indexes of the word unigrams and bigrams (as the rules normalise the text)."""
    out: set[int] = set()
    for sentence in sentences if sentences is not None else rules_normalise(text):
        prev = "<s>"
        for w in sentence.split():
            out.add(_bucket(w))
            out.add(_bucket(prev + " " + w))
            prev = w
            if CHAR_GRAMS and len(w) > 3:
                # character 4-grams of longer words: spelling variants and word forms
                # ("kiero", "morirme", "overdosing") share most of them
                padded = "<" + w + ">"
                out.update(_bucket("#" + padded[i : i + 4]) for i in range(len(padded) - 3))
    return sorted(out)


_EMBEDDER: Embedder | None = None
_LOCK = threading.Lock()


def embedder() -> Embedder:
    global _EMBEDDER
    if _EMBEDDER is None:
        with _LOCK:
            if _EMBEDDER is None:
                _EMBEDDER = Embedder()
    return _EMBEDDER


@dataclass(frozen=True, slots=True)
class Features:
    dense: np.ndarray  # 2 * EMB_DIM float32
    sparse: list[int]  # hashed bucket indexes (value 1)


def features(text: str, sentences: list[str] | None = None) -> Features:
    return Features(embedder().pooled(text), hashed(text, sentences))


def design(batch: list[Features]) -> np.ndarray:
    """Training matrix: dense features then the hashed buckets."""
    x = np.zeros((len(batch), 2 * EMB_DIM + HASH_DIM), dtype=np.float32)
    for i, f in enumerate(batch):
        x[i, : 2 * EMB_DIM] = f.dense
        if f.sparse:
            x[i, 2 * EMB_DIM + np.asarray(f.sparse)] = 1.0
    return x


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, epochs: int = 120, lr: float = 0.08) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression, full-batch Adam from zeros (deterministic)."""
    n, d = x.shape
    pos = max(float(y.sum()), 1.0)
    neg = max(float(n - y.sum()), 1.0)
    sw = np.where(y > 0, n / (2 * pos), n / (2 * neg)).astype(np.float32)
    w = np.zeros(d, dtype=np.float32)
    b = 0.0
    m = np.zeros(d, dtype=np.float32)
    v = np.zeros(d, dtype=np.float32)
    mb = vb = 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, epochs + 1):
        p = _sigmoid(x @ w + b)
        g = (p - y) * sw / n
        gw = x.T @ g + l2 * w
        gb = float(g.sum())
        m = b1 * m + (1 - b1) * gw
        v = b2 * v + (1 - b2) * gw * gw
        mb = b1 * mb + (1 - b1) * gb
        vb = b2 * vb + (1 - b2) * gb * gb
        c1 = 1 - b1**t
        c2 = 1 - b2**t
        w -= lr * (m / c1) / (np.sqrt(v / c2) + eps)
        b -= lr * (mb / c1) / (np.sqrt(vb / c2) + eps)
    return w.astype(np.float32), float(b)


def threshold_at_fp(neg_scores: np.ndarray, fp: float) -> float:
    """The lowest threshold whose false-positive rate on ``neg_scores`` is at most ``fp``."""
    if len(neg_scores) == 0:
        return 0.5
    s = np.sort(neg_scores)[::-1]
    k = int(np.floor(fp * len(s)))  # negatives allowed at or above the threshold
    return float(s[k]) + 1e-6 if k < len(s) else float(s[-1])


@dataclass(frozen=True, slots=True)
class Model:
    weights: dict[str, tuple[np.ndarray, float]]  # head -> (w, b)
    thresholds: dict[str, float]  # "strong", "look", "high", "third_party"
    stacked: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # mean, max, hashed, bias

    def fast(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self.stacked is None:
            heads = [h for h in HEADS if h in self.weights]
            w = np.stack([self.weights[h][0] for h in heads], axis=1).astype(np.float32)
            b = np.array([self.weights[h][1] for h in heads], dtype=np.float32)
            object.__setattr__(
                self,
                "stacked",
                (np.ascontiguousarray(w[:EMB_DIM]), np.ascontiguousarray(w[EMB_DIM : 2 * EMB_DIM]), np.ascontiguousarray(w[2 * EMB_DIM :]), b),
            )
        assert self.stacked is not None
        return self.stacked

    def score_text(self, text: str, sentences: list[str] | None = None) -> dict[str, float]:
        """The heads' probabilities for ``text`` (the post path: few numpy calls)."""
        wm, wx, wh, b = self.fast()
        e = embedder()
        ids = e.tokenizer.encode(text.lower(), add_special_tokens=False).ids[:MAX_TOKENS]
        z = b.copy()
        if ids:
            v = e.table[np.asarray(ids, dtype=np.intp)].astype(np.float32)  # fp16 reductions are slow
            total = v.sum(axis=0)
            mx = v.max(axis=0)
            ns = math.sqrt(float(total @ total)) or 1.0
            nm = math.sqrt(float(mx @ mx)) or 1.0
            z += (total @ wm) / ns + (mx @ wx) / nm
        buckets = hashed(text, sentences)
        if buckets:
            z += wh[buckets].sum(axis=0)
        return {h: 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, zi)))) for h, zi in zip(HEADS, z.tolist(), strict=False)}

    def scores(self, f: Features) -> dict[str, float]:
        out = {}
        for head, (w, b) in self.weights.items():
            z = float(f.dense @ w[: 2 * EMB_DIM]) + b
            if f.sparse:
                z += float(w[2 * EMB_DIM + np.asarray(f.sparse)].sum())
            out[head] = 1.0 / (1.0 + np.exp(-max(-30.0, min(30.0, z))))
        return out

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {}
        for head, (w, b) in self.weights.items():
            arrays[f"w_{head}"] = w.astype(np.float16)
            arrays[f"b_{head}"] = np.array([b], dtype=np.float32)
        for k, t in self.thresholds.items():
            arrays[f"t_{k}"] = np.array([t], dtype=np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Model:
        with np.load(path) as data:
            weights = {h: (data[f"w_{h}"].astype(np.float32), float(data[f"b_{h}"][0])) for h in HEADS if f"w_{h}" in data}
            thresholds = {k[2:]: float(data[k][0]) for k in data.files if k.startswith("t_")}
        return cls(weights, thresholds)


def labels(examples: list[Any]) -> dict[str, np.ndarray]:
    return {
        "risk": np.array([ex.label != "none" for ex in examples], dtype=np.float32),
        "high": np.array([ex.label == "high" for ex in examples], dtype=np.float32),
        "third_party": np.array([ex.category == "third_party" for ex in examples], dtype=np.float32),
    }


def train(examples: list[Any], groups: list[int] | None = None, folds: int = 3, use_hash: bool = True, use_emb: bool = True) -> Model:
    """Fit the three heads on ``examples`` and calibrate thresholds out of fold. ``groups``:
    the writer (source file) of each example; the folds then leave one writer out, so the
    thresholds see the shift to a writer the heads were not fitted on (random folds, when no
    groups are given, see only in-writer scores and set thresholds too high for new writers)."""
    feats = [features(ex.text) for ex in examples]
    x = design(feats)
    if not use_hash:
        x[:, 2 * EMB_DIM :] = 0.0  # embeddings only (design comparison)
    if not use_emb:
        x[:, : 2 * EMB_DIM] = 0.0  # hashed n-grams only (design comparison)
    ys = labels(examples)
    n = len(examples)
    if groups is not None and len(set(groups)) > 1:
        fold_of = np.asarray(groups)
        fold_ids = sorted(set(groups))
    else:
        fold_of = np.arange(n) % folds
        fold_ids = list(range(folds))
    oof = {h: np.zeros(n, dtype=np.float32) for h in HEADS}
    for k in fold_ids:
        tr = fold_of != k
        te = fold_of == k
        for h in HEADS:
            w, b = fit(x[tr], ys[h][tr])
            oof[h][te] = _sigmoid(x[te] @ w + b)
    neg = ys["risk"] == 0
    thresholds = {
        "strong": threshold_at_fp(oof["risk"][neg], STRONG_FP),
        "look": threshold_at_fp(oof["risk"][neg], LOOK_FP),
        # high vs moderate among positives: the score at which at most 10 % of moderate ones
        # would be graded high
        "high": threshold_at_fp(oof["high"][(ys["risk"] == 1) & (ys["high"] == 0)], 0.10),
        "third_party": threshold_at_fp(oof["third_party"][ys["third_party"] == 0], 0.02),
    }
    weights = {h: fit(x, ys[h]) for h in HEADS}
    return Model(weights, thresholds)


_MODEL: Model | None = None


def default_model() -> Model:
    global _MODEL
    if _MODEL is None:
        with _LOCK:
            if _MODEL is None:
                _MODEL = Model.load()
    return _MODEL
