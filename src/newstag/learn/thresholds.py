"""Per-label decision thresholds tuned on out-of-fold probabilities.

With class weighting and rare labels, 0.5 is rarely the F1-optimal cut-off:
a rare actor's probabilities sit lower, and at 0.5 it is almost never
predicted. Thresholds are therefore tuned per label on predictions the model
made for articles it did not see (out-of-fold), clipped to a floor and a
ceiling so that a label with little evidence does not collapse to "always"
or "never".
"""

from __future__ import annotations

import numpy as np


def f1_at(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    pred = scores >= threshold
    tp = int(np.sum(pred & (y_true == 1)))
    fp = int(np.sum(pred & (y_true == 0)))
    fn = int(np.sum(~pred & (y_true == 1)))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_threshold(y_true: np.ndarray, scores: np.ndarray, *, floor: float = 0.1, ceiling: float = 0.9, min_positives: int = 3, default: float = 0.5) -> float:
    """The F1-maximising threshold of one label.

    Candidates are the midpoints between consecutive distinct scores (so a
    threshold never sits exactly on a training score), clipped to
    ``[floor, ceiling]``. Among equally good candidates the middle one is
    taken: the widest margin on both sides. When no candidate gets a single
    positive right, the floor is used, so the label can still fire on
    unseen text. With fewer than ``min_positives``
    positives there is no evidence to tune on and ``default`` is used.
    """
    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    if y_true.sum() < min_positives:
        return float(np.clip(default, floor, ceiling))
    distinct = np.unique(scores)
    mids = (distinct[:-1] + distinct[1:]) / 2 if len(distinct) > 1 else distinct
    candidates = np.unique(np.clip(np.concatenate([mids, [floor, ceiling, default]]), floor, ceiling))
    f1 = np.array([f1_at(y_true, scores, t) for t in candidates])
    if f1.max() == 0.0:  # the model never separates this label: keep it alive at the floor
        return float(floor)
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    return float(candidates[best[len(best) // 2]])


def tune_thresholds(Y: np.ndarray, P: np.ndarray, **kwargs) -> np.ndarray:
    """One threshold per column of the label matrix ``Y`` given scores ``P``."""
    Y, P = np.asarray(Y), np.asarray(P)
    return np.array([best_threshold(Y[:, j], P[:, j], **kwargs) for j in range(Y.shape[1])])
