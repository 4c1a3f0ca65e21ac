"""Classifiers: Platt scaling, out-of-fold calibration, and the task model
reusing the classifier's out-of-fold predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.svm import LinearSVC

from newstag.learn.features import tfidf
from newstag.learn.models import MultiLabelModel, PlattOneVsRest, platt


def test_platt_recovers_a_known_sigmoid():
    rng = np.random.default_rng(0)
    m = rng.normal(size=20000)
    y = rng.random(20000) < 1 / (1 + np.exp(-(2.0 * m - 1.0)))
    a, b = platt(m, y)
    assert a == pytest.approx(2.0, abs=0.1) and b == pytest.approx(-1.0, abs=0.1)


def test_platt_stays_finite_when_margins_separate_the_classes():
    a, b = platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
    assert np.isfinite([a, b]).all() and a > 0


def test_platt_of_a_label_without_positives_is_a_low_constant():
    a, b = platt(np.zeros(10), np.zeros(10))
    assert a == 0.0 and 1 / (1 + np.exp(-b)) < 0.1


@pytest.fixture(scope="module")
def features(corpus_train):
    from newstag.schema import binarize
    from newstag.schema.labels import load_schema

    records = corpus_train[:300]
    labels = load_schema().ids("topics")
    X = tfidf(analyzer="word").fit_transform(records)
    return X.tocsr(), binarize(records, "topics", labels)


def test_out_of_fold_probabilities_come_with_the_fit(features):
    X, Y = features
    clf = PlattOneVsRest(LinearSVC(C=0.5), cv=3, random_state=1).fit(X, Y)
    assert clf.oof_proba_.shape == Y.shape and ((clf.oof_proba_ > 0) & (clf.oof_proba_ < 1)).all()
    # out-of-fold probabilities are honest: worse than in-sample ones
    in_sample = clf.predict_proba(X)
    assert np.mean((in_sample > 0.5) == Y) > np.mean((clf.oof_proba_ > 0.5) == Y)
    # positives score higher than negatives out of fold
    for j in range(Y.shape[1]):
        assert clf.oof_proba_[Y[:, j] == 1, j].mean() > clf.oof_proba_[Y[:, j] == 0, j].mean()
    # probabilities are the sigmoid of the margins, increasing with them
    M = clf.decision_function(X)
    P = clf.predict_proba(X)
    for j in range(Y.shape[1]):
        order = np.argsort(M[:, j])
        assert np.all(np.diff(P[order, j]) >= 0)


def test_without_folds_the_sigmoid_is_fitted_in_sample(features):
    X, Y = features
    clf = PlattOneVsRest(LinearSVC(), cv=0).fit(X, Y)
    assert clf.oof_proba_ is None and clf.predict_proba(X[:5]).shape == (5, Y.shape[1])


@pytest.mark.filterwarnings("ignore:Label not 0 is present")
def test_constant_label_gets_a_constant_probability(features):
    X, Y = features
    Y = Y.copy()
    Y[:, 0] = 0
    clf = PlattOneVsRest(LinearSVC(), cv=3).fit(X, Y)
    P = clf.predict_proba(X[:20])
    assert np.ptp(P[:, 0]) == 0 and P[0, 0] < 0.1


def test_clone_and_params(features):
    clf = PlattOneVsRest(LinearSVC(C=2.0), cv=4, n_jobs=1, random_state=3)
    copy = clone(clf)
    assert copy.get_params()["estimator__C"] == 2.0 and copy.cv == 4
    assert not hasattr(copy, "coef_")


def test_task_model_tunes_thresholds_on_the_classifiers_own_folds(corpus_train, monkeypatch):
    from newstag.schema import binarize
    from newstag.schema.labels import load_schema

    records = corpus_train[:240]
    labels = load_schema().ids("topics")
    Y = binarize(records, "topics", labels)
    model = MultiLabelModel(tfidf(analyzer="word"), PlattOneVsRest(LinearSVC(), cv=3), labels=labels, threshold_folds=3)
    monkeypatch.setattr(MultiLabelModel, "oof_proba", lambda *a, **k: pytest.fail("refitted the classifier per fold"))
    model.fit(records, Y)
    clf = model.pipeline_.named_steps["clf"]
    assert model.oof_proba_ is not None and np.array_equal(model.oof_proba_, clf.oof_proba_)
    assert len(model.thresholds_) == len(labels)
    # thresholds off: the classifier's folds are not used for them
    off = clone(model).set_params(threshold_folds=0).fit(records, Y)
    assert off.oof_proba_ is None and np.allclose(off.thresholds_, 0.5)
