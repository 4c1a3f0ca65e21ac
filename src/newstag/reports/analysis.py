"""What a report says about one model on one labelled dataset.

Pure computation (no plotting, no files): metrics, curves, calibration,
co-occurrence and error analysis, as plain dicts and arrays that the
renderers turn into pictures and pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from newstag.metrics import evaluate


@dataclass
class TaskAnalysis:
    task: str
    ref: str
    labels: list[str]
    thresholds: np.ndarray
    Y: np.ndarray  # true labels (articles x labels)
    P: np.ndarray  # probabilities
    metrics: dict[str, Any]
    errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def pred(self) -> np.ndarray:
        return (self.thresholds <= self.P).astype(int)


def pr_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall over every distinct score (None when no positive)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    return precision, recall


def f1_by_threshold(y: np.ndarray, p: np.ndarray, grid: np.ndarray) -> np.ndarray:
    out = []
    for t in grid:
        pred = p >= t
        tp, fp, fn = np.sum(pred & (y == 1)), np.sum(pred & (y == 0)), np.sum(~pred & (y == 1))
        out.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return np.array(out)


def calibration(Y: np.ndarray, P: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Reliability over all (article, label) pairs: mean predicted vs observed
    frequency per probability bin, and the expected calibration error."""
    y, p = Y.ravel(), P.ravel()
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            conf, freq = float(p[mask].mean()), float(y[mask].mean())
            rows.append({"bin": b, "mean_predicted": conf, "observed": freq, "count": int(mask.sum())})
            ece += mask.mean() * abs(conf - freq)
    return {"bins": rows, "ece": float(ece)}


def cooccurrence(M: np.ndarray) -> np.ndarray:
    """Label x label counts of articles carrying both labels."""
    M = M.astype(int)
    return M.T @ M


def error_examples(records: list[Any], analysis: TaskAnalysis, labeller: Any, k: int = 8, explain_n: int = 5) -> dict[str, list[dict[str, Any]]]:
    """The most confident false positives and the most confidently missed
    true labels, with a snippet and the features that drove the score."""
    fps, fns = [], []
    for j in range(len(analysis.labels)):
        for i in np.flatnonzero((analysis.pred[:, j] == 1) & (analysis.Y[:, j] == 0)):
            fps.append((analysis.P[i, j] - analysis.thresholds[j], i, j))
        for i in np.flatnonzero((analysis.pred[:, j] == 0) & (analysis.Y[:, j] == 1)):
            fns.append((analysis.thresholds[j] - analysis.P[i, j], i, j))
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, items in (("false_positives", fps), ("false_negatives", fns)):
        rows = []
        for _margin, i, j in sorted(items, reverse=True)[:k]:
            r, label = records[i], analysis.labels[j]
            text = " ".join(x for x in (r.title, r.subtitle, r.text) if x)
            drivers = []
            if labeller is not None:
                ev = labeller.explain(r, explain_n, [label]).get(label, {})
                drivers = [f["feature"] for f in ev.get("features", [])]
            rows.append(
                {
                    "id": r.id,
                    "label": label,
                    "probability": round(float(analysis.P[i, j]), 3),
                    "threshold": round(float(analysis.thresholds[j]), 3),
                    "true_labels": [analysis.labels[x] for x in np.flatnonzero(analysis.Y[i])],
                    "snippet": text[:280] + ("…" if len(text) > 280 else ""),
                    "drivers": drivers,
                }
            )
        out[kind] = rows
    return out


def analyse(labeller: Any, records: list[Any], kind: str | None = None, with_errors: bool = True) -> TaskAnalysis:
    """Evaluate a :class:`newstag.serve.predict.Labeller` on labelled records."""
    from newstag.schema import binarize

    kind = kind or labeller.manifest.get("label_kind", labeller.task)
    labels = labeller.labels
    Y = binarize(records, kind, labels)
    P = labeller.probabilities(records)
    thresholds = labeller.thresholds
    metrics = evaluate(Y, (thresholds <= P).astype(int), P, labels)
    metrics["calibration"] = calibration(Y, P)
    metrics["thresholds"] = dict(zip(labels, map(float, thresholds)))
    a = TaskAnalysis(labeller.task, labeller.ref, labels, thresholds, Y, P, metrics)
    if with_errors:
        a.errors = error_examples(records, a, labeller)
    return a
