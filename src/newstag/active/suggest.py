"""``newstag suggest``: which unlabelled articles to label next, and why.

The registered labellers score the pool; a strategy (:mod:`.strategies`)
turns probabilities, tuned thresholds and per-label example counts into one
score per article; :func:`.diversity.mmr` picks a varied batch, skipping
near-duplicates of labelled articles and of articles already picked. Each
suggestion carries the model's labels (the annotator's starting point) and
the reasons it was chosen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from newstag.active.diversity import duplicate_sets, mmr, tfidf_vectors
from newstag.active.strategies import STRATEGIES, TaskScores, in_doubt, likely_rare, score
from newstag.data import Record
from newstag.data.labelstudio import to_task
from newstag.serve.predict import Labeller

DEFAULT_STRATEGY = "uncertainty-max"  # the best over both tasks in benchmarks/ACTIVE.md
DEFAULT_DIVERSITY = 0.7  # MMR lambda: 1 = rank by score only


@dataclass
class Suggestion:
    record: Record
    rank: int
    score: float
    labels: dict[str, list[str]]  # the model's labels per task: the annotator's starting point
    reason: dict[str, Any]


@dataclass
class SuggestResult:
    suggestions: list[Suggestion]
    skipped_duplicates: list[str] = field(default_factory=list)  # pool ids that near-duplicate a labelled article
    pool: int = 0


def label_counts(lab: Labeller, labelled: Sequence[Record] = ()) -> np.ndarray:
    """Examples per label: the model's training counts (its manifest) or the
    counts in ``labelled``, whichever is larger, so newly labelled data that
    the model has not been trained on yet still counts."""
    known = (lab.manifest.get("dataset") or {}).get("label_counts") or {}
    mine = {label: sum(label in r.labels(lab.task) for r in labelled) for label in lab.labels}
    return np.array([max(int(known.get(label, 0)), mine[label]) for label in lab.labels], dtype=float)


def suggest(
    pool: Sequence[Record],
    labellers: Sequence[Labeller],
    n: int = 50,
    *,
    strategy: str = DEFAULT_STRATEGY,
    labelled: Sequence[Record] = (),
    diversity: float = DEFAULT_DIVERSITY,
    seed: int = 0,
    dup_threshold: float = 0.5,
) -> SuggestResult:
    """Rank ``pool`` and return the ``n`` articles to label next.

    ``labelled``: articles already labelled (their near-duplicates in the
    pool are skipped; their labels count towards rarity). ``diversity``: the
    MMR lambda, 1 to rank by score alone.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be between 0 and 1, got {diversity}")
    if not pool:
        return SuggestResult([], [], 0)
    prepared: dict = {}
    tasks = [TaskScores(lab.task, lab.labels, lab.probabilities(pool, prepared), lab.thresholds, label_counts(lab, labelled)) for lab in labellers]
    scores = score(strategy, tasks, np.random.default_rng(seed))
    of_labelled, twins = duplicate_sets(pool, labelled, dup_threshold)
    X = tfidf_vectors(pool) if strategy != "random" and diversity < 1 else None
    lam = diversity if X is not None else 1.0
    picked, sims = mmr(scores, X if X is not None else _empty(len(pool)), n, lam=lam, exclude=of_labelled, twins=twins)
    out = []
    for rank, (i, sim) in enumerate(zip(picked, sims), 1):
        labels = {t.task: [t.labels[j] for j in np.argsort(-t.P[i], kind="stable") if t.P[i, j] >= t.thresholds[j]] for t in tasks}
        reason: dict[str, Any] = {
            "rank": rank,
            "strategy": strategy,
            "score": round(float(scores[i]), 4),
            "in_doubt": [{"task": t.task, **d} for t in tasks for d in in_doubt(t, i)],
            "rare_labels": [{"task": t.task, **d} for t in tasks for d in likely_rare(t, i)],
            "similarity_to_earlier": sim,
            "probabilities": {t.task: {t.labels[j]: round(float(t.P[i, j]), 4) for j in range(len(t.labels))} for t in tasks},
            "models": {lab.task: lab.ref for lab in labellers},
        }
        out.append(Suggestion(pool[i], rank, float(scores[i]), labels, reason))
    return SuggestResult(out, sorted(pool[i].id for i in of_labelled), len(pool))


def _empty(n: int):
    import scipy.sparse as sp

    return sp.csr_matrix((n, 1))


def to_json(s: Suggestion) -> dict[str, Any]:
    """A newstag record (the model's labels as its starting labels) with the
    reasons under ``suggestion``; loaders ignore the extra key."""
    out = s.record.to_json()
    out.pop("topics", None)
    out.pop("actors", None)
    out.update(s.labels)
    out["suggestion"] = s.reason
    return out


def to_labelstudio(s: Suggestion) -> dict[str, Any]:
    """A Label Studio task pre-annotated with the model's labels. The
    prediction's score is the model's confidence (1 minus the closest call's
    closeness), so Label Studio can sort the least certain first."""
    close = max((d["closeness"] for d in s.reason["in_doubt"]), default=0.0)
    version = ", ".join(f"{ref}" for ref in s.reason["models"].values())
    return to_task(s.record, s.labels, score=1.0 - float(close), model_version=version, meta=s.reason)


def write(result: SuggestResult, fmt: str) -> str:
    """The suggestions as JSON Lines records or a Label Studio task list."""
    if fmt == "jsonl":
        return "".join(json.dumps(to_json(s), ensure_ascii=False) + "\n" for s in result.suggestions)
    if fmt == "labelstudio":
        return json.dumps([to_labelstudio(s) for s in result.suggestions], ensure_ascii=False, indent=1) + "\n"
    raise ValueError(f"unknown format {fmt!r}; expected jsonl or labelstudio")


def summary(result: SuggestResult, tasks: Mapping[str, str] | None = None) -> str:
    doubt = sum(bool(s.reason["in_doubt"]) for s in result.suggestions)
    rare = sum(bool(s.reason["rare_labels"]) for s in result.suggestions)
    return (
        f"{len(result.suggestions)} suggestion(s) from a pool of {result.pool}: {doubt} with labels in doubt, {rare} likely to carry rare labels; "
        f"{len(result.skipped_duplicates)} near-duplicate(s) of labelled articles skipped"
    )
