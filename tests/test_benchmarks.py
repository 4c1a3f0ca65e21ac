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
