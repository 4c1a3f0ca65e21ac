"""The co-label stacker (newstag.learn.colabel)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone

from newstag.learn.colabel import CoLabelStacked


class _Base(BaseEstimator):
    """A stand-in base model: its scores are column 0 of X for label A, and a
    weak echo of it for label B; out-of-fold scores are the same."""

    def __init__(self, threshold_floor=0.1, threshold_ceiling=0.9, min_positives=3, default_threshold=0.5):
        self.threshold_floor = threshold_floor
        self.threshold_ceiling = threshold_ceiling
        self.min_positives = min_positives
        self.default_threshold = default_threshold

    def predict_proba(self, X):
        a = np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([a, 0.5 + 0.05 * (a - 0.5), np.full(len(a), 0.01)])

    def fit(self, X, Y, progress=None):
        self.labels_ = ["a", "b", "never"]
        self.oof_proba_ = self.predict_proba(X)
        return self


def test_a_label_learns_from_the_label_it_travels_with():
    rng = np.random.default_rng(0)
    X = rng.random((400, 1))
    a = (X[:, 0] > 0.5).astype(int)
    Y = np.column_stack([a, a, np.zeros(400, dtype=int)])  # b always comes with a; "never" never occurs
    model = CoLabelStacked(_Base(), C=10.0).fit(X, Y)
    P = model.predict_proba(np.array([[0.9], [0.1]]))
    assert P[0, 1] > 0.8 and P[1, 1] < 0.2  # b, hesitant in the base model, now follows a
    assert model.coef_[2, 2] == 1.0 and not model.coef_[2, :2].any()  # a constant label keeps its score
    assert model.thresholds_.shape == (3,) and model.oof_proba_.shape == (400, 3)
    assert (model.predict(np.array([[0.9]])) == [[1, 1, 0]]).all()


def test_estimator_contract():
    m = CoLabelStacked(_Base(), C=2.0)
    assert clone(m).get_params()["C"] == 2.0 and "base__min_positives" in m.get_params()
