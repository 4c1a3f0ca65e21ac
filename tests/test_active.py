"""Active learning: strategies, diversity, the simulation's model and loop,
and ``newstag suggest`` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli, write_jsonl
from newstag.active.diversity import duplicate_sets, mmr, tfidf_vectors
from newstag.active.simulation import CheapModel, labels_needed, pool_features, simulate
from newstag.active.strategies import TaskScores, closeness, in_doubt, likely_rare, rarity, score
from newstag.data import Record


def view(P, t, counts=None, labels=None):
    P = np.asarray(P, dtype=float)
    return TaskScores("topics", labels or [f"l{j}" for j in range(P.shape[1])], P, np.asarray(t, dtype=float), np.asarray(counts or [10] * P.shape[1]))


def test_closeness_is_relative_to_the_tuned_threshold():
    c = closeness(np.array([[0.2, 0.0, 1.0, 0.5, 0.6]]), np.array([0.2, 0.2, 0.2, 0.2, 0.2]))[0]
    assert c[0] == pytest.approx(1.0) and c[1] == pytest.approx(0.0) and c[2] == pytest.approx(0.0)
    assert c[3] == pytest.approx(1 - 0.3 / 0.8) and c[4] < c[3]
    # 0.5 is a confident "yes" for a label tuned at 0.2, but a coin toss at 0.5
    assert closeness(np.array([[0.5]]), np.array([0.5]))[0, 0] > closeness(np.array([[0.5]]), np.array([0.2]))[0, 0]


def test_strategies_rank_what_they_promise():
    P = [[0.301, 0.9, 0.05], [0.95, 0.02, 0.01], [0.6, 0.6, 0.45]]
    t = [0.3, 0.5, 0.5]
    v = view(P, t, counts=[100, 100, 2])
    assert int(np.argmax(score("uncertainty-max", [v]))) == 0  # 0.301 against 0.3: the closest call
    assert int(np.argmax(score("uncertainty", [v]))) == 2  # three labels near their thresholds
    assert int(np.argmax(score("rare", [v]))) == 2  # the only one likely to carry the rare third label
    assert int(np.argmin(score("hybrid", [v]))) == 1  # certain about everything, nothing rare
    r1, r2 = score("random", [v], np.random.default_rng(3)), score("random", [v], np.random.default_rng(3))
    assert np.array_equal(r1, r2)
    with pytest.raises(ValueError, match="unknown strategy"):
        score("entropy", [v])


def test_two_tasks_are_scaled_so_many_labels_do_not_drown_few():
    few = view([[0.5], [0.0]], [0.5])
    many = view([[0.0] * 25, [0.5] * 25], [0.5] * 25)
    s = score("uncertainty", [few, many])
    assert s[0] == pytest.approx(s[1])


def test_reasons_name_the_labels_in_doubt_and_the_rare_ones():
    v = view([[0.32, 0.99, 0.4]], [0.3, 0.5, 0.5], counts=[200, 300, 3], labels=["diplomacy", "military_aid", "mediation"])
    doubt = in_doubt(v, 0)
    assert [d["label"] for d in doubt] == ["diplomacy", "mediation"]
    assert doubt[0]["threshold"] == 0.3 and doubt[0]["probability"] == 0.32
    assert [d["label"] for d in likely_rare(v, 0)] == ["mediation"]
    assert rarity(np.array([0, 3, 99])).tolist() == pytest.approx([1.0, 0.5, 0.1])


def _rec(i, text, title=""):
    return Record(id=f"a{i}", title=title or f"titolo {i}", text=text, lang="it")


STORY = "il ministro degli esteri ha incontrato il suo omologo a ginevra per discutere del cessate il fuoco e degli aiuti"


def test_mmr_prefers_variety_and_honours_exclusions():
    pool = [
        _rec(0, STORY),
        _rec(1, STORY + " oggi"),
        _rec(2, "la nato consegna nuovi sistemi di difesa aerea alla polonia"),
        _rec(3, "il qatar ospita colloqui tra le parti"),
    ]
    X = tfidf_vectors(pool)
    scores = np.array([1.0, 0.99, 0.6, 0.0])
    assert mmr(scores, X, 2, lam=1.0)[0] == [0, 1]  # by score alone: the same story twice
    picked, sims = mmr(scores, X, 2, lam=0.5)
    assert picked == [0, 2] and sims[0] == 0.0
    assert mmr(scores, X, 3, lam=1.0, exclude={0})[0] == [1, 2, 3]
    assert mmr(scores, X, 3, lam=1.0, twins={0: {1}, 1: {0}})[0] == [0, 2, 3]


def test_near_duplicates_of_labelled_articles_and_within_the_pool():
    pool = [_rec(0, STORY), _rec(1, STORY), _rec(2, "tutt'altra storia sui negoziati di pace in medio oriente e il ruolo del qatar")]
    labelled = [Record(id="old", title="titolo 2", text="tutt'altra storia sui negoziati di pace in medio oriente e il ruolo del qatar", topics=(), actors=())]
    of_labelled, twins = duplicate_sets(pool, labelled)
    assert of_labelled == {2}
    assert twins == {0: {1}, 1: {0}}


def test_cheap_model_learns_and_never_predicts_an_unseen_label():
    rng = np.random.default_rng(0)
    Z = np.hstack([rng.normal(size=(120, 5)), np.ones((120, 1))])
    Y = np.column_stack([(Z[:, 0] > 0).astype(int), np.zeros(120, dtype=int)])
    m = CheapModel().fit(Z, Y)
    P = m.predict_proba(Z)
    assert ((P[:, 0] >= m.thresholds_[0]) == Y[:, 0]).mean() > 0.9
    assert not (P[:, 1] >= m.thresholds_[1]).any()
    assert labels_needed([(100, 0.5), (150, 0.8), (200, 0.9)], 0.8) == 150
    assert labels_needed([(100, 0.5)], 0.8) is None


def test_simulation_curve_on_a_corpus_slice(corpus_train, corpus_test):
    from newstag.schema import binarize, load_schema

    pool, test = corpus_train[:160], corpus_test[:60]
    labels = load_schema().ids("topics")
    Xp, Xt, div = pool_features("topics", pool, test, dims=40)
    Yp, Yt = binarize(pool, "topics", labels), binarize(test, "topics", labels)
    for strategy in ("hybrid", "random"):
        curve = simulate("topics", labels, Xp, Yp, Xt, Yt, div, strategy=strategy, seed=1, start=60, step=50)
        assert [p.labelled for p in curve] == [60, 110, 160]  # until the pool is used up
        assert all(0.0 <= p.micro_f1 <= 1.0 and 0.0 <= p.macro_f1 <= 1.0 for p in curve)
    a = simulate("topics", labels, Xp, Yp, Xt, Yt, div, strategy="hybrid", seed=1, start=60, step=50, rounds=1)
    b = simulate("topics", labels, Xp, Yp, Xt, Yt, div, strategy="random", seed=1, start=60, step=50, rounds=1)
    assert a[0] == b[0] and len(a) == 2  # same random start for every strategy of a seed


def test_suggest_cli_jsonl_and_labelstudio(trained_registry, corpus_test, corpus_train, tmp_path):
    pool = write_jsonl(tmp_path / "pool.jsonl", [{k: v for k, v in r.to_json().items() if k not in ("topics", "actors")} for r in corpus_test[:30]])
    dup = corpus_test[0]
    labelled = write_jsonl(tmp_path / "labelled.jsonl", [r.to_json() for r in corpus_train[:20]] + [{**dup.to_json(), "id": "already-labelled"}])
    out = tmp_path / "next.jsonl"
    proc = run_cli("--registry", str(trained_registry), "suggest", str(pool), "--n", "5", "--labelled", str(labelled), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 5 and len({r["id"] for r in rows}) == 5
    assert dup.id not in {r["id"] for r in rows}  # a near-duplicate of a labelled article
    assert b"1 near-duplicate(s) of labelled articles skipped" in proc.stderr
    for rank, r in enumerate(rows, 1):
        s = r["suggestion"]
        assert s["rank"] == rank and s["strategy"] == "uncertainty-max" and set(s["probabilities"]) == {"topics", "actors"}
        assert isinstance(r["topics"], list) and isinstance(r["actors"], list)
        for d in s["in_doubt"]:
            assert s["probabilities"][d["task"]][d["label"]] == d["probability"]
    assert rows[0]["suggestion"]["score"] == max(r["suggestion"]["score"] for r in rows)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "Kiev e Mosca trattano"}\n{"id": "y", "text": 3}\n', encoding="utf-8")
    proc = run_cli("--registry", str(trained_registry), "suggest", str(bad), "--task", "topics", "--format", "labelstudio", "--n", "3")
    assert proc.returncode == 1 and b"bad.jsonl:2: field 'text'" in proc.stderr
    tasks = json.loads(proc.stdout)
    assert len(tasks) == 1 and tasks[0]["data"]["article_id"] == "x"
    assert tasks[0]["predictions"][0]["model_version"].startswith("topics@")
    proc = run_cli("--registry", str(trained_registry), "suggest", str(pool), "--diversity", "2")
    assert proc.returncode == 2 and b"diversity" in proc.stderr


def test_cli_defaults_are_the_librarys():
    from newstag.active.strategies import STRATEGIES
    from newstag.active.suggest import DEFAULT_DIVERSITY, DEFAULT_STRATEGY
    from newstag.cli import build_parser

    args = build_parser().parse_args(["suggest", "pool.jsonl"])
    assert (args.strategy, args.diversity, args.n) == (DEFAULT_STRATEGY, DEFAULT_DIVERSITY, 50)
    sub = build_parser()._subparsers._group_actions[0].choices["suggest"]  # type: ignore[union-attr]
    (strategy,) = [a for a in sub._actions if a.dest == "strategy"]
    assert tuple(strategy.choices) == STRATEGIES


def test_benchmark_table_counts_labels_to_98_percent_and_the_share_of_random(tmp_path):
    import argparse
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("active_learning", ROOT / "benchmarks" / "active_learning.py")
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    curve = lambda values: [[100 + 50 * i, v, v] for i, v in enumerate(values)]  # noqa: E731
    results = {
        "tasks": {
            "topics": {
                "full": {"micro_f1": 0.9, "macro_f1": 0.9},
                "pool": 300,
                "curves": {"hybrid": [curve([0.5, 0.89, 0.9])] * 2, "random": [curve([0.5, 0.7, 0.8, 0.85, 0.9])] * 2},
            }
        }
    }
    md, needed = bench.table(results)
    assert needed["topics"]["hybrid"] == {"micro_f1": 150, "macro_f1": 150}
    assert needed["topics"]["random"]["micro_f1"] == 300
    assert "| topics | hybrid | 150 | 50% | 150 | 50% |" in md
    args = argparse.Namespace(strategies=["hybrid", "random"], seeds=2, start=100, step=50, rounds=None, diversity=0.7)
    text = bench.write_markdown(results, args, tmp_path / "ACTIVE.md", tmp_path / "active_learning.png", 1.0)
    assert "hybrid needs 150 labels, random 300: 50% of random, meets the goal" in text
