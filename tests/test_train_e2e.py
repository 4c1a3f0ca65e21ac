"""End to end: the real ``newstag-train`` entry point, into temporary folders."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import BIN, ROOT, run_cli, shared_or_skip


def _train(tmp_path, *overrides, multirun=False, cwd=None):
    args = [str(BIN / "newstag-train")] + (["-m"] if multirun else []) + list(overrides)
    args += [f"paths.registry={tmp_path / 'registry'}", f"paths.runs={tmp_path / 'runs'}", f"paths.sweeps={tmp_path / 'sweeps'}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=cwd or tmp_path)


def test_training_registers_both_tasks_and_writes_run_outputs(tmp_path, trained_registry):
    from newstag.registry import Registry

    reg = Registry(trained_registry)
    assert reg.tasks() == ["actors", "topics"]
    for task in ("topics", "actors"):
        m = reg.manifest(task)
        assert m["version"] == "v1" and m["task"] == task
        assert m["dataset"]["train_fingerprint"] and len(m["dataset"]["train_fingerprint"]) == 64
        assert set(m["thresholds"]) == set(m["labels"])
        assert m["metrics"]["test"]["summary"]["micro_f1"] > 0.5
        assert m["config"]["train_tasks"] == ["topics", "actors"]
        assert m["training_seconds"] > 0
        assert m["command"].startswith("newstag-train data=custom")
        reg.verify(task)


def test_custom_csv_data_single_task_and_cv(tmp_path, small_sets):
    from newstag.data import load_labelled, to_frame

    train, _test = small_sets
    # a user's CSV with its own column names, given relative to the working directory
    (tmp_path / "mine").mkdir()
    frame = to_frame(load_labelled(train), label_sep=";").rename(columns={"text": "body"})
    frame.to_csv(tmp_path / "mine" / "train.csv", index=False)
    proc = _train(
        tmp_path,
        "data=custom",
        "data.train=mine/train.csv",
        "data.columns.text=body",
        "task=topics",
        "features=word_tfidf",
        "cv.folds=3",
        "thresholds.folds=2",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics["tasks"]) == ["topics"]
    cv = metrics["tasks"]["topics"]["cv"]
    assert cv["folds"] == 3 and 0 < cv["micro_f1"] <= 1 and "micro_f1_std" in cv
    assert "test" not in metrics["tasks"]["topics"]  # no test file given
    assert (run / "config.yaml").is_file() and (run / "train.log").is_file()
    log = (run / "train.log").read_text()
    assert "cv fold 3/3" in log and "fitted in" in log
    assert not (tmp_path / "outputs").exists() and not (tmp_path / ".hydra").exists()  # nothing in the cwd


def test_sweep_writes_a_ranked_summary(tmp_path, small_sets):
    train, test = small_sets
    proc = _train(
        tmp_path,
        "data=custom",
        f"data.train={train}",
        f"data.test={test}",
        "task=topics",
        "model=logreg,complement_nb",
        "features=word_tfidf",
        "cv.folds=2",
        "thresholds.folds=2",
        "register=false",
        multirun=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "sweeps").iterdir()
    summary = (sweep / "summary.md").read_text()
    assert "model=logreg" in summary and "model=complement_nb" in summary
    import csv

    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert float(rows[0]["cv.micro_f1"]) >= float(rows[1]["cv.micro_f1"])
    assert not (tmp_path / "registry").exists()


def test_entry_point_finds_conf_from_any_directory(tmp_path):
    proc = subprocess.run([str(BIN / "newstag-train"), "--cfg", "job", "--resolve"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"root: {ROOT}" in proc.stdout


def test_bad_data_fails_with_a_located_message(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "title": "x", "text": "y", "topics": ["diplomcy"], "actors": []}\n')
    proc = _train(tmp_path, "data=custom", f"data.train={bad}")
    assert proc.returncode != 0
    assert f"{bad}:1: field 'topics': unknown topic id 'diplomcy' (did you mean 'diplomacy'?)" in proc.stderr


@pytest.mark.slow
def test_default_models_label_the_shared_sample(tmp_path):
    """The defaults trained on the whole train split give the shared sample its
    three topics and the actors that act in it, and no actor it does not have."""
    sample = shared_or_skip("samples", "usa-russia-colloqui.txt")
    expected = json.loads(shared_or_skip("samples", "usa-russia-colloqui.labels.json").read_text(encoding="utf-8"))
    reg = tmp_path / "registry"  # where _train registers
    proc = _train(tmp_path, "data.test=null", "report=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = run_cli("--registry", str(reg), "predict", "-q", str(sample))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.decode().splitlines()[0])
    topics = {p["label"] for p in got["topics"]}
    actors = {p["label"] for p in got["actors"]}
    assert topics == set(expected["topics"])
    assert {"usa", "russia", "ukraine", "turkey"} <= actors <= set(expected["actors"])
