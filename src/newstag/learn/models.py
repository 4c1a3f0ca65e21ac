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
from joblib import parallel_config
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from newstag.learn.features import slim
from newstag.learn.thresholds import tune_thresholds

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


def platt(margins: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid ``p = expit(a * margin + b)`` for one label.

    Fitted on Platt's smoothed targets, ``(n+ + 1) / (n+ + 2)`` and
    ``1 / (n- + 2)``, so a label that the margins separate perfectly still
    gets a finite slope. Written as a weighted, unpenalised logistic
    regression: each article appears once as a positive with weight ``t``
    and once as a negative with weight ``1 - t``.
    """
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.0, float(np.log((n_pos + 1) / (n_neg + 1)))
    t = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    m = np.asarray(margins, dtype=float).reshape(-1, 1)
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(  # C=1e6: no penalty in effect
        np.vstack([m, m]), np.r_[np.ones(len(m)), np.zeros(len(m))], sample_weight=np.r_[t, 1 - t]
    )
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


class PlattOneVsRest(BaseEstimator, ClassifierMixin):
    """One-vs-rest margin classifier (LinearSVC, RidgeClassifier...) with
    Platt scaling fitted on out-of-fold margins.

    Why: calibrating with ``CalibratedClassifierCV`` fits ``cv`` models per
    label, and tuning thresholds on out-of-fold probabilities fits the whole
    calibrated model again per threshold fold (18 fits per label at 5 and
    3 folds). Here one set of ``cv`` folds serves both: their margins fit
    each label's sigmoid, and the resulting out-of-fold probabilities
    (``oof_proba_``) are what :class:`MultiLabelModel` tunes thresholds on.
    Then one fit on all the data: ``cv + 1`` fits per label, and one linear
    unit per label to evaluate at prediction time.

    With ``cv < 2`` (or fewer articles than folds) the sigmoid is fitted on
    the training margins, and ``oof_proba_`` is ``None``.

    Parameters
    ----------
    estimator : classifier with ``decision_function``
    cv : int
        Iteratively stratified folds of the out-of-fold margins.
    n_jobs : int or None
        Labels fitted in parallel (``OneVsRestClassifier``).
    random_state : int
        Seed of the folds.
    """

    def __init__(self, estimator: Any, cv: int = 5, n_jobs: int | None = None, random_state: int = 0):
        self.estimator = estimator
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _ovr(self) -> OneVsRestClassifier:
        return OneVsRestClassifier(clone(self.estimator), n_jobs=self.n_jobs)

    def fit(self, X: Any, Y: Any) -> PlattOneVsRest:
        # liblinear, SGD and BLAS release the GIL: threads share X where
        # worker processes would each receive a copy (measured 1.6x faster
        # on 2 cores for the actors model)
        with parallel_config(prefer="threads"):
            return self._fit(X, Y)

    def _fit(self, X: Any, Y: Any) -> PlattOneVsRest:
        from newstag.data.split import kfold_indices

        Y = np.asarray(Y, dtype=int)
        if Y.ndim != 2:
            raise ValueError(f"Y must be a binary matrix (n_samples, n_labels), got shape {Y.shape}")
        self.classifier_ = self._ovr().fit(X, Y)
        out_of_fold = bool(self.cv and self.cv > 1 and Y.shape[0] >= 2 * self.cv)
        if out_of_fold:
            margins = np.zeros(Y.shape, dtype=float)
            for tr, te in kfold_indices(Y, self.cv, self.random_state):
                margins[te] = self._margins(self._ovr().fit(X[tr], Y[tr]), X[te], Y.shape[1])
        else:
            margins = self._margins(self.classifier_, X, Y.shape[1])
        params = [platt(margins[:, j], Y[:, j]) for j in range(Y.shape[1])]
        self.coef_ = np.array([a for a, _ in params])  # sigmoid slope per label
        self.intercept_ = np.array([b for _, b in params])
        self.oof_proba_ = self._sigmoid(margins) if out_of_fold else None
        self.classes_ = np.arange(Y.shape[1])
        return self

    @staticmethod
    def _margins(ovr: OneVsRestClassifier, X: Any, n_labels: int) -> np.ndarray:
        return np.asarray(ovr.decision_function(X), dtype=float).reshape(-1, n_labels)

    def _sigmoid(self, margins: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(margins * self.coef_ + self.intercept_)))

    def decision_function(self, X: Any) -> np.ndarray:
        return self._margins(self.classifier_, X, len(self.coef_))

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._sigmoid(self.decision_function(X))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)


def one_vs_rest(estimator: Any, calibrate: bool = False, calibration_cv: int = 3, n_jobs: int | None = None) -> OneVsRestClassifier:
    """One binary classifier per label; ``calibrate`` adds Platt scaling for
    estimators without ``predict_proba``."""
    if calibrate:
        estimator = SigmoidCalibrated(estimator, cv=calibration_cv)
    return OneVsRestClassifier(estimator, n_jobs=n_jobs)


def _coef(est: Any, width: int) -> np.ndarray:
    """Weights of one binary linear estimator (zeros for a constant one)."""
    return np.asarray(est.coef_, dtype=float).ravel() if hasattr(est, "coef_") else np.zeros(width)


def _linear_contributions(clf: Any) -> np.ndarray | None:
    """Per-label weight matrix (labels x features) when the model is linear.

    A calibrated margin counts with its calibration slope, so every label's
    weights are on the scale of its probability's log-odds (the compact
    predictor computes the same matrix).
    """
    if isinstance(clf, PlattOneVsRest):
        return clf.coef_[:, None] * np.vstack([_coef(est, clf.classifier_.n_features_in_) for est in clf.classifier_.estimators_])
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


class StackedOnBase:
    """What a model stacked on a fitted ``base_`` (a :class:`MultiLabelModel`)
    shares: decisions by its own ``thresholds_``, and the base model's pipeline,
    feature names and weights for explanations."""

    base_: Any
    thresholds_: np.ndarray

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:  # pragma: no cover - defined by each stacker
        raise TypeError(f"{type(self).__name__} must define predict_proba")

    def predict(self, X: Sequence[Any], thresholds: np.ndarray | float | None = None) -> np.ndarray:
        t = self.thresholds_ if thresholds is None else thresholds
        return (self.predict_proba(X) >= t).astype(int)

    @property
    def pipeline_(self) -> Any:
        return self.base_.pipeline_

    def feature_names(self) -> np.ndarray:
        return self.base_.feature_names()

    def contributions(self) -> np.ndarray | None:
        return self.base_.contributions()


class MultiLabelModel(BaseEstimator, ClassifierMixin):
    """Features + one-vs-rest classifier + per-label thresholds.

    Parameters
    ----------
    features : transformer
        Articles -> feature matrix (see :mod:`newstag.learn.features`).
    classifier : estimator
        Multi-label classifier with ``predict_proba`` (see :func:`one_vs_rest`).
    labels : sequence of str
        Names of the columns of ``Y``.
    threshold_folds : int
        Folds of the out-of-fold predictions used to tune thresholds; ``0``
        keeps every threshold at ``default_threshold``. A classifier that
        makes out-of-fold predictions itself (``oof_proba_`` after ``fit``,
        as :class:`PlattOneVsRest` does) lends them instead, on its own folds.
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
        from newstag.data.split import kfold_indices

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
        t0 = time.perf_counter()
        classifier = clone(self.classifier).fit(Xf, Y)
        if progress:
            progress(f"classifier in {time.perf_counter() - t0:.1f}s")
        tune = bool(self.threshold_folds and self.threshold_folds > 1 and len(X) >= 2 * self.threshold_folds)
        own_oof = getattr(classifier, "oof_proba_", None)
        if tune and own_oof is not None:
            # the classifier already made out-of-fold predictions (PlattOneVsRest): reuse them
            self.oof_proba_: np.ndarray | None = np.asarray(own_oof, dtype=float)
        elif tune:
            self.oof_proba_ = self.oof_proba(Xf, Y, progress)
        else:
            self.oof_proba_ = None
        if self.oof_proba_ is not None:
            self.thresholds_ = tune_thresholds(Y, self.oof_proba_, **opts)
        else:
            self.thresholds_ = np.full(Y.shape[1], float(np.clip(self.default_threshold, self.threshold_floor, self.threshold_ceiling)))
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
