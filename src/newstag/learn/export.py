"""Export a fitted :class:`~newstag.learn.models.MultiLabelModel` to the
compact engine's arrays (:mod:`newstag.engine.compact`).

Lives with the estimators because it must know their fitted attributes; the
engine it writes for knows nothing of scikit-learn. A part without a compact
form raises :class:`~newstag.engine.compact.Unsupported` and the registry keeps
the scikit-learn pipeline only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import FeatureUnion

from newstag.engine.compact import _TOKEN_PATTERN, FORMAT_VERSION, ROLES_FORMAT_VERSION, CompactModel, Unsupported, _hash_str
from newstag.learn.features import AliasCounter, TextField
from newstag.learn.models import MultiLabelModel, PlattOneVsRest, SigmoidCalibrated
from newstag.learn.roles import RoleStackedModel


def _compile_tfidf(name: str, step: Any, k: int, arrays: dict[str, np.ndarray], weight: float) -> dict[str, Any]:
    prep, vec = step.named_steps.get("prep"), step.steps[-1][1]
    if not isinstance(prep, TextField) or type(vec).__name__ != "TfidfVectorizer":
        raise Unsupported(f"feature block {name!r} is not TextField + TfidfVectorizer")
    if vec.lowercase or vec.preprocessor is not None or vec.tokenizer is not None or vec.strip_accents or vec.norm != "l2" or not vec.use_idf or vec.binary:
        raise Unsupported(f"feature block {name!r} uses vectorizer options the compact predictor does not implement")
    if vec.analyzer == "word" and vec.token_pattern != _TOKEN_PATTERN:
        raise Unsupported(f"feature block {name!r}: token pattern {vec.token_pattern!r} (only the default, whose tokens never cross a space)")
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
        "prep": {
            "field": prep.field,
            "title_weight": prep.title_weight,
            "unicode_form": prep.unicode_form,
            "lowercase": prep.lowercase,
            "strip_accents": prep.strip_accents,
        },
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
    if isinstance(clf, PlattOneVsRest):
        return _platt_units(clf, n_features)
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


def _platt_units(clf: Any, n_features: int):
    """One unit per label: ``p = expit(a (w.x + b) + c)`` is link 0 with
    ``a' = -a`` and ``b' = -c``; a label constant in training keeps its
    constant probability."""
    units = []
    for label, (est, a, c) in enumerate(zip(clf.classifier_.estimators_, clf.coef_, clf.intercept_)):
        if hasattr(est, "coef_"):
            units.append((np.asarray(est.coef_, dtype=float).ravel(), float(np.ravel(est.intercept_)[0]), 0, -float(a), -float(c), label))
        else:
            p = float(clf.predict_proba(np.zeros((1, n_features)))[0, label])
            units.append((np.zeros(n_features), 0.0, 2, 0.0, p, label))
    return units


def compile_model(model: Any) -> tuple[CompactModel, dict[str, np.ndarray]]:
    """Compile a fitted MultiLabelModel; raise :class:`Unsupported` when a
    part has no compact form. Returns the model and its arrays (to save)."""
    if isinstance(model, RoleStackedModel):
        return _compile_roles(model)
    if not isinstance(model, MultiLabelModel):
        raise Unsupported(f"{type(model).__name__} has no compact form")
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
    # float32 heads: half the bytes a prediction reads (the product is memory
    # bound) and the file size. The features are float32 already; what the
    # rounding changes is measured by benchmarks/float32_heads.py, and
    # tests/test_compact.py holds the labels to scikit-learn's
    arrays["W"] = np.column_stack([u[0] for u in units]).astype(np.float32)
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


def _compile_roles(model: RoleStackedModel) -> tuple[CompactModel, dict[str, np.ndarray]]:
    """The base model's arrays plus the candidate classifier and the stacker."""
    base, arrays = compile_model(model.base_)
    base_meta = base.meta
    matcher, kinds = model.featurizer_.matcher, model.featurizer_.kinds
    role = model.role_
    arrays["roles_coef"] = np.asarray(role.coef_[0], dtype=np.float64) if role is not None else np.zeros(len(model.vectorizer_.feature_names_))
    arrays["thresholds"] = np.asarray(model.thresholds_, dtype=np.float64)
    roles = {
        "window": model.featurizer_.window,
        "matcher": {"labels": matcher.labels, "loose": matcher.loose, "exact": matcher.exact},
        "kinds": {"people": sorted(kinds.people), "adjectives": sorted(kinds.adjectives), "acronyms": sorted(kinds.acronyms)},
        "vocabulary": [str(n) for n in model.vectorizer_.feature_names_],
        "intercept": float(role.intercept_[0]) if role is not None else 0.0,
        "fitted": role is not None,
        "stack_coef": [float(c) for c in model.stacker_.coef_[0]],
        "stack_intercept": float(model.stacker_.intercept_[0]),
    }
    meta = {**base_meta, "format": ROLES_FORMAT_VERSION, "roles": roles}
    return CompactModel(meta, arrays), arrays
