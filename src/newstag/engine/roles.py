"""The role-stacked actor model (:class:`~newstag.learn.roles.RoleStackedModel`)
served from arrays: the candidate classifier's vocabulary and weights and the
stacker's four weights, applied after the base model's probabilities.

Mention features come from :mod:`newstag.text.mentions`, the same code that
trained them, so the compact and scikit-learn engines agree to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from newstag.text.aliases import AliasMatcher
from newstag.text.mentions import AliasKinds, MentionFeaturizer

_EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def stack_inputs(P: np.ndarray, R: np.ndarray, C: np.ndarray) -> np.ndarray:
    """The stacker's inputs per (article, label): the base model's logit, the
    candidate classifier's logit where the label is named, whether it is named,
    and the base logit again where it is named (its own slope there). Shared
    by training (:mod:`newstag.learn.roles`) and this engine."""
    lb, lr = logit(P), logit(R)
    return np.stack([lb, C * lr, C, C * lb], axis=-1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class CompactRoles:
    """Stack the base probabilities with the candidate classifier's."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], labels: Sequence[str]):
        m = meta["matcher"]
        matcher = AliasMatcher(m["labels"], m["loose"], m["exact"])
        k = meta["kinds"]
        kinds = AliasKinds(frozenset(k["people"]), frozenset(k["adjectives"]), frozenset(k["acronyms"]))
        self.featurizer = MentionFeaturizer(matcher, kinds, int(meta["window"]))
        self._reference = self.featurizer
        self._compiled_score: Any = None
        self._margins: Any = None  # the compiled engine's fused margins (role_margins with its tables)
        self.names = list(meta["vocabulary"])
        self._vocab: dict[str, int] | None = None
        self.coef = arrays["roles_coef"]
        self.intercept = float(meta["intercept"])
        self.stack_coef = np.asarray(meta["stack_coef"], dtype=np.float64)
        self.stack_intercept = float(meta["stack_intercept"])
        self.fitted = bool(meta["fitted"])
        column = {label: j for j, label in enumerate(labels)}
        self.column = [column.get(name, -1) for name in matcher.labels]
        self.labels = list(labels)

    @property
    def vocab(self) -> dict[str, int]:
        """Feature name -> index, built on first use (the fused compiled pass
        never needs it: 5 ms of a cold start)."""
        if self._vocab is None:
            self._vocab = {name: i for i, name in enumerate(self.names)}
        return self._vocab

    def set_engine(self, engine: str) -> None:
        """``compiled`` or ``numpy`` (already resolved, see :mod:`newstag.engine.frontend`)."""
        from newstag.engine import frontend

        if engine == "compiled":
            ref = self._reference
            self.featurizer = frontend.CompiledMentionFeaturizer(ref.matcher, ref.kinds, ref.window)
            self._compiled_score = frontend.role_score
            self._margins = frontend.role_margins(self.featurizer, self.names, self.coef, self.intercept)
        else:
            self.featurizer, self._compiled_score, self._margins = self._reference, None, None

    def _margin(self, feats: dict[str, float]) -> float:
        if self._compiled_score is not None:
            return self._compiled_score(feats, self.vocab, self.coef, self.intercept)
        return self._score(feats)[0]

    def _score(self, feats: dict[str, float]) -> tuple[float, list[tuple[str, float]]]:
        z, parts = self.intercept, []
        for name, value in feats.items():
            i = self.vocab.get(name)
            if i is not None:
                z += self.coef[i] * value
                parts.append((name, self.coef[i] * value))
        return z, parts

    def stack(self, articles: Sequence[Any], P: np.ndarray) -> np.ndarray:
        R = np.full(P.shape, 0.5)
        C = np.zeros(P.shape)
        rows, cols, margins = [], [], []
        for row, article in enumerate(articles):
            for actor, margin in self._candidate_margins(article).items():
                j = self.column[actor]
                if j >= 0:
                    rows.append(row)
                    cols.append(j)
                    margins.append(margin)
        C[rows, cols] = 1.0
        if self.fitted:
            R[rows, cols] = _sigmoid(np.array(margins, dtype=np.float64))
        # a product of four terms per cell, summed without BLAS: a BLAS call
        # wakes OpenBLAS's threads, which then spin on the other cores
        return _sigmoid((stack_inputs(P, R, C) * self.stack_coef).sum(axis=-1) + self.stack_intercept)

    def _candidate_margins(self, article: Any) -> dict[int, float]:
        """The candidate classifier's margin for each actor named in the
        article (fused in one compiled pass when the compiled engine serves)."""
        if self._margins is not None:
            return self._margins(article)
        return {actor: self._margin(feats) for actor, feats in self.featurizer.candidates(article).items()}

    def evidence(self, article: Any, label: str, n: int) -> list[dict[str, Any]]:
        if not self.fitted or label not in self.labels:
            return []
        for actor, feats in self.featurizer.candidates(article).items():
            if self.column[actor] == self.labels.index(label):
                _, parts = self._score(feats)
                top = sorted((p for p in parts if p[1] > 0), key=lambda p: (-p[1], self.vocab[p[0]]))[:n]
                return [{"feature": f"role:{name}", "contribution": round(float(c), 4)} for name, c in top]
        return []
