from __future__ import annotations

import numpy as np
import pytest

from newstag.learn.thresholds import best_threshold, f1_at, tune_thresholds


def test_picks_the_f1_optimal_threshold_on_a_hand_made_case():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.35, 0.3, 0.32, 0.2, 0.1, 0.05, 0.6])
    # cutting between 0.2 and 0.3 catches all 3 positives with 2 false positives (F1 0.75);
    # no other cut does better (0.8 at t in (0.6, 0.9]? 1 TP, F1 0.5)
    t = best_threshold(y, s, floor=0.0, ceiling=1.0)
    assert 0.2 < t <= 0.3
    assert f1_at(y, s, t) == pytest.approx(0.75)
    assert f1_at(y, s, t) >= max(f1_at(y, s, c) for c in np.linspace(0, 1, 101))


def test_floor_and_ceiling_bound_the_threshold():
    y = np.array([1, 1, 1, 0, 0])
    s = np.array([0.05, 0.04, 0.03, 0.01, 0.0])  # a rare label the model scores low
    assert best_threshold(y, s, floor=0.1) == 0.1
    y = np.array([1, 1, 1, 0, 0])
    s = np.array([0.99, 0.98, 0.97, 0.96, 0.0])
    assert best_threshold(y, s, floor=0.1, ceiling=0.9, min_positives=1) <= 0.9


def test_too_few_positives_keep_the_default():
    assert best_threshold(np.array([1, 0, 0]), np.array([0.2, 0.1, 0.0]), min_positives=3, default=0.5) == 0.5


def test_tune_thresholds_per_column():
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 0]])
    P = np.array([[0.8, 0.1], [0.7, 0.2], [0.1, 0.3], [0.2, 0.35], [0.75, 0.1], [0.1, 0.05]])
    t = tune_thresholds(Y, P, floor=0.0, ceiling=1.0, min_positives=2)
    assert 0.2 < t[0] <= 0.7 and 0.2 < t[1] <= 0.3
    assert ((t <= P).astype(int) == Y).all()
