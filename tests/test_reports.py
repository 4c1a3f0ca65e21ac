"""Evaluation reports, leaderboards and model cards on real trained models."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import run_cli, write_jsonl


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.imgs, self.links, self.headings, self._h = [], [], [], [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag in ("a", "link", "script") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src"))
        self._h = tag in ("h2", "h3", "h4")

    def handle_data(self, data):
        if self._h and data.strip():
            self.headings.append(data.strip())
            self._h = False


@pytest.fixture(scope="module")
def report_dir(trained_registry, small_sets, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    proc = run_cli("--registry", str(trained_registry), "evaluate", "topics", "actors", str(small_sets[1]), "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    return out


def test_html_is_self_contained_and_complete(report_dir):
    html = (report_dir / "report.html").read_text()
    p = _Collector()
    p.feed(html)
    assert {"summary", "topics", "actors"} <= set(p.ids)
    for heading in (
        "Per label",
        "Precision, recall and F1 per label",
        "Precision-recall curves",
        "F1 against threshold",
        "Confusion matrices",
        "Calibration",
        "Label co-occurrence, true and predicted",
        "Error analysis",
        "Most confident false positives",
    ):
        assert heading in p.headings, heading
    assert len(p.imgs) == 12 and all(src.startswith("data:image/png;base64,") for src in p.imgs)
    assert p.links == [] and not re.search(r"https?://", html)


def test_markdown_links_resolve(report_dir):
    md = (report_dir / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 12
    for link in links:
        assert (report_dir / link).is_file() and (report_dir / link).read_bytes()[:4] == b"\x89PNG"
    assert "| label | precision | recall | F1 |" in md


def test_metrics_json_contents(report_dir, small_sets):
    from newstag.data import fingerprint, load_labelled

    m = json.loads((report_dir / "metrics.json").read_text())
    assert m["dataset"]["fingerprint"] == fingerprint(load_labelled(small_sets[1]))
    assert m["models"] == {"topics": "topics@v1", "actors": "actors@v1"}
    for task in ("topics", "actors"):
        t = m["tasks"][task]
        assert set(t["summary"]) >= {"micro_f1", "macro_f1", "weighted_f1", "samples_f1", "subset_accuracy", "hamming_loss"}
        row = next(iter(t["per_label"].values()))
        assert set(row) >= {"precision", "recall", "f1", "support", "average_precision", "roc_auc", "brier"}
        assert set(t["thresholds"]) == set(t["per_label"])
        assert "ece" in t["calibration"]
        assert set(t["errors"]) == {"false_positives", "false_negatives"}


def test_report_renders_when_a_label_has_no_positives(trained_registry, tmp_path):
    rows = [
        {
            "id": "1",
            "lang": "it",
            "title": "Lavrov e Blinken al telefono",
            "text": "Colloquio tra Mosca e Washington.",
            "topics": ["diplomacy"],
            "actors": ["russia", "usa"],
        },
        {"id": "2", "lang": "it", "title": "Nuovi missili su Kharkiv", "text": "Attacco russo nella notte.", "topics": [], "actors": ["russia", "ukraine"]},
    ]
    data = write_jsonl(tmp_path / "tiny.jsonl", rows)
    proc = run_cli("--registry", str(trained_registry), "evaluate", "topics", "actors", str(data), "-o", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr.decode()
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["tasks"]["topics"]["per_label"]["mediation"]["f1"] is None
    html = (tmp_path / "r" / "report.html").read_text()
    assert "undefined" in html and "no positives" in html


def test_evaluate_rejects_bad_data_with_location(trained_registry, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "title": "x", "text": "y", "topics": ["peace"], "actors": []}\n')
    proc = run_cli("--registry", str(trained_registry), "evaluate", "topics", str(bad), "-o", str(tmp_path / "r"))
    assert proc.returncode == 2 and f"{bad}:1: field 'topics'".encode() in proc.stderr


def test_training_run_writes_its_test_report_and_model_cards(trained_registry):
    from newstag.registry import Registry

    reg = Registry(trained_registry)
    for task in ("topics", "actors"):
        ref = reg.resolve(task)
        card = (ref.path / "model_card.md").read_text()
        m = reg.manifest(ref)
        assert m["dataset"]["train_fingerprint"] in card and m["dataset"]["test_fingerprint"] in card
        assert m["command"] in card and m["command"].startswith("newstag-train ")
        for section in ("## Intended use", "## Out-of-scope uses", "## Training data", "## Evaluation", "## Known limitations", "## Reproduce"):
            assert section in card
    runs = Path(reg.manifest("topics")["config"]["paths"]["runs"])
    (run,) = runs.iterdir()
    assert (run / "report" / "report.html").is_file() and (run / "report" / "report.md").is_file()


def _fake_run(base: Path, name: str, task: str, cv: float, test: float, model: str) -> Path:
    run = base / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        f"model:\n  _target_: newstag.learn.models.one_vs_rest\n  estimator:\n    _target_: sklearn.linear_model.{model}\n    C: 1.0\nfeatures:\n  _target_: newstag.learn.features.tfidf\n  analyzer: word\n  ngram_range: [1, 2]\n"
    )
    (run / "metrics.json").write_text(
        json.dumps(
            {
                "tasks": {
                    task: {
                        "cv": {"micro_f1": cv, "macro_f1": cv - 0.1},
                        "test": {"summary": {"micro_f1": test, "macro_f1": test - 0.1}},
                        "training_seconds": 1.0,
                    }
                }
            }
        )
    )
    return run


def test_compare_ranks_a_known_set_of_runs(tmp_path):
    from newstag.reports.compare import collect, rank

    sweep = tmp_path / "sweep"
    _fake_run(sweep, "0", "topics", 0.80, 0.90, "LogisticRegression")
    _fake_run(sweep, "1", "topics", 0.85, 0.70, "RidgeClassifier")
    _fake_run(sweep, "2", "topics", 0.83, 0.95, "SGDClassifier")
    rows = rank(collect([sweep]), "cv.micro_f1")
    assert [r["model"] for r in rows] == ["RidgeClassifier", "SGDClassifier", "LogisticRegression"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[2]["gap"] == pytest.approx(-0.05)
    rows = rank(collect([sweep]), "test.micro_f1")
    assert rows[0]["model"] == "SGDClassifier"
    out = tmp_path / "lb"
    proc = run_cli("report", "compare", str(sweep), "--metric", "cv.micro_f1", "-o", str(out), "--no-registry")
    assert proc.returncode == 0, proc.stderr.decode()
    md = (out / "leaderboard.md").read_text()
    assert md.index("RidgeClassifier") < md.index("SGDClassifier") < md.index("LogisticRegression")
    assert "<table>" in (out / "leaderboard.html").read_text()


def test_hydra_evaluate_entry_point(trained_registry, small_sets, tmp_path):
    import subprocess

    from conftest import BIN

    out = tmp_path / "eval"
    proc = subprocess.run(
        [str(BIN / "newstag-evaluate"), f"paths.registry={trained_registry}", f"dataset={small_sets[1]}", "models=[topics@v1]", f"hydra.run.dir={out}"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["models"] == {"topics": "topics@v1"} and (out / "report.html").is_file()
