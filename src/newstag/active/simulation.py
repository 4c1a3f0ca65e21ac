"""Pool-based active-learning simulation: the reusable parts of
``benchmarks/active_learning.py``.

A labelled split stands in for an unlabelled archive: start from a random
handful of labelled articles, let a strategy pick the next batch from the
rest (its labels are "revealed" when picked), retrain, score on the test
split, repeat until the pool is used up.

Retraining the default experiment every round (word + character n-grams,
calibrated heads, 5-fold thresholds) costs minutes; a simulation retrains
thousands of times. :class:`CheapModel` is the same family (TF-IDF, linear
heads, tuned per-label thresholds) at a fraction of the cost: TF-IDF (word
uni- and bigrams) and its 300-dimension SVD projection are fitted **once on
the whole pool** - legitimate, the pool's text is not a label - plus alias
counts for actors; per round, ridge heads for all labels in one solve and
per-label thresholds tuned on 3-fold out-of-fold outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from newstag.active.diversity import mmr
from newstag.active.strategies import TaskScores, score
from newstag.data import Record
from newstag.learn.thresholds import tune_thresholds
from newstag.metrics import evaluate
from newstag.text.preparation import prepare


def pool_features(
    task: str, pool: Sequence[Record], other: Sequence[Record], *, dims: int = 300, max_features: int = 40_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """``(pool features, other features, pool TF-IDF for diversity)``.

    TF-IDF (word uni- and bigrams) and its latent semantic projection
    (truncated SVD to ``dims``) are fitted on the pool's text only; for
    actors the schema's alias counts are appended. A bias column comes last.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=max_features, sublinear_tf=True)
    Xp = vec.fit_transform(prepare(pool))
    Xo = vec.transform(prepare(other))
    svd = TruncatedSVD(min(dims, Xp.shape[1] - 1), random_state=seed).fit(Xp)
    Zp, Zo = normalize(svd.transform(Xp)), normalize(svd.transform(Xo))
    if task == "actors":
        from newstag.learn.features import AliasCounter

        ac = AliasCounter(kind="actors").fit()
        Zp = np.hstack([Zp, 0.5 * ac.transform(pool).toarray()])
        Zo = np.hstack([Zo, 0.5 * ac.transform(other).toarray()])
    bias = lambda Z: np.hstack([Z, np.ones((Z.shape[0], 1))])  # noqa: E731
    return bias(Zp), bias(Zo), normalize(Xp).tocsr()


class CheapModel:
    """Linear heads for every label in one ridge solve, thresholds tuned out of fold.

    Ridge regression on 0/1 targets, outputs clipped to [0, 1], is a linear
    probability model: one ``d x d`` solve gives every label's head, so a
    round costs milliseconds where a logistic head per label cost seconds.
    Thresholds: :func:`~newstag.learn.thresholds.tune_thresholds` on
    ``folds``-fold out-of-fold outputs (a label with too few positives gets
    its fallback threshold; one with none is never predicted).
    """

    def __init__(self, alpha: float = 0.5, folds: int = 3, seed: int = 0):
        self.alpha = alpha
        self.folds = folds
        self.seed = seed

    def _solve(self, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return np.linalg.solve(Z.T @ Z + self.alpha * np.eye(Z.shape[1]), Z.T @ Y)

    def fit(self, Z: np.ndarray, Y: np.ndarray) -> CheapModel:
        Y = np.asarray(Y, dtype=float)
        self.coef_ = self._solve(Z, Y)
        oof = np.zeros(Y.shape)
        folds = np.random.default_rng(self.seed).permutation(len(Z)) % self.folds
        for k in range(self.folds):
            te = folds == k
            if te.any() and (~te).any():
                oof[te] = Z[te] @ self._solve(Z[~te], Y[~te])
        self.thresholds_ = tune_thresholds(Y.astype(int), np.clip(oof, 0.0, 1.0))
        self.thresholds_[Y.sum(axis=0) == 0] = 1.0 + 1e-9  # nothing to learn from: never predicted
        return self

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        return np.clip(Z @ self.coef_, 0.0, 1.0)


@dataclass(frozen=True)
class Point:
    labelled: int
    micro_f1: float
    macro_f1: float


def _scores(model: CheapModel, X: np.ndarray, Y: np.ndarray, labels: Sequence[str]) -> tuple[float, float]:
    P = model.predict_proba(X)
    s = evaluate(Y, (model.thresholds_ <= P).astype(int), P, list(labels))["summary"]
    return float(s["micro_f1"]), float(s["macro_f1"])


def full_split(Xp: np.ndarray, Yp: np.ndarray, Xt: np.ndarray, Yt: np.ndarray, labels: Sequence[str], seed: int = 0) -> tuple[float, float]:
    """(micro-F1, macro-F1) of the cheap model trained on the whole pool."""
    return _scores(CheapModel(seed=seed).fit(Xp, Yp), Xt, Yt, labels)


def simulate(
    task: str,
    labels: Sequence[str],
    Xp: np.ndarray,
    Yp: np.ndarray,
    Xt: np.ndarray,
    Yt: np.ndarray,
    div: sp.csr_matrix,
    *,
    strategy: str,
    seed: int,
    start: int = 100,
    step: int = 50,
    rounds: int | None = None,
    diversity: float = 0.7,
) -> list[Point]:
    """One learning curve: test micro/macro-F1 after each round.

    The first ``start`` articles are drawn at random (the same draw for every
    strategy with the same ``seed``); each round adds ``step`` picked by
    ``strategy`` with MMR diversity ``diversity`` (not for ``random``).
    Stops when the pool is used up or after ``rounds`` rounds.
    """
    n = Xp.shape[0]
    labelled = np.random.default_rng(seed).choice(n, size=min(start, n), replace=False)
    rng = np.random.default_rng(seed + 1000)
    curve = []
    done = 0
    while True:
        model = CheapModel(seed=seed).fit(Xp[labelled], Yp[labelled])
        curve.append(Point(len(labelled), *_scores(model, Xt, Yt, labels)))
        if len(labelled) >= n or (rounds is not None and done >= rounds):
            return curve
        rest = np.setdiff1d(np.arange(n), labelled)
        t = np.minimum(model.thresholds_, 1.0)
        view = TaskScores(task, labels, model.predict_proba(Xp[rest]), t, Yp[labelled].sum(axis=0))
        s = score(strategy, [view], rng)
        lam = 1.0 if strategy == "random" else diversity
        picked, _ = mmr(s, div[rest], min(step, len(rest)), lam=lam)
        labelled = np.concatenate([labelled, rest[picked]])
        done += 1


def labels_needed(curve: Sequence[tuple[int, float]], target: float) -> int | None:
    """The first number of labels at which ``curve`` reaches ``target`` (None: never)."""
    for labelled, value in curve:
        if value >= target - 1e-12:
            return labelled
    return None
