"""The compact predictor: a fitted model as plain arrays, served without
scikit-learn and without pickle.

Why: importing scikit-learn and unpickling its vectorizers takes seconds,
and scikit-learn's character n-gram analyzer runs in pure Python, a few
milliseconds per article. The compact form stores vocabularies, IDF weights
and linear coefficients in a ``.npz`` file (loaded with
``allow_pickle=False``: no code runs at load time) and computes character
n-grams for a whole batch at once with numpy rolling hashes.

:func:`compile_model` turns a fitted :class:`~newstag.models.MultiLabelModel`
into a :class:`CompactModel` when every part is supported (word / char_wb
TF-IDF, alias counts, and linear heads: logistic regression, Platt-calibrated
margins, modified-Huber SGD); otherwise it raises :class:`Unsupported` and
the scikit-learn pipeline is used. Tests check both give the same
probabilities.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from newstag.aliases import AliasMatcher
from newstag.text import prepare

FORMAT_VERSION = 1
_BASE = np.uint64(1_000_003)
_WORD_SEP = "\x00"


class Unsupported(ValueError):
    """The model has a part the compact predictor does not implement."""


def _hash_str(s: str) -> int:
    h = 0
    for ch in s:
        h = (h * 1_000_003 + ord(ch)) & 0xFFFFFFFFFFFFFFFF
    return h


# ----------------------------------------------------------------------- blocks


class _Prep:
    def __init__(self, p: dict[str, Any]):
        self.p = p
        self.key = tuple(sorted(p.items()))

    def __call__(self, articles: Sequence[Any]) -> list[str]:
        return prepare(articles, **self.p)


def _tfidf_finish(rows: np.ndarray, cols: np.ndarray, n_docs: int, idf: np.ndarray, sublinear: bool, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts -> (sublinear) TF x IDF -> L2-normalised rows, as COO triplets."""
    if len(rows) == 0:
        return rows, cols, np.zeros(0, dtype=dtype)
    key = rows.astype(np.int64) * len(idf) + cols
    uniq, counts = np.unique(key, return_counts=True)
    r, c = (uniq // len(idf)).astype(np.int64), (uniq % len(idf)).astype(np.int64)
    v = counts.astype(dtype)
    if sublinear:
        v = np.log(v) + 1
    v = v * idf[c].astype(dtype)
    norms = np.sqrt(np.bincount(r, weights=(v.astype(np.float64) ** 2), minlength=n_docs)).astype(dtype)
    v = v / norms[r]
    return r, c, v


class _Tfidf:
    """A compiled ``TextField`` + ``TfidfVectorizer`` (word or char_wb)."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str):
        self.meta = meta
        self.prep = _Prep(meta["prep"])
        self.idf = arrays[f"{prefix}idf"]
        self.dtype = np.dtype(meta["dtype"])
        self.terms = arrays[f"{prefix}terms"]
        lo, hi = meta["ngram_range"]
        self.lo, self.hi = lo, hi
        if meta["analyzer"] == "word":
            self.vocab = {t: i for i, t in enumerate(self.terms.tolist())}
            self.token = re.compile(meta["token_pattern"])
            self.stop = frozenset(meta["stop_words"] or ())
        else:
            self.tables = {}
            for n in range(lo, hi + 1):
                self.tables[n] = (arrays[f"{prefix}h{n}"], arrays[f"{prefix}c{n}"])

    @property
    def width(self) -> int:
        return len(self.idf)

    def names(self) -> list[str]:
        return self.terms.tolist()

    def transform(self, articles: Sequence[Any], prepared: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``prepared`` caches prepared texts by preparation settings, so blocks
        that share them (word and char of one model) prepare each text once."""
        prepared = {} if prepared is None else prepared
        if self.prep.key not in prepared:
            prepared[self.prep.key] = self.prep(articles)
        docs = prepared[self.prep.key]
        rows, cols = self._word(docs) if self.meta["analyzer"] == "word" else self._char_wb(docs)
        return _tfidf_finish(rows, cols, len(docs), self.idf, self.meta["sublinear_tf"], self.dtype)

    def _word(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        rows: list[int] = []
        cols: list[int] = []
        get, stop = self.vocab.get, self.stop
        for i, doc in enumerate(docs):
            toks = [t for t in self.token.findall(doc) if t not in stop]
            for n in range(self.lo, self.hi + 1):
                grams = toks if n == 1 else [" ".join(toks[k : k + n]) for k in range(len(toks) - n + 1)]
                for g in grams:
                    c = get(g)
                    if c is not None:
                        rows.append(i)
                        cols.append(c)
        return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)

    def _char_wb(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All char n-grams of each space-padded word, for the whole batch at once.

        scikit-learn's ``char_wb`` takes the n-grams of ``" " + word + " "``
        for each word: in the text ``" w1 w2 ... "`` these are exactly the
        windows with no space except possibly at their two ends.
        """
        padded = [" " + " ".join(d.split()) + " " for d in docs]
        text = _WORD_SEP.join(padded)
        codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32).astype(np.uint64)
        lengths = np.fromiter((len(p) for p in padded), dtype=np.int64, count=len(padded))
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        doc_of = np.repeat(np.arange(len(docs)), lengths + 1)[: len(codes)]
        is_space = codes == 32
        is_sep = np.zeros(len(codes), dtype=bool)
        is_sep[(starts + lengths)[:-1]] = True
        rows, cols = [], []
        for n in range(self.lo, self.hi + 1):
            m = len(codes) - n + 1
            if m <= 0:
                continue
            h = np.zeros(m, dtype=np.uint64)
            bad = np.zeros(m, dtype=bool)
            for k in range(n):
                h = h * _BASE + codes[k : k + m]
                bad |= is_sep[k : k + m]
                if 0 < k < n - 1:
                    bad |= is_space[k : k + m]
            keys, table_cols = self.tables[n]
            ok = np.flatnonzero(~bad)
            hk = h[ok]
            pos = np.searchsorted(keys, hk)
            pos[pos == len(keys)] = 0
            hit = keys[pos] == hk if len(keys) else np.zeros(len(hk), dtype=bool)
            rows.append(doc_of[ok[hit]])
            cols.append(table_cols[pos[hit]])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)


class _Alias:
    def __init__(self, meta: dict[str, Any]):
        self.meta = meta
        self.matcher = AliasMatcher(meta["labels"], meta["loose"], meta["exact"])
        self.names_ = meta["names"]

    @property
    def width(self) -> int:
        return len(self.names_)

    def names(self) -> list[str]:
        return list(self.names_)

    def transform(self, articles: Sequence[Any], prepared: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dense = self.matcher.matrix(articles, self.meta["title_separate"], self.meta["sublinear"])
        r, c = np.nonzero(dense)
        return r, c, dense[r, c]


# ----------------------------------------------------------------------- model


class CompactModel:
    """Probabilities from arrays. Same ``labels_``/``thresholds_``/
    ``predict_proba`` surface as :class:`~newstag.models.MultiLabelModel`."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        if meta.get("format") != FORMAT_VERSION:
            raise Unsupported(f"compact format {meta.get('format')} is not {FORMAT_VERSION}")
        self.meta = meta
        self.labels_ = list(meta["labels"])
        self.thresholds_ = arrays["thresholds"]
        self.blocks: list[tuple[Any, int, float]] = []
        offset = 0
        for k, b in enumerate(meta["blocks"]):
            block = _Tfidf(b, arrays, f"b{k}_") if b["type"] == "tfidf" else _Alias(b)
            self.blocks.append((block, offset, float(b.get("weight", 1.0))))
            offset += block.width
        self.n_features = offset
        self.W = arrays["W"]  # features x units
        self.bias = arrays["bias"]
        self.link = arrays["link"]  # 0 logistic (p = expit(-(a f + b))), 1 modified Huber, 2 constant
        self.a, self.b = arrays["a"], arrays["b"]
        self.unit_label = arrays["unit_label"]
        self._names: np.ndarray | None = None

    # features
    def transform(self, articles: Sequence[Any]):
        import scipy.sparse as sp

        rows, cols, vals = [], [], []
        prepared: dict = {}
        for block, offset, weight in self.blocks:
            r, c, v = block.transform(articles, prepared)
            rows.append(r)
            cols.append(c + offset)
            vals.append(v * weight if weight != 1.0 else v)
        X = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(articles), self.n_features))
        X.sum_duplicates()
        return X

    def feature_names(self) -> np.ndarray:
        if self._names is None:
            prefixes = [b["name"] for b in self.meta["blocks"]]
            self._names = np.array([f"{p}__{n}" for (block, _, _), p in zip(self.blocks, prefixes) for n in block.names()], dtype=object)
        return self._names

    def contributions(self) -> np.ndarray:
        """Labels x features weights (units of a label averaged)."""
        out = np.zeros((len(self.labels_), self.n_features), dtype=np.float32)
        counts = np.bincount(self.unit_label, minlength=len(self.labels_))
        for u, label in enumerate(self.unit_label):
            w = self.W[:, u] * (-self.a[u] if self.link[u] == 0 else 1.0)
            out[label] += w / max(counts[label], 1)
        return out

    # probabilities
    def decision_units(self, X) -> np.ndarray:
        return np.asarray(X @ self.W, dtype=np.float64) + self.bias

    def predict_proba(self, articles: Sequence[Any]) -> np.ndarray:
        articles = list(articles)
        if not articles:
            return np.zeros((0, len(self.labels_)))
        F = self.decision_units(self.transform(articles))
        P = np.empty_like(F)
        logistic = self.link == 0
        z = -(self.a[logistic] * F[:, logistic] + self.b[logistic])
        P[:, logistic] = 1.0 / (1.0 + np.exp(-z))
        huber = self.link == 1
        P[:, huber] = (np.clip(F[:, huber], -1, 1) + 1) / 2
        const = self.link == 2
        P[:, const] = self.b[const]
        out = np.zeros((len(articles), len(self.labels_)))
        np.add.at(out.T, self.unit_label, P.T)
        return out / np.bincount(self.unit_label, minlength=len(self.labels_))

    def alias_matcher(self) -> AliasMatcher | None:
        for block, _, _ in self.blocks:
            if isinstance(block, _Alias):
                return block.matcher
        return None


