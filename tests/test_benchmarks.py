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
