"""How much labelling an article is expected to help: the scores of the
active-learning strategies.

Every strategy reads the same inputs: the model's probabilities for the
pool (articles x labels), each label's **tuned threshold**, and how many
labelled examples each label already has. Uncertainty is measured against
the threshold the labeller really uses, not 0.5: a rare actor tuned to fire
at 0.2 is in doubt at 0.2, not at 0.5.

- ``uncertainty``: the sum over labels of how close each probability sits
  to its threshold (many labels in doubt beat one).
- ``uncertainty-max``: the largest of them (the single closest call).
- ``rare``: the expected number of rare labels the article carries
  (probability weighted by each label's rarity in the labelled data).
- ``hybrid``: ``uncertainty`` plus ``rare``, each scaled to [0, 1] over the
  pool: close calls first, articles likely to carry rare labels next.
- ``random``: a seeded random order, the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STRATEGIES = ("uncertainty-max", "uncertainty", "hybrid", "rare", "random")
RARE_WEIGHT = 1.0  # weight of the rarity term in ``hybrid``


@dataclass(frozen=True)
class TaskScores:
    """One task's view of the pool: probabilities, tuned thresholds and the
    labelled examples each label has."""

    task: str
    labels: Sequence[str]
    P: np.ndarray  # articles x labels
    thresholds: np.ndarray  # labels
    counts: np.ndarray  # labels: positives in the labelled data


def closeness(P: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """1 at the threshold, 0 at certainty (probability 0 or 1), linear in
    between on each side, so a low threshold does not make every article
    with a small probability look certain."""
    P = np.asarray(P, dtype=float)
    t = np.clip(np.asarray(thresholds, dtype=float), 1e-6, 1 - 1e-6)
    margin = np.where(t <= P, (P - t) / (1 - t), (t - P) / t)
    return np.clip(1.0 - margin, 0.0, 1.0)


def rarity(counts: np.ndarray) -> np.ndarray:
    """Weight per label in [0, 1]: 1 for the rarest, ``1/sqrt(count + 1)``
    scaled by it otherwise. A label with no example at all weighs most."""
    w = 1.0 / np.sqrt(np.asarray(counts, dtype=float) + 1.0)
    return w / w.max() if len(w) and w.max() > 0 else w


def _scaled(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if len(x) else 0.0
    return x / top if top > 0 else x


def score(strategy: str, tasks: Sequence[TaskScores], rng: np.random.Generator | None = None) -> np.ndarray:
    """Score of every pool article (higher: label it sooner).

    With several tasks each task's score is scaled to [0, 1] over the pool
    and the tasks are averaged, so 25 actors do not drown 3 topics.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    n = len(tasks[0].P) if tasks else 0
    if strategy == "random":
        return (rng or np.random.default_rng(0)).random(n)
    parts = []
    for t in tasks:
        close = closeness(t.P, t.thresholds)
        if strategy == "uncertainty":
            s = close.sum(axis=1)
        elif strategy == "uncertainty-max":
            s = close.max(axis=1)
        elif strategy == "rare":
            s = np.asarray(t.P) @ rarity(t.counts)
        else:  # hybrid
            s = _scaled(close.sum(axis=1)) + RARE_WEIGHT * _scaled(np.asarray(t.P) @ rarity(t.counts))
        parts.append(_scaled(s) if len(tasks) > 1 else s)
    return np.mean(parts, axis=0)


def in_doubt(t: TaskScores, i: int, min_closeness: float = 0.5) -> list[dict[str, object]]:
    """The labels of article ``i`` whose probability is near its threshold,
    closest first: what the annotator should look at."""
    close = closeness(t.P[i : i + 1], t.thresholds)[0]
    order = np.argsort(-close, kind="stable")
    return [
        {"label": t.labels[j], "probability": round(float(t.P[i, j]), 4), "threshold": round(float(t.thresholds[j]), 4), "closeness": round(float(close[j]), 3)}
        for j in order
        if close[j] >= min_closeness
    ]


def likely_rare(t: TaskScores, i: int, min_probability: float = 0.2, max_count: int | None = None) -> list[dict[str, object]]:
    """Rare labels (at most ``max_count`` examples, default: the rarest
    quarter) that article ``i`` may carry."""
    counts = np.asarray(t.counts)
    limit = max_count if max_count is not None else float(np.quantile(counts, 0.25)) if len(counts) else 0
    return [
        {"label": t.labels[j], "probability": round(float(t.P[i, j]), 4), "examples": int(counts[j])}
        for j in np.argsort(-t.P[i], kind="stable")
        if t.P[i, j] >= min_probability and counts[j] <= limit
    ]
