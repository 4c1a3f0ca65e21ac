"""Smoke tests of the benchmark scripts (structure of their output, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, write_jsonl


def _tiny(corpus, n):
    return [r.to_json() for r in corpus[:n]]


def test_compare_peers_smoke(tmp_path, corpus_train, corpus_test):
    train = write_jsonl(tmp_path / "train.jsonl", _tiny(corpus_train, 120))
    test = write_jsonl(tmp_path / "test.jsonl", _tiny(corpus_test, 30))
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "compare_peers.py"),
            "--train",
            str(train),
            "--test",
            str(test),
            "--tasks",
            "topics",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    systems = {r["system"] for r in doc["results"]}
    assert {"newstag-baseline", "newstag-best", "sklearn-default"} <= systems
    assert systems | set(doc["skipped"]) >= {"fasttext", "fasttext-tuned", "spacy-bow", "spacy-bow-tuned"}  # ran, or says why not
    for r in doc["results"]:
        assert set(r) >= {"micro_f1", "macro_f1", "per_label_f1", "train_seconds", "articles_per_second", "peak_rss_mb", "model_mb"}
        assert set(r["per_label_f1"]) == {"diplomacy", "military_aid", "mediation"}
    md = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "## topics" in md and "## Goals" in md and doc["meta"]["machine"] in md


def test_figures_go_to_the_given_readme_and_to_results_only_from_the_projects(tmp_path, monkeypatch):
    """A benchmark run that writes another README (a smoke run, a copy)
    leaves benchmarks/RESULTS.md alone; a README without the block is
    reported, not rewritten."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import figures

    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- demo:start -->\nold\n<!-- demo:end -->\nb\n", encoding="utf-8")
    committed = figures.RESULTS.read_bytes()
    assert figures.publish(readme, "demo", "new figures")
    assert readme.read_text(encoding="utf-8") == "a\n<!-- demo:start -->\nnew figures\n<!-- demo:end -->\nb\n"
    assert figures.RESULTS.read_bytes() == committed
    bare = tmp_path / "BARE.md"
    bare.write_text("no block\n", encoding="utf-8")
    assert not figures.publish(bare, "demo", "x") and bare.read_text(encoding="utf-8") == "no block\n"


def test_shared_throughput_gives_every_model_each_batch_with_one_prepared_dict(trained_registry, corpus_test, monkeypatch):
    """compare_peers' both-task rate labels each batch with every task's
    model, sharing one ``prepared`` dict per batch (as ``predict_batch``)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import compare_peers
    from newstag.engine.compact import CompactModel

    calls = []
    real = CompactModel.predict_proba

    def spy(self, articles, prepared=None):
        calls.append((tuple(self.labels_), len(articles), id(prepared)))
        return real(self, articles, prepared)

    monkeypatch.setattr(CompactModel, "predict_proba", spy)
    files = [next((trained_registry / task).glob("v*/model.compact.npz")) for task in ("topics", "actors")]
    stream = (list(corpus_test) * 2)[:700]
    rate = compare_peers.shared_throughput(files, corpus_test[:5], stream, repeats=1)
    assert rate > 0
    sizes = [n for _, n, _ in calls]
    assert sizes == [5, 5, 500, 500, 200, 200]  # warm-up, then batches of 500, each through both models
    for first, second in zip(calls[::2], calls[1::2]):
        assert first[0] != second[0] and first[2] == second[2]  # two tasks, one prepared dict per batch


def test_results_name_the_shared_pass_rate_against_fasttext(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import compare_peers

    def row(system, task, rate):
        return {
            "system": system,
            "task": task,
            "micro_f1": 0.9,
            "macro_f1": 0.9,
            "per_label_f1": {},
            "train_seconds": 1.0,
            "articles_per_second": rate,
            "peak_rss_mb": 1.0,
            "model_mb": 1.0,
        }

    results = [
        row("newstag-best", "topics", 8000.0),
        row("newstag-best", "actors", 4000.0),
        row("fasttext", "topics", 10000.0),
        row("fasttext", "actors", 9000.0),
    ]
    meta = {"date": "d", "machine": "m", "train": "t", "test": "s", "n_train": 1, "n_test": 1, "tasks": ["topics", "actors"]}
    meta["shared_batch"] = {"tasks": ["topics", "actors"], "articles_per_second": 3500.0, "engine": "compiled"}
    md = compare_peers.render(results, {}, meta)
    assert "topics + actors together, one pass per batch" in md
    assert "3500 articles/s, 0.35x fastText's fastest single task" in md
    assert "together (from the per-task rates): 2667 articles/s" in md