def to_bytes(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The ``.npz`` form: arrays plus JSON metadata, nothing pickled."""
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
    return buf.getvalue()


def load_bytes(data: bytes) -> CompactModel:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    return CompactModel(meta, arrays)


# --------------------------------------------------------------------- compile


def _compile_tfidf(name: str, step: Any, k: int, arrays: dict[str, np.ndarray], weight: float) -> dict[str, Any]:
    from newstag.features import TextField

    prep, vec = step.named_steps.get("prep"), step.steps[-1][1]
    if not isinstance(prep, TextField) or type(vec).__name__ != "TfidfVectorizer":
        raise Unsupported(f"feature block {name!r} is not TextField + TfidfVectorizer")
    if vec.lowercase or vec.preprocessor is not None or vec.tokenizer is not None or vec.strip_accents or vec.norm != "l2" or not vec.use_idf or vec.binary:
        raise Unsupported(f"feature block {name!r} uses vectorizer options the compact predictor does not implement")
    if vec.analyzer not in ("word", "char_wb") or (vec.analyzer == "char_wb" and vec.ngram_range[0] < 2) or vec.ngram_range[0] > 3:
        raise Unsupported(f"feature block {name!r}: analyzer {vec.analyzer} {vec.ngram_range}")
    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
    arrays[f"b{k}_terms"] = np.array(terms, dtype=str)
    arrays[f"b{k}_idf"] = vec.idf_.astype(np.float64)
    if vec.analyzer == "char_wb":
        lo, hi = vec.ngram_range
        for n in range(lo, hi + 1):
            pairs = sorted((_hash_str(t), c) for t, c in vec.vocabulary_.items() if len(t) == n)
            keys = np.array([h for h, _ in pairs], dtype=np.uint64)
            if len(np.unique(keys)) != len(keys):
                raise Unsupported("hash collision in the character vocabulary")
            arrays[f"b{k}_h{n}"] = keys
            arrays[f"b{k}_c{n}"] = np.array([c for _, c in pairs], dtype=np.int64)
        if any(len(t) < lo or len(t) > hi for t in terms):
            raise Unsupported("character vocabulary holds n-grams outside the n-gram range")
    return {
        "type": "tfidf",
        "name": name,
        "weight": weight,
        "analyzer": vec.analyzer,
        "ngram_range": list(vec.ngram_range),
        "token_pattern": vec.token_pattern,
        "stop_words": sorted(vec.get_stop_words() or []),
        "sublinear_tf": bool(vec.sublinear_tf),
        "dtype": np.dtype(vec.dtype).name,
        "prep": {"field": prep.field, "title_weight": prep.title_weight, "unicode_form": prep.unicode_form, "lowercase": prep.lowercase, "strip_accents": prep.strip_accents},
    }


def _compile_alias(name: str, step: Any, weight: float) -> dict[str, Any]:
    m = step.matcher_
    return {
        "type": "alias",
        "name": name,
        "weight": weight,
        "labels": m.labels,
        "loose": m.loose,
        "exact": m.exact,
        "names": [str(n) for n in step.feature_names_],
        "title_separate": bool(step.title_separate),
        "sublinear": bool(step.sublinear),
    }


def _units(clf: Any, n_features: int):
    """Linear units of a fitted OneVsRestClassifier: (w, bias, link, a, b, label)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from newstag.models import SigmoidCalibrated

    units = []
    for label, est in enumerate(clf.estimators_):
        kind = type(est).__name__
        if kind == "_ConstantPredictor":
            p = float(np.ravel(est.y_)[0]) if hasattr(est, "y_") else 0.0
            units.append((np.zeros(n_features), 0.0, 2, 0.0, p, label))
        elif isinstance(est, LogisticRegression):
            units.append((est.coef_.ravel(), float(est.intercept_[0]), 0, -1.0, 0.0, label))
        elif isinstance(est, SGDClassifier) and est.loss == "modified_huber":
            units.append((est.coef_.ravel(), float(est.intercept_[0]), 1, 0.0, 0.0, label))
        elif isinstance(est, SigmoidCalibrated) and est.platt_ is not None:
            inner, platt = est.model_, est.platt_
            # p = expit(pw * (w.x + b) + pb) = expit(-(a f + b')) with a = -pw, b' = -pb
            units.append((inner.coef_.ravel(), float(np.ravel(inner.intercept_)[0]), 0, -float(platt.coef_[0, 0]), -float(platt.intercept_[0]), label))
        elif isinstance(est, SigmoidCalibrated) and isinstance(est.model_, CalibratedClassifierCV):
            for cc in est.model_.calibrated_classifiers_:
                (cal,) = cc.calibrators
                inner = cc.estimator
                if not hasattr(inner, "coef_") or type(cal).__name__ != "_SigmoidCalibration":
                    raise Unsupported(f"label {label}: calibrated {type(inner).__name__}")
                units.append((inner.coef_.ravel(), float(np.ravel(inner.intercept_)[0]), 0, float(cal.a_), float(cal.b_), label))
        else:
            raise Unsupported(f"label {label}: {kind} has no compact form")
    return units


def compile_model(model: Any) -> tuple[CompactModel, dict[str, np.ndarray]]:
    """Compile a fitted MultiLabelModel; raise :class:`Unsupported` when a
    part has no compact form. Returns the model and its arrays (to save)."""
    from sklearn.pipeline import FeatureUnion

    from newstag.features import AliasCounter

    features = model.pipeline_.named_steps["features"]
    parts = features.transformer_list if isinstance(features, FeatureUnion) else [("features", features)]
    weights = (features.transformer_weights or {}) if isinstance(features, FeatureUnion) else {}
    arrays: dict[str, np.ndarray] = {}
    blocks = []
    for k, (name, step) in enumerate(parts):
        weight = float(weights.get(name, 1.0))
        if isinstance(step, AliasCounter):
            blocks.append(_compile_alias(name, step, weight))
        elif hasattr(step, "named_steps"):
            blocks.append(_compile_tfidf(name, step, k, arrays, weight))
        else:
            raise Unsupported(f"feature block {name!r}: {type(step).__name__}")
    n_features = sum(len(arrays[f"b{k}_idf"]) if b["type"] == "tfidf" else len(b["names"]) for k, b in enumerate(blocks))
    units = _units(model.pipeline_.named_steps["clf"], n_features)
    arrays["W"] = np.column_stack([u[0] for u in units]).astype(np.float64)
    arrays["bias"] = np.array([u[1] for u in units], dtype=np.float64)
    arrays["link"] = np.array([u[2] for u in units], dtype=np.int8)
    arrays["a"] = np.array([u[3] for u in units], dtype=np.float64)
    arrays["b"] = np.array([u[4] for u in units], dtype=np.float64)
    arrays["unit_label"] = np.array([u[5] for u in units], dtype=np.int64)
    arrays["thresholds"] = np.asarray(model.thresholds_, dtype=np.float64)
    meta = {"format": FORMAT_VERSION, "labels": list(model.labels_), "blocks": blocks}
    if not math.isfinite(float(np.abs(arrays["W"]).sum())):
        raise Unsupported("non-finite coefficients")
    return CompactModel(meta, arrays), arrays
