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
    from newstag.serve.predict import load

    return {t: (load(t, trained_registry, engine="sklearn"), load(t, trained_registry)) for t in ("topics", "actors")}


def test_registered_models_have_a_compact_form(pairs):
    from newstag.engine.compact import CompactModel

    for _task, (sk, fast) in pairs.items():
        assert isinstance(fast.model, CompactModel)
        assert fast.labels == sk.labels and np.array_equal(fast.thresholds, sk.thresholds)


def test_same_probabilities_on_the_corpus(pairs, corpus_test):
    for task, (sk, fast) in pairs.items():
        P_sk, P_fast = sk.probabilities(corpus_test), fast.probabilities(corpus_test)
        assert np.abs(P_sk - P_fast).max() < 1e-6, task


def test_heads_are_float32_and_change_no_label(pairs, corpus_test):
    """The stored heads are float32 (half the bytes the product reads); the
    labels on the corpus are scikit-learn's, probabilities within 1e-6."""
    for task, (sk, fast) in pairs.items():
        assert fast.model.W.dtype == np.float32, task
        assert sk.predict(corpus_test) == fast.predict(corpus_test), task
        assert np.abs(sk.probabilities(corpus_test) - fast.probabilities(corpus_test)).max() < 1e-6, task


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


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 2**64 - 1), max_size=300), st.lists(st.integers(0, 2**64 - 1), max_size=100))
def test_lookup_table_agrees_with_a_dict(keys, others):
    from newstag.engine.compact import _Lookup

    keys = sorted(keys)
    table = _Lookup(np.array(keys, dtype=np.uint64), np.arange(len(keys), dtype=np.int64))
    reference = {k: i for i, k in enumerate(keys)}
    queries = keys + others
    got = table(np.array(queries, dtype=np.uint64))
    assert got.tolist() == [reference.get(q, -1) for q in queries]


@pytest.mark.parametrize("model", ["linear_svc", "linear_svc_cv3", "logreg", "sgd", "ridge"])
def test_every_linear_model_compiles_to_the_same_probabilities(model, corpus_train, corpus_test):
    from hydra import compose, initialize_config_dir

    from conftest import ROOT
    from newstag.experiment.app import register_resolvers
    from newstag.experiment.train import build_model
    from newstag.learn.export import compile_model
    from newstag.schema import binarize
    from newstag.schema.labels import load_schema

    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["features=word_char_alias", f"model={model}", "thresholds.folds=3", "n_jobs=1"])
    labels = load_schema().ids("topics")  # three labels: the model type is under test, not the label count
    records = corpus_train[::6]
    fitted = build_model(cfg, "topics", labels).fit(records, binarize(records, "topics", labels))
    cm, _ = compile_model(fitted)
    assert np.abs(cm.predict_proba(corpus_test[:60]) - fitted.predict_proba(corpus_test[:60])).max() < 1e-6


def test_word_cache_changes_nothing_and_stays_bounded(trained_registry, corpus_test):
    from newstag.engine.compact import _WordCache
    from newstag.registry import Registry

    reg = Registry(trained_registry)
    one_go = reg.load_compact("actors")[0].predict_proba(corpus_test)
    model = reg.load_compact("actors")[0]
    model._cache = _WordCache(limit=300)  # cleared many times over the corpus
    sizes, parts = [], []
    for k in range(0, len(corpus_test), 25):
        parts.append(model.predict_proba(corpus_test[k : k + 25]))
        sizes.append(len(model._cache.words))
    assert np.abs(np.vstack(parts) - one_go).max() < 1e-12
    assert max(sizes) < 300 + 25 * 400  # at most the limit plus one batch's words
    assert min(sizes[1:]) < max(sizes)  # it was cleared along the way
    # a second pass over seen articles reuses the cache and agrees too
    assert np.abs(model.predict_proba(corpus_test[:25]) - one_go[:25]).max() < 1e-12


# ------------------------------------------------------------- npz reader

_DTYPES = st.sampled_from(["<f8", "<f4", "<i8", "<i4", "<u8", "|b1", "<U7", ">f8"])


@settings(max_examples=60, deadline=None)
@given(
    members=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
        st.tuples(_DTYPES, st.lists(st.integers(0, 4), min_size=0, max_size=3), st.booleans()),
        min_size=1,
        max_size=5,
    ),
    compressed=st.booleans(),
)
def test_npz_views_read_what_np_load_reads(members, compressed):
    """The zero-copy reader of model files gives np.load's arrays (values,
    dtype, shape, order), writable, for stored members and, through the
    fallback, compressed ones."""
    import io

    from newstag.engine.compact import _npz_views

    rng = np.random.default_rng(len(members))
    arrays = {}
    for name, (dtype, shape, fortran) in members.items():
        a = _random_array(rng, np.dtype(dtype), tuple(shape))
        arrays[name] = np.asfortranarray(a) if fortran else a
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    data = buf.getvalue()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        want = {k: z[k] for k in z.files}
    for source in (data, bytearray(data), np.frombuffer(data, dtype=np.uint8).copy()):  # bytes: copied; the others: viewed
        got = _npz_views(source)
        assert got.keys() == want.keys()
        for k, w in want.items():
            assert got[k].dtype == w.dtype and got[k].shape == w.shape and np.array_equal(got[k], w)
            assert got[k].flags.writeable and got[k].flags.f_contiguous == w.flags.f_contiguous


def _random_array(rng, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    if dtype.kind == "U":
        return np.array(["".join(rng.choice(list("aèß€𝄞 z"), size=rng.integers(0, 8))) for _ in range(int(np.prod(shape)))], dtype=dtype).reshape(shape)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dtype)
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, 1000, size=shape).astype(dtype)
