"""Role-aware actor model: today's per-label model stacked with one shared
classifier of how each named actor appears.

The per-label model sees a bag of words and alias counts: "ROMA –" and "the
Italian government decided" weigh alike for ``italy``. The *candidate*
classifier sees one row per (article, actor named in it), described by
:mod:`newstag.text.mentions` (masked context words, dateline / quote / lede
positions, share of mentions) and shared by all actors, so patterns learned on
frequent actors transfer to rare ones. A small shared stacker combines the two
on out-of-fold probabilities, and per-label thresholds are tuned on the
stacked out-of-fold probabilities.

Chosen in config: ``conf/roles/mentions.yaml`` wraps the task's model;
``roles=null`` keeps the per-label model alone (compared by ``cv.folds=5``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from newstag.engine.roles import stack_inputs
from newstag.learn.models import StackedOnBase
from newstag.learn.thresholds import tune_thresholds
from newstag.schema.labels import load_schema
from newstag.text.mentions import MentionFeaturizer, alias_kinds


class RoleStackedModel(StackedOnBase, BaseEstimator, ClassifierMixin):
    """A per-label model (``base``, a :class:`~newstag.learn.models.MultiLabelModel`)
    stacked with a shared candidate classifier of actor mentions.

    Parameters
    ----------
    base : MultiLabelModel
        Today's model; its out-of-fold probabilities feed the stacker.
    schema : str or None
        Label schema whose aliases find the candidates (``None``: bundled).
    kind : str
        The label kind (``actors``).
    window : int
        Context words on each side of a mention.
    C : float
        Inverse regularisation of the candidate classifier.
    min_count : int
        A mention feature seen in fewer training candidates is dropped.
    folds : int
        Folds of the candidate classifier's out-of-fold probabilities (0:
        the base model's ``threshold_folds``).
    random_state : int
    """

    def __init__(
        self,
        base: Any,
        schema: str | None = None,
        kind: str = "actors",
        window: int = 6,
        C: float = 0.5,
        min_count: int = 2,
        folds: int = 0,
        random_state: int = 0,
    ):
        self.base = base
        self.schema = schema
        self.kind = kind
        self.window = window
        self.C = C
        self.min_count = min_count
        self.folds = folds
        self.random_state = random_state

    # ----------------------------------------------------------- candidates

    def _featurizer(self) -> MentionFeaturizer:
        from newstag.learn.features import AliasCounter

        schema = load_schema(self.schema)
        labels = [schema.get(self.kind, i) for i in schema.ids(self.kind)]
        people = [a for lab in labels for a in lab.people]
        kinds = alias_kinds(people, [a for lab in labels for a in lab.aliases], [a for lab in labels for a in lab.exact])
        return MentionFeaturizer(AliasCounter(self.schema, self.kind).fit().matcher_, kinds, self.window)

    def _candidates(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
        """Rows ``(article index, label column, features)`` of every named actor."""
        column = {label: j for j, label in enumerate(self.labels_)}
        arts, cols, feats = [], [], []
        names = self.featurizer_.matcher.labels
        for i, x in enumerate(X):
            for actor, f in self.featurizer_.candidates(x).items():
                j = column.get(names[actor])
                if j is not None:
                    arts.append(i)
                    cols.append(j)
                    feats.append(f)
        return np.asarray(arts, dtype=int), np.asarray(cols, dtype=int), feats

    def _role_matrix(self, n: int, arts: np.ndarray, cols: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = np.full((n, len(self.labels_)), 0.5)
        C = np.zeros((n, len(self.labels_)))
        R[arts, cols] = p
        C[arts, cols] = 1.0
        return R, C

    @staticmethod
    def _stack_inputs(P: np.ndarray, R: np.ndarray, C: np.ndarray) -> np.ndarray:
        return stack_inputs(P, R, C).reshape(-1, 4)

    # ------------------------------------------------------------------ fit

    def fit(self, X: Sequence[Any], Y: Any, progress: Callable[[str], None] | None = None) -> RoleStackedModel:
        from newstag.data.split import kfold_indices

        X = list(X)
        Y = np.asarray(Y, dtype=int)
        base = clone(self.base)
        base.fit(X, Y, progress=progress)
        self.base_ = base
        self.labels_ = list(base.labels_)
        P_oof = base.oof_proba_ if getattr(base, "oof_proba_", None) is not None else base.predict_proba(X)

        t0 = time.perf_counter()
        self.featurizer_ = self._featurizer()
        arts, cols, feats = self._candidates(X)
        y = Y[arts, cols]
        seen: dict[str, int] = {}
        for f in feats:
            for k in f:
                seen[k] = seen.get(k, 0) + 1
        keep = {k for k, c in seen.items() if c >= self.min_count}
        self.vectorizer_ = DictVectorizer().fit([{k: v for k, v in f.items() if k in keep} for f in feats])
        Z = self._matrix(feats)
        folds = kfold_indices(Y, self.folds or max(2, base.threshold_folds or 5), self.random_state)
        role_oof = np.full(len(arts), float(y.mean()) if len(y) else 0.5)
        for tr, _ in folds:
            in_train = np.isin(arts, tr)
            if len(np.unique(y[in_train])) == 2:
                role_oof[~in_train] = self._role_classifier().fit(Z[in_train], y[in_train]).predict_proba(Z[~in_train])[:, 1]
        self.role_ = self._role_classifier().fit(Z, y) if len(np.unique(y)) == 2 else None
        R, C = self._role_matrix(len(X), arts, cols, role_oof)
        self.stacker_ = LogisticRegression(C=10.0, max_iter=1000).fit(self._stack_inputs(P_oof, R, C), Y.ravel())
        self.oof_proba_ = self.stacker_.predict_proba(self._stack_inputs(P_oof, R, C))[:, 1].reshape(Y.shape)
        self.thresholds_ = tune_thresholds(
            Y, self.oof_proba_, floor=base.threshold_floor, ceiling=base.threshold_ceiling, min_positives=base.min_positives, default=base.default_threshold
        )
        if progress:
            progress(f"role model: {len(arts)} candidates, {Z.shape[1]} mention features in {time.perf_counter() - t0:.1f}s")
        return self

    def _matrix(self, feats: list[dict[str, float]]) -> Any:
        Z = self.vectorizer_.transform(feats).tocsr()
        Z.indices, Z.indptr = Z.indices.astype(np.int32), Z.indptr.astype(np.int32)  # liblinear wants 32-bit indices
        return Z

    def _role_classifier(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000, solver="liblinear")

    # -------------------------------------------------------------- predict

    def _role_proba(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        arts, cols, feats = self._candidates(X)
        p = self.role_.predict_proba(self._matrix(feats))[:, 1] if len(arts) and self.role_ is not None else np.full(len(arts), 0.5)
        return self._role_matrix(len(X), arts, cols, p)

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        X = list(X)
        P = self.base_.predict_proba(X)
        R, C = self._role_proba(X)
        return self.stacker_.predict_proba(self._stack_inputs(P, R, C))[:, 1].reshape(P.shape)

    # ----------------------------------------------------- explanations

    def role_evidence(self, article: Any, label: str, n: int = 5) -> list[dict[str, Any]]:
        """The mention features that most raised ``label``'s candidate score
        (coefficient x value), named ``role:<feature>``; empty when the actor
        is not named."""
        if self.role_ is None or label not in self.labels_:
            return []
        names = self.featurizer_.matcher.labels
        found = {names[a]: f for a, f in self.featurizer_.candidates(article).items()}
        if label not in found:
            return []
        z = self._matrix([found[label]])
        contrib = z.data * self.role_.coef_[0, z.indices]
        order = np.argsort(-contrib, kind="stable")[:n]
        vocab = self.vectorizer_.feature_names_
        return [{"feature": f"role:{vocab[z.indices[i]]}", "contribution": round(float(contrib[i]), 4)} for i in order if contrib[i] > 0]
