"""Labels that travel together: a per-label logistic stacker over the logits of
*every* label of the base model.

One-vs-rest models score each label alone, so "a leader's call that also
announces arms" can come out as a confident ``military_aid`` and a hesitant
``diplomacy``. The stacker lets each label's probability depend on the
others' (out-of-fold, so it learns from honest scores), and thresholds are
tuned again on the stacked out-of-fold probabilities.

Chosen in config: ``conf/colabel/logits.yaml`` (``colabel@tasks.topics.colabel=logits``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from newstag.engine.roles import logit
from newstag.learn.models import StackedOnBase
from newstag.learn.thresholds import tune_thresholds


class CoLabelStacked(StackedOnBase, BaseEstimator, ClassifierMixin):
    """``base`` (a :class:`~newstag.learn.models.MultiLabelModel`) followed by
    one logistic regression per label on the logits of all labels.

    Parameters
    ----------
    base : MultiLabelModel
    C : float
        Inverse regularisation of the per-label stackers.
    """

    def __init__(self, base: Any, C: float = 1.0):
        self.base = base
        self.C = C

    def fit(self, X: Sequence[Any], Y: Any, progress: Callable[[str], None] | None = None) -> CoLabelStacked:
        Y = np.asarray(Y, dtype=int)
        base = clone(self.base)
        base.fit(list(X), Y, progress=progress)
        self.base_ = base
        self.labels_ = list(base.labels_)
        P_oof = base.oof_proba_ if getattr(base, "oof_proba_", None) is not None else base.predict_proba(list(X))
        Z = logit(P_oof)
        self.coef_ = np.zeros((Y.shape[1], Y.shape[1]))
        self.intercept_ = np.zeros(Y.shape[1])
        for j in range(Y.shape[1]):
            if len(np.unique(Y[:, j])) == 2:
                lr = LogisticRegression(C=self.C, max_iter=1000).fit(Z, Y[:, j])
                self.coef_[j], self.intercept_[j] = lr.coef_[0], lr.intercept_[0]
            else:  # a constant label keeps the base model's score
                self.coef_[j, j] = 1.0
        self.oof_proba_ = self._stack(P_oof)
        self.thresholds_ = tune_thresholds(
            Y, self.oof_proba_, floor=base.threshold_floor, ceiling=base.threshold_ceiling, min_positives=base.min_positives, default=base.default_threshold
        )
        return self

    def _stack(self, P: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(logit(P) @ self.coef_.T + self.intercept_)))

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        return self._stack(self.base_.predict_proba(list(X)))
