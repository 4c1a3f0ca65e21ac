"""``newstag predict`` and the Python API, end to end on real files."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_cli, shared_or_skip, write_jsonl

RAW = ROOT / "data" / "raw"


def predict(registry, *args, stdin=None):
    return run_cli("--registry", str(registry), "predict", "-q", *args, stdin=stdin)


def lines(proc):
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


ARTICLES = [
    {
        "id": "n1",
        "title": "Lavrov e Blinken al telefono, la Turchia si offre come mediatrice",
        "text": "Colloquio tra i ministri degli Esteri di Russia e Stati Uniti. Ankara propone di ospitare i negoziati tra Mosca e Kiev.",
    },
    {"id": "n2", "title": "Juventus-Inter 1-1, pari nel derby d'Italia", "text": "Gol di Vlahovic e Lautaro nel secondo tempo."},
]


def test_raw_directory_jsonl_default(trained_registry):
    proc = predict(trained_registry, str(RAW))
    assert proc.returncode == 0, proc.stderr.decode()
    out = lines(proc)
    assert {o["id"] for o in out} == {p.stem for p in RAW.glob("*.txt")}
    for o in out:
        assert set(o) >= {"id", "source", "topics", "actors", "models"}
        assert o["models"] == {"topics": "topics@v1", "actors": "actors@v1"}
        for p in o["topics"] + o["actors"]:
            assert p["probability"] >= p["threshold"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_tabular_inputs_with_custom_columns(trained_registry, tmp_path, fmt):
    import pandas as pd

    frame = pd.DataFrame(ARTICLES).rename(columns={"text": "body"})
    path = tmp_path / f"in.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, frame.to_dict("records"))
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    proc = predict(trained_registry, str(path), "--column", "text=body")
    assert proc.returncode == 0, proc.stderr.decode()
    out = lines(proc)
    assert [o["id"] for o in out] == ["n1", "n2"]
    assert "diplomacy" in [p["label"] for p in out[0]["topics"]]
    assert out[1]["topics"] == []


def test_stdin_raw_and_jsonl(trained_registry):
    raw = (RAW / "berlin-air-defence-kyiv.txt").read_bytes()
    out = lines(predict(trained_registry, "-", stdin=raw))
    assert out[0]["id"] == "<stdin>" and "germany" in [p["label"] for p in out[0]["actors"]]
    jl = "\n".join(json.dumps(a) for a in ARTICLES).encode()
    out = lines(predict(trained_registry, "-", stdin=b"\n" + jl))
    assert [o["id"] for o in out] == ["n1", "n2"]


def test_several_inputs_in_one_call(trained_registry, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    out = lines(predict(trained_registry, str(path), str(RAW / "berlin-air-defence-kyiv.txt")))
    assert len(out) == 3


def test_output_formats(trained_registry, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    as_json = json.loads(predict(trained_registry, str(path), "--format", "json").stdout)
    assert [o["id"] for o in as_json] == ["n1", "n2"]
    rows = list(csv.DictReader(io.StringIO(predict(trained_registry, str(path), "--format", "csv").stdout.decode())))
    assert rows[0]["id"] == "n1" and "diplomacy" in rows[0]["topics"].split(";")
    table = predict(trained_registry, str(path), "--format", "table").stdout.decode()
    assert "n1" in table and "topics:" in table and "actors:" in table
    out_file = tmp_path / "sub" / "out.jsonl"
    proc = predict(trained_registry, str(path), "--output", str(out_file))
    assert proc.stdout == b"" and len(out_file.read_text().splitlines()) == 2
    assert not [p for p in out_file.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_all_scores_and_threshold_override(trained_registry, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", ARTICLES[:1])
    (o,) = lines(predict(trained_registry, str(path), "--all-scores"))
    assert len(o["scores"]["actors"]) == 25 and len(o["scores"]["topics"]) == 3
    (low,) = lines(predict(trained_registry, str(path), "--threshold", "0.0"))
    assert len(low["actors"]) == 25 and all(p["threshold"] == 0.0 for p in low["actors"])
    proc = predict(trained_registry, str(path), "--threshold", "3")
    assert proc.returncode == 2 and b"between 0 and 1" in proc.stderr


def test_explain_features_are_in_the_text_and_alias_offsets_point_at_aliases(trained_registry):
    from newstag.data import load_records
    from newstag.text.preparation import compose, normalize

    path = RAW / "emirati-scambio-prigionieri.txt"
    (record,) = load_records(path).records
    (o,) = lines(predict(trained_registry, str(path), "--explain", "5"))
    doc = normalize(compose(record))
    assert o["explanations"]["topics"] and o["explanations"]["actors"]
    for _task, per_label in o["explanations"].items():
        for label, ev in per_label.items():
            assert 0 < len(ev["features"]) <= 5
            for f in ev["features"]:
                block, _, name = f["feature"].partition("__")
                if block == "char":
                    assert name.strip() in doc, (label, f)
                if block == "word":  # stop words are dropped between the words of an n-gram
                    assert all(w in re.findall(r"(?u)\b\w\w+\b", doc) for w in name.split()), (label, f)
                assert f["contribution"] > 0
    for ev in o["explanations"]["actors"].values():
        for hit in ev["aliases"]:
            field_text = getattr(record, hit["field"])
            assert field_text[hit["start"] : hit["end"]] == hit["alias"]
    assert any(h["alias"] == "Emirati Arabi Uniti" for h in o["explanations"]["actors"].get("uae", {}).get("aliases", []))


def test_bad_records_are_reported_and_the_rest_labelled(trained_registry, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(ARTICLES[0]) + "\n{broken\n" + json.dumps({"id": "e", "title": "", "text": " "}) + "\n" + json.dumps(ARTICLES[1]) + "\n")
    proc = predict(trained_registry, str(path), str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 1
    assert [o["id"] for o in lines(proc)] == ["n1", "n2"]
    err = proc.stderr.decode()
    assert f"{path}:2:" in err and "malformed JSON" in err
    assert f"{path}:3: field 'text': empty text" in err
    assert "missing.jsonl" in err and "no such file" in err
    assert "2 article(s) labelled, 3 failed" in err


def test_unknown_model_is_a_usage_error(trained_registry):
    proc = predict(trained_registry, str(RAW), "--model", "topics@v42")
    assert proc.returncode == 2 and b"no version v42" in proc.stderr
    proc = run_cli("--registry", str(trained_registry / "nowhere"), "predict", str(RAW))
    assert proc.returncode == 2 and b"newstag-train" in proc.stderr


def test_tampered_model_is_refused(trained_registry, tmp_path):
    import shutil

    copy = tmp_path / "reg"
    shutil.copytree(trained_registry, copy)
    model = copy / "topics" / "v1" / "model.joblib"
    model.write_bytes(model.read_bytes() + b"\0")
    proc = predict(copy, str(RAW), "--model", "topics", "--engine", "sklearn")
    assert proc.returncode == 2 and b"does not match the manifest" in proc.stderr
    proc = run_cli("--registry", str(copy), "models", "verify", "topics")
    assert proc.returncode == 2 and b"does not match the manifest" in proc.stderr
    compact = copy / "actors" / "v1" / "model.compact.npz"
    compact.write_bytes(compact.read_bytes() + b"\0")
    proc = predict(copy, str(RAW), "--model", "actors")
    assert proc.returncode == 2 and b"does not match the manifest" in proc.stderr
    assert run_cli("--registry", str(copy), "models", "verify", "actors").returncode == 2


def test_models_commands(trained_registry, tmp_path):
    import shutil

    reg = tmp_path / "reg"
    shutil.copytree(trained_registry, reg)
    listing = run_cli("--registry", str(reg), "models", "list").stdout.decode()
    assert "topics@v1" in listing and "actors@v1" in listing and "latest" in listing
    assert run_cli("--registry", str(reg), "models", "promote", "topics@v1", "production").returncode == 0
    shown = json.loads(run_cli("--registry", str(reg), "models", "show", "topics@production").stdout)
    assert shown["version"] == "v1" and "config" not in shown
    assert b"OK" in run_cli("--registry", str(reg), "models", "verify", "actors@latest").stdout
    out = lines(predict(reg, str(RAW / "berlin-air-defence-kyiv.txt")))
    assert out[0]["models"]["topics"] == "topics@v1"


def test_api_and_cli_agree(trained_registry, tmp_path):
    import newstag

    path = write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    cli = lines(predict(trained_registry, str(path)))
    api = newstag.label(ARTICLES, registry=trained_registry)
    for c, a in zip(cli, api):
        assert c["topics"] == a["topics"] and c["actors"] == a["actors"] and c["models"] == a["models"]
    topics = newstag.load("topics", registry=trained_registry)
    assert topics.predict(ARTICLES) == [c["topics"] for c in cli]
    probs = topics.predict_proba(ARTICLES)
    assert set(probs[0]) == {"diplomacy", "military_aid", "mediation"}
    assert set(topics.explain(ARTICLES[0], 3)) == {p["label"] for p in cli[0]["topics"]}


def test_shared_sample_gets_sensible_labels(trained_registry):
    path = shared_or_skip("samples", "usa-russia-colloqui.txt")
    (o,) = lines(predict(trained_registry, str(path)))
    actors = {p["label"] for p in o["actors"]}
    assert {"usa", "russia", "ukraine", "turkey"} <= actors
    assert "diplomacy" in {p["label"] for p in o["topics"]}


@pytest.fixture(scope="module")
def api_models(trained_registry):
    import newstag

    return [newstag.load(t, registry=trained_registry) for t in ("topics", "actors")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(max_size=80), text=st.text(max_size=400))
def test_arbitrary_unicode_never_crashes(api_models, title, text):
    from newstag.data import Record
    from newstag.serve.predict import predict_batch

    out = predict_batch([Record(id="x", title=title, text=text)], api_models, all_scores=True, explain=2)
    assert len(out) == 1 and set(out[0]["scores"]) == {"topics", "actors"}


def test_decisions_keep_labels_at_or_over_their_threshold_most_probable_first():
    """At the threshold counts as over; ties keep the schema's order; the
    probability and threshold shown are rounded to 4 decimals; an article
    with nothing over its thresholds gets no labels; an override applies to
    every label."""
    from types import SimpleNamespace

    import numpy as np

    from newstag.serve.predict import Labeller

    model = SimpleNamespace(labels_=["a", "b", "c"], thresholds_=[0.5, 0.3, 0.123456])
    lab = Labeller(model, {"task": "t"}, "t@v1")
    P = np.array([[0.5, 0.29999, 0.9], [0.4, 0.4, 0.4], [0.1, 0.2, 0.1], [0.7, 0.7, 0.123456]])
    got = lab._decide(P)
    assert got[0] == [{"label": "c", "probability": 0.9, "threshold": 0.1235}, {"label": "a", "probability": 0.5, "threshold": 0.5}]
    assert [h["label"] for h in got[1]] == ["b", "c"]  # tie: schema order
    assert got[2] == []
    assert [h["label"] for h in got[3]] == ["a", "b", "c"]
    assert [[h["label"] for h in hits] for hits in lab._decide(P, threshold=0.45)] == [["c", "a"], [], [], ["a", "b"]]


def test_console_command_pauses_the_collector_only_while_it_starts(trained_registry):
    """``newstag`` (``cli.run``) loads its models with Python's cyclic
    collector off, then labels with it on (a stream must not keep its
    garbage cycles); ``main`` called as a library leaves the collector as
    the caller set it."""
    import subprocess

    from conftest import BIN

    script = (
        "import gc, sys\n"
        "import newstag.cli as cli, newstag.serve.predict as p\n"
        "load, batch = cli._load_labellers, p.predict_batch\n"
        "def loading(*a):\n"
        "    print('load', gc.isenabled(), file=sys.stderr); return load(*a)\n"
        "def labelling(*a, **k):\n"
        "    print('label', gc.isenabled(), file=sys.stderr); return batch(*a, **k)\n"
        "cli._load_labellers, p.predict_batch = loading, labelling\n"
        "if sys.argv[1] == 'run':\n"
        "    sys.argv[1:] = sys.argv[2:]; cli.run()\n"
        "cli.main(sys.argv[2:]); print('after', gc.isenabled(), file=sys.stderr)\n"
    )
    args = ["--registry", str(trained_registry), "predict", "-q", str(RAW / "emirati-scambio-prigionieri.txt")]
    console = subprocess.run([str(BIN / "python"), "-c", script, "run", *args], capture_output=True, text=True, timeout=300)
    assert console.returncode == 0, console.stderr
    assert console.stderr.split() == ["load", "False", "label", "True"]
    library = subprocess.run([str(BIN / "python"), "-c", script, "main", *args], capture_output=True, text=True, timeout=300)
    assert library.returncode == 0, library.stderr
    assert library.stderr.split() == ["load", "True", "label", "True", "after", "True"]
    # any other command runs with the collector on
    other = (
        "import gc, sys\n"
        "import newstag.cli as cli, newstag.data.datasheet as ds\n"
        "listing, data = cli.cmd_models_list, ds.main\n"
        "def models_list(*a):\n"
        "    print('models', gc.isenabled(), file=sys.stderr); return listing(*a)\n"
        "def data_main(*a, **k):\n"
        "    print('data', gc.isenabled(), file=sys.stderr); return data(*a, **k)\n"
        "cli.cmd_models_list, ds.main = models_list, data_main\n"
        "sys.argv[1:] = sys.argv[2:]; cli.run()\n"
    )
    for command, word in ((["--registry", str(trained_registry), "models", "list"], "models"), (["data", "--help"], "data")):
        proc = subprocess.run([str(BIN / "python"), "-c", other, "run", *command], capture_output=True, text=True, timeout=300)
        assert proc.stderr.split()[:2] == [word, "True"], proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "a.jsonl", "-q", "--engine", "numpy"],
        ["--registry", "predict", "models", "show", "topics", "--full"],
        ["--registry=reg", "suggest", "pool.jsonl", "--n", "5"],
        ["serve", "--port", "9000"],
        ["report", "compare", "--no-registry"],
        ["labelstudio", "config", "--lang", "en"],
        ["evaluate", "topics", "data.jsonl"],
    ],
)
def test_the_parser_built_for_one_command_parses_as_the_whole_one(argv):
    """``main`` builds only the named command's options (a faster start); the
    result is the full parser's, whatever global options come first."""
    from newstag import cli

    command = cli._command_of(argv)
    assert command == next(t for t in argv if t in cli._COMMANDS and argv[argv.index(t) - 1] != "--registry")
    assert vars(cli.build_parser(command).parse_args(argv)) == vars(cli.build_parser().parse_args(argv))


def test_command_of_names_no_command_for_help_or_unknown_words():
    from newstag import cli

    assert cli._command_of(["--help"]) is None
    assert cli._command_of(["--registry", "x"]) is None
    assert cli._command_of(["labelz"]) is None
