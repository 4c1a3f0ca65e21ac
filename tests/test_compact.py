"""The compact predictor gives the scikit-learn pipeline's probabilities."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli


@pytest.fixture(scope="module")
def pairs(trained_registry):
    from newstag.predict import load

    return {t: (load(t, trained_registry, engine="sklearn"), load(t, trained_registry)) for t in ("topics", "actors")}


def test_registered_models_have_a_compact_form(pairs):
    from newstag.compact import CompactModel

    for task, (sk, fast) in pairs.items():
        assert isinstance(fast.model, CompactModel)
        assert fast.labels == sk.labels and np.array_equal(fast.thresholds, sk.thresholds)


def test_same_probabilities_on_the_corpus(pairs, corpus_test):
    for task, (sk, fast) in pairs.items():
        P_sk, P_fast = sk.probabilities(corpus_test), fast.probabilities(corpus_test)
        assert np.abs(P_sk - P_fast).max() < 1e-6, task


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({"title": st.text(max_size=60), "text": st.text(max_size=300)}), min_size=1, max_size=4))
def test_same_probabilities_on_arbitrary_text(pairs, articles):
    for sk, fast in pairs.values():
        assert np.abs(sk.probabilities(articles) - fast.probabilities(articles)).max() < 1e-6


def test_same_explanations(pairs, corpus_test):
    for sk, fast in pairs.values():
        for article in corpus_test[:5]:
            a, b = sk.explain(article, 5), fast.explain(article, 5)
            assert a.keys() == b.keys()
            for label in a:
                assert [f["feature"] for f in a[label]["features"]] == [f["feature"] for f in b[label]["features"]]
                assert a[label].get("aliases") == b[label].get("aliases")


def test_tampered_compact_file_is_refused(trained_registry, tmp_path):
    from newstag.registry import Registry, RegistryError

    copy = tmp_path / "reg"
    shutil.copytree(trained_registry, copy)
    path = copy / "actors" / "v1" / "model.compact.npz"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(RegistryError, match="does not match the manifest"):
        Registry(copy).load_compact("actors")
    proc = run_cli("--registry", str(copy), "predict", "-q", "-m", "actors", "-")
    assert proc.returncode == 2 and b"does not match the manifest" in proc.stderr


def test_prediction_path_does_not_import_sklearn(trained_registry, tmp_path):
    code = (
        "import sys\n"
        "from newstag.cli import main\n"
        f"rc = main(['--registry', {str(trained_registry)!r}, 'predict', '-q', '-o', {str(tmp_path / 'o.jsonl')!r}, {str(tmp_path / 'a.jsonl')!r}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'pandas', 'joblib')))\n"
        "sys.exit(rc)\n"
    )
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "1", "title": "Lavrov a Pechino", "text": "Colloqui con Wang Yi."}) + "\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
