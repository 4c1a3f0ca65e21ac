"""The package layout of issue 10: old module paths still load saved models,
one command surface, and the layer contracts hold."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import BIN, ROOT, run_cli

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture()
def legacy_registry(tmp_path):
    """A copy of the registry saved by the pre-layout code (newstag.models,
    newstag.features, newstag.aliases in its pickles)."""
    return Path(shutil.copytree(FIXTURES / "legacy-registry", tmp_path / "registry"))


@pytest.mark.parametrize("engine", ["sklearn", "compact"])
@pytest.mark.parametrize("task", ["topics", "actors"])
def test_model_saved_before_the_move_loads_and_predicts_the_same(legacy_registry, task, engine):
    from newstag.serve.predict import load

    expected = json.loads((FIXTURES / "legacy-predictions.json").read_text(encoding="utf-8"))
    lab = load(task, registry=legacy_registry, engine=engine)
    P = lab.probabilities(expected["articles"])
    np.testing.assert_allclose(P, np.array(expected["expected"][f"{task}/{engine}"]), atol=1e-9)


def test_old_module_paths_resolve_to_the_new_classes():
    import newstag  # noqa: F401 - installs the aliases
    from newstag.learn.models import MultiLabelModel

    old = __import__("newstag.models", fromlist=["MultiLabelModel"])
    assert old.MultiLabelModel is MultiLabelModel
    assert __import__("newstag.aliases", fromlist=["AliasMatcher"]).AliasMatcher.__module__ == "newstag.text.aliases"


def test_joblib_load_of_an_old_pickle_outside_the_registry():
    """A user who unpickles model.joblib directly (after checking it) gets the
    new classes too."""
    code = "import joblib, newstag, sys; m = joblib.load(sys.argv[1]); print(type(m).__module__, type(m.pipeline_.named_steps['clf']).__module__)"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES / "legacy-registry" / "actors" / "v1" / "model.joblib")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["newstag.learn.models", "newstag.learn.models"]


def test_help_names_every_entry_point():
    proc = run_cli("--help")
    assert proc.returncode == 0
    out = proc.stdout.decode()
    for word in ("predict", "models", "evaluate", "report", "data", "newstag-train", "newstag-evaluate"):
        assert word in out, word


def test_data_command_and_module_alias_agree(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "title": "t", "text": "x", "topics": ["diplomacy"], "actors": ["atlantis"]}\n', encoding="utf-8")
    for cmd in ([str(BIN / "newstag"), "data"], [sys.executable, "-m", "newstag.data"]):
        proc = subprocess.run([*cmd, "validate", "--labelled", str(bad)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, (cmd, proc.stderr)
        assert "bad.jsonl:1: field 'actors': unknown actor id 'atlantis'" in proc.stderr
        assert "0 valid record(s), 1 problem(s)" in proc.stdout
    help_out = subprocess.run([str(BIN / "newstag"), "data", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "validate" in help_out and "split" in help_out and "stats" in help_out


def test_layer_contracts_hold_and_catch_an_upward_import(tmp_path):
    """import-linter on the real package passes; on a copy with one upward
    import added (the engine importing the registry) it fails."""
    lint = BIN / "lint-imports"
    if not lint.exists():
        pytest.skip("import-linter is not installed (make install installs the dev extra)")
    ok = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout[-2000:]

    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src", copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    engine = copy / "newstag" / "engine" / "compact.py"
    engine.write_text(engine.read_text(encoding="utf-8") + "\nfrom newstag.registry import Registry  # upward\n", encoding="utf-8")
    env = {"PYTHONPATH": str(copy), "PATH": str(BIN)}
    bad = subprocess.run([str(lint)], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert bad.returncode != 0
    assert "newstag.engine.compact -> newstag.registry" in bad.stdout
