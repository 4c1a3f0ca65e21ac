"""Classifiers: the factories ``conf/model/*.yaml`` call, and the task model.

:class:`MultiLabelModel` is what gets trained, saved and served for a task:
features + one-vs-rest classifier + per-label thresholds tuned on
out-of-fold predictions. It is a scikit-learn estimator (parameters set in
``__init__`` only, learned state in ``*_`` attributes), so it clones, pickles
and grid-searches like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from newstag.features import slim
from newstag.thresholds import tune_thresholds

log = logging.getLogger(__name__)


class SigmoidCalibrated(BaseEstimator, ClassifierMixin):
    """Give a margin classifier (LinearSVC, RidgeClassifier...) a ``predict_proba``.

    Platt scaling on cross-validated decision values when each class has at
    least ``cv`` members; with fewer (a rare label in a small fold) the
    sigmoid is fitted on the training decision values instead of failing.
    """

    def __init__(self, estimator: Any, cv: int = 3):
        self.estimator = estimator
        self.cv = cv

    def fit(self, X: Any, y: Any) -> SigmoidCalibrated:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) > 1 and np.bincount(y.astype(int)).min() >= self.cv:
            self.model_ = CalibratedClassifierCV(clone(self.estimator), cv=self.cv, method="sigmoid").fit(X, y)
            self.platt_ = None
        else:
            self.model_ = clone(self.estimator).fit(X, y)
            scores = self.model_.decision_function(X).reshape(-1, 1)
            self.platt_ = LogisticRegression().fit(scores, y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.platt_ is None:
            return self.model_.predict_proba(X)
        return self.platt_.predict_proba(self.model_.decision_function(X).reshape(-1, 1))

    def decision_function(self, X: Any) -> np.ndarray:
        if self.platt_ is None:
            est = self.model_.calibrated_classifiers_[0].estimator
            return est.decision_function(X)
        return self.model_.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def one_vs_rest(estimator: Any, calibrate: bool = False, calibration_cv: int = 3, n_jobs: int | None = None) -> OneVsRestClassifier:
    """One binary classifier per label; ``calibrate`` adds Platt scaling for
    estimators without ``predict_proba``."""
    if calibrate:
        estimator = SigmoidCalibrated(estimator, cv=calibration_cv)
    return OneVsRestClassifier(estimator, n_jobs=n_jobs)


def _linear_contributions(clf: Any) -> np.ndarray | None:
    """Per-label weight matrix (labels x features) when the model is linear.

    A calibrated margin counts with its calibration slope, so every label's
    weights are on the scale of its probability's log-odds (the compact
    predictor computes the same matrix).
    """
    rows = []
    for est in getattr(clf, "estimators_", []):
        if isinstance(est, SigmoidCalibrated) and est.platt_ is not None:
            rows.append(est.platt_.coef_[0, 0] * est.model_.coef_.ravel())
        elif isinstance(est, SigmoidCalibrated):
            cals = est.model_.calibrated_classifiers_
            rows.append(np.mean([-cc.calibrators[0].a_ * cc.estimator.coef_.ravel() for cc in cals], axis=0))
        elif hasattr(est, "coef_"):
            rows.append(np.asarray(est.coef_).ravel())
        elif hasattr(est, "feature_log_prob_"):  # naive Bayes: log-odds per feature
            rows.append(est.feature_log_prob_[1] - est.feature_log_prob_[0])
        elif type(est).__name__ == "_ConstantPredictor":
            rows.append(None)
        else:
            return None
    width = next((len(r) for r in rows if r is not None), 0)
    if not rows or not width:
        return None
    return np.vstack([r if r is not None else np.zeros(width) for r in rows])


class MultiLabelModel(BaseEstimator, ClassifierMixin):
    """Features + one-vs-rest classifier + per-label thresholds.

    Parameters
    ----------
    features : transformer
        Articles -> feature matrix (see :mod:`newstag.features`).
    classifier : estimator
        Multi-label classifier with ``predict_proba`` (see :func:`one_vs_rest`).
    labels : sequence of str
        Names of the columns of ``Y``.
    threshold_folds : int
        Folds of the out-of-fold predictions used to tune thresholds; ``0``
        keeps every threshold at ``default_threshold``.
    threshold_floor, threshold_ceiling : float
        Bounds of a tuned threshold.
    min_positives : int
        Fewer positives than this: no tuning, ``default_threshold``.
    default_threshold : float
    random_state : int
        Seed of the folds.
    """

    def __init__(
        self,
        features: Any,
        classifier: Any,
        labels: Sequence[str] = (),
        threshold_folds: int = 5,
        threshold_floor: float = 0.1,
        threshold_ceiling: float = 0.9,
        min_positives: int = 3,
        default_threshold: float = 0.5,
        random_state: int = 0,
    ):
        self.features = features
        self.classifier = classifier
        self.labels = labels
        self.threshold_folds = threshold_folds
        self.threshold_floor = threshold_floor
        self.threshold_ceiling = threshold_ceiling
        self.min_positives = min_positives
        self.default_threshold = default_threshold
        self.random_state = random_state

    def oof_proba(self, Xf: Any, Y: np.ndarray, progress: Callable[[str], None] | None = None) -> np.ndarray:
        """Out-of-fold probabilities of the classifier over ``threshold_folds``
        iteratively stratified folds of the feature matrix ``Xf``."""
        from newstag.split import kfold_indices

        P = np.zeros(Y.shape, dtype=float)
        folds = kfold_indices(Y, self.threshold_folds, self.random_state)
        for k, (tr, te) in enumerate(folds, 1):
            t0 = time.perf_counter()
            P[te] = clone(self.classifier).fit(Xf[tr], Y[tr]).predict_proba(Xf[te])
            if progress:
                progress(f"threshold fold {k}/{len(folds)} in {time.perf_counter() - t0:.1f}s")
        return P

    def fit(self, X: Sequence[Any], Y: Any, progress: Callable[[str], None] | None = None) -> MultiLabelModel:
        """Fit features once, tune thresholds on out-of-fold predictions, fit
        the classifier on everything.

        The features are label-free (vocabulary, IDF, alias patterns), so
        fitting them on all training articles leaks no label into the
        out-of-fold predictions; only the classifier is refitted per fold.
        """
        X = list(X)
        Y = np.asarray(Y, dtype=int)
        if Y.ndim != 2:
            raise ValueError(f"Y must be a binary matrix (n_samples, n_labels), got shape {Y.shape}")
        self.labels_ = list(self.labels) if len(self.labels) else [str(i) for i in range(Y.shape[1])]
        if len(self.labels_) != Y.shape[1]:
            raise ValueError(f"{len(self.labels_)} label names for {Y.shape[1]} columns")
        t0 = time.perf_counter()
        features = clone(self.features)
        Xf = features.fit_transform(X)
        slim(features)
        if hasattr(Xf, "tocsr"):
            Xf = Xf.tocsr()
            Xf.sort_indices()  # parallel one-vs-rest memory-maps X read-only: sort now, not in a worker
        else:
            Xf = np.asarray(Xf)
        if progress:
            progress(f"features: {Xf.shape[1]} columns in {time.perf_counter() - t0:.1f}s")
        opts = {
            "floor": self.threshold_floor,
            "ceiling": self.threshold_ceiling,
            "min_positives": self.min_positives,
            "default": self.default_threshold,
        }
        if self.threshold_folds and self.threshold_folds > 1 and len(X) >= 2 * self.threshold_folds:
            self.oof_proba_ = self.oof_proba(Xf, Y, progress)
            self.thresholds_ = tune_thresholds(Y, self.oof_proba_, **opts)
        else:
            self.oof_proba_ = None
            self.thresholds_ = np.full(Y.shape[1], float(np.clip(self.default_threshold, self.threshold_floor, self.threshold_ceiling)))
        classifier = clone(self.classifier).fit(Xf, Y)
        self.pipeline_ = Pipeline([("features", features), ("clf", classifier)])
        return self

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        P = self.pipeline_.predict_proba(list(X))
        return np.asarray(P, dtype=float).reshape(len(X), len(self.labels_))

    def predict(self, X: Sequence[Any], thresholds: np.ndarray | float | None = None) -> np.ndarray:
        t = self.thresholds_ if thresholds is None else thresholds
        return (self.predict_proba(X) >= t).astype(int)

    def feature_names(self) -> np.ndarray:
        return self.pipeline_.named_steps["features"].get_feature_names_out()

    def contributions(self) -> np.ndarray | None:
        """Labels x features weights of a linear model (``None`` otherwise)."""
        return _linear_contributions(self.pipeline_.named_steps["clf"])
