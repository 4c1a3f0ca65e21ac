"""Sweeps through hydra-submitit-launcher: ``hydra/launcher=submitit_local``
runs each job as its own process (the code path of ``submitit_slurm``), the
sweep summary is written and every job registers its own version."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest

from conftest import BIN, ROOT


def test_launcher_configs_keep_the_plugin_names_and_set_our_defaults():
    proc = subprocess.run(
        [str(BIN / "newstag-train"), "hydra/launcher=submitit_slurm", "--cfg", "hydra", "--package", "hydra.launcher"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SlurmLauncher" in proc.stdout and "cpus_per_task: 4" in proc.stdout and "timeout_min: 120" in proc.stdout
    assert "ConfigStore schema" not in proc.stderr  # the deliberate name match is not reported on every run
    assert (ROOT / "conf" / "hydra" / "launcher" / "submitit_local.yaml").is_file()


@pytest.mark.slow
def test_submitit_local_sweep_registers_distinct_versions(tmp_path, small_sets):
    train, test = small_sets
    reg, sweeps = tmp_path / "registry", tmp_path / "sweeps"
    proc = subprocess.run(
        [
            str(BIN / "newstag-train"),
            "-m",
            "hydra/launcher=submitit_local",
            "data=custom",
            f"data.train={train}",
            f"data.test={test}",
            "task=topics",
            "features=word_tfidf",
            "model=logreg,complement_nb",
            "thresholds.folds=0",
            "report=false",
            "n_jobs=1",
            f"paths.registry={reg}",
            f"paths.sweeps={sweeps}",
            f"paths.runs={tmp_path / 'runs'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = sweeps.iterdir()
    assert (sweep / ".submitit").is_dir()  # the jobs went through submitit
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert sorted(r["overrides"].split("model=")[1].split()[0] for r in rows) == ["complement_nb", "logreg"]
    versions = sorted(p.name for p in (reg / "topics").iterdir() if p.is_dir())
    assert versions == ["v1", "v2"]
    models = {o for v in versions for o in json.loads((reg / "topics" / v / "manifest.json").read_text())["overrides"] if o.startswith("model=")}
    assert models == {"model=logreg", "model=complement_nb"}  # one version per job, none overwritten
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()  # nothing in the cwd
