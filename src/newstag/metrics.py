"""Multi-label metrics, with undefined values reported as ``None``, not 0.

A label with no positives in the evaluation data has no recall, no average
precision and no ROC-AUC: reporting 0 would be a lie that drags averages
down; reporting ``None`` lets the report say "undefined".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _div(a: float, b: float) -> float | None:
    return float(a / b) if b else None


def _f1(tp: int, fp: int, fn: int) -> float | None:
    return _div(2 * tp, 2 * tp + fp + fn)


def per_label(Y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    out = {}
    for j, label in enumerate(labels):
        y, p = Y[:, j].astype(bool), pred[:, j].astype(bool)
        tp, fp, fn = int(np.sum(y & p)), int(np.sum(~y & p)), int(np.sum(y & ~p))
        row: dict[str, Any] = {
            "precision": _div(tp, tp + fp),
            "recall": _div(tp, tp + fn),
            "f1": _f1(tp, fp, fn) if y.any() else None,  # no positives: recall, hence F1, undefined
            "support": int(y.sum()),
            "predicted": int(p.sum()),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
        if proba is not None:
            s = proba[:, j]
            both = 0 < y.sum() < len(y)
            row["average_precision"] = float(average_precision_score(y, s)) if y.any() else None
            row["roc_auc"] = float(roc_auc_score(y, s)) if both else None
            row["brier"] = float(np.mean((s - y) ** 2)) if len(y) else None
        out[label] = row
    return out


def summary(Y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """Averaged scores over all labels (micro, macro over defined labels,
    weighted by support, samples), subset accuracy and Hamming loss."""
    Y, pred = np.asarray(Y).astype(bool), np.asarray(pred).astype(bool)
    tp, fp, fn = (Y & pred).sum(0), (~Y & pred).sum(0), (Y & ~pred).sum(0)
    f1s = [_f1(int(a), int(b), int(c)) for a, b, c in zip(tp, fp, fn)]
    defined = [(f, s) for f, s in zip(f1s, Y.sum(0)) if f is not None and s > 0]
    support = Y.sum(0)
    sample_f1 = []
    for y, p in zip(Y, pred):
        denom = y.sum() + p.sum()
        sample_f1.append(1.0 if denom == 0 else 2 * (y & p).sum() / denom)
    return {
        "micro_f1": _f1(int(tp.sum()), int(fp.sum()), int(fn.sum())),
        "micro_precision": _div(int(tp.sum()), int(tp.sum() + fp.sum())),
        "micro_recall": _div(int(tp.sum()), int(tp.sum() + fn.sum())),
        "macro_f1": float(np.mean([f for f, _ in defined])) if defined else None,
        "weighted_f1": float(sum(f * s for f, s in defined) / support.sum()) if support.sum() else None,
        "samples_f1": float(np.mean(sample_f1)) if len(sample_f1) else None,
        "subset_accuracy": float(np.mean((pred == Y).all(1))) if len(Y) else None,
        "hamming_loss": float(np.mean(pred != Y)) if Y.size else None,
    }


def evaluate(Y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, labels: Sequence[str]) -> dict[str, Any]:
    return {"summary": summary(Y, pred), "per_label": per_label(np.asarray(Y), np.asarray(pred), proba, labels)}
