"""The real configs compose, instantiate and fit (on a small corpus sample)."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from conftest import ROOT
from newstag.experiment.app import register_resolvers
from newstag.experiment.train import build_model
from newstag.schema import binarize

CONF = str(ROOT / "conf")
FEATURES = sorted(p.stem for p in (ROOT / "conf" / "features").glob("*.yaml"))
MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml"))


def _cfg(*overrides: str):
    register_resolvers()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


@pytest.fixture(scope="module")
def sample(corpus_train):
    from newstag.schema.labels import load_schema

    records = corpus_train[::6][:180]
    labels = load_schema().ids("topics")
    return records, binarize(records, "topics", labels), labels


def test_every_group_has_its_options():
    assert {"word_tfidf", "char_tfidf", "word_char", "alias", "word_char_alias", "hashing"} <= set(FEATURES)
    assert {"logreg", "linear_svc", "sgd", "ridge", "complement_nb"} <= set(MODELS)
    assert {"baseline", "best"} <= {p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")}


def test_default_config_uses_per_task_experiment():
    cfg = _cfg()
    assert list(cfg.train_tasks) == ["topics", "actors"]
    assert cfg.get("features") is None and cfg.get("model") is None
    assert cfg.tasks.actors.features._target_ == "newstag.learn.features.union"
    assert "alias" in cfg.tasks.actors.features.parts
    assert cfg.tasks.topics.model.estimator.class_weight == "balanced"
    assert cfg.paths.root == str(ROOT)


def test_command_line_choice_applies_to_every_task():
    from newstag.experiment.train import component_config

    cfg = _cfg("features=word_tfidf", "model=sgd", "task=actors")
    assert list(cfg.train_tasks) == ["actors"]
    assert component_config(cfg, "actors", "features").analyzer == "word"
    assert component_config(cfg, "actors", "model").estimator._target_.endswith("SGDClassifier")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("features", FEATURES)
def test_every_model_and_feature_set_fits(features, model, sample):
    records, Y, labels = sample
    cfg = _cfg(f"features={features}", f"model={model}", "thresholds.folds=2")
    est = build_model(cfg, "topics", labels)
    est.fit(records, Y)
    P = est.predict_proba(records[:20])
    assert P.shape == (20, len(labels)) and np.all((P >= 0) & (P <= 1))
    assert est.predict(records[:20]).shape == (20, len(labels))
    assert len(est.thresholds_) == len(labels)


def test_same_seed_same_predictions(sample):
    records, Y, labels = sample
    preds = []
    for _ in range(2):
        est = build_model(_cfg("features=word_char", "model=sgd", "thresholds.folds=3"), "topics", labels)
        preds.append(est.fit(records, Y).predict_proba(records[:50]))
    assert np.array_equal(preds[0], preds[1])


def test_model_follows_sklearn_conventions(sample):
    from sklearn.base import clone

    records, Y, labels = sample
    est = build_model(_cfg("features=word_tfidf", "model=logreg"), "topics", labels)
    params = est.get_params()
    assert params["threshold_folds"] == 5 and "features" in params
    copy = clone(est).set_params(threshold_folds=0)
    copy.fit(records, Y)
    assert np.allclose(copy.thresholds_, 0.5)
    assert not hasattr(est, "thresholds_")  # clone and fit did not touch the original
