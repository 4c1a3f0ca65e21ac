from __future__ import annotations

import numpy as np
import pytest

from newstag.metrics import evaluate, per_label, summary

Y = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0]])
PRED = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]])


def test_summary_against_hand_computed_values():
    s = summary(Y, PRED)
    # tp = 3 (a: rows 0,3; b: row 1), fp = 1 (a: row 2), fn = 2 (a: row 1; c: row 0)
    assert s["micro_precision"] == pytest.approx(3 / 4)
    assert s["micro_recall"] == pytest.approx(3 / 5)
    assert s["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    # per label F1: a = 2*2/(4+1+1) = 2/3, b = 1, c = 0
    assert s["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert s["weighted_f1"] == pytest.approx((2 / 3 * 3 + 1 * 1 + 0 * 1) / 5)
    # samples: row0 2*1/(2+1)=2/3, row1 2*1/(2+1)=2/3, row2 0 (pred a, true none), row3 1
    assert s["samples_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0 + 1) / 4)
    assert s["subset_accuracy"] == pytest.approx(1 / 4)
    assert s["hamming_loss"] == pytest.approx(3 / 12)


def test_per_label_with_probabilities():
    P = np.array([[0.9, 0.1, 0.4], [0.4, 0.8, 0.1], [0.7, 0.2, 0.2], [0.95, 0.3, 0.1]])
    rows = per_label(Y, PRED, P, ["a", "b", "c"])
    assert rows["a"]["precision"] == pytest.approx(2 / 3) and rows["a"]["recall"] == pytest.approx(2 / 3)
    assert rows["b"]["f1"] == 1.0 and rows["b"]["roc_auc"] == 1.0
    assert rows["c"]["f1"] == 0.0 and rows["c"]["support"] == 1
    assert rows["c"]["brier"] == pytest.approx(np.mean((P[:, 2] - Y[:, 2]) ** 2))
    # label a: scores of positives 0.9, 0.4, 0.95 vs negative 0.7 -> AUC 2/3
    assert rows["a"]["roc_auc"] == pytest.approx(2 / 3)


def test_label_without_positives_is_undefined_not_zero():
    Yz = np.array([[1, 0], [0, 0], [1, 0]])
    Pz = np.array([[1, 0], [0, 0], [1, 0]])
    result = evaluate(Yz, Pz, np.array([[0.9, 0.1], [0.2, 0.1], [0.8, 0.3]]), ["a", "b"])
    b = result["per_label"]["b"]
    assert b["precision"] is None and b["recall"] is None and b["f1"] is None
    assert b["average_precision"] is None and b["roc_auc"] is None
    assert result["summary"]["macro_f1"] == 1.0  # averaged over labels that have positives
