"""``newstag.spark`` and ``newstag predict --engine spark`` on a real local
Spark (``local[2]``): the same labels as the local CLI, models verified on the
executors, bad records counted. The executors of this session cannot import
scikit-learn (a blocking ``sklearn`` package is first on their PYTHONPATH), so
every Spark test here also shows that the executors do not need it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import CORPUS, run_cli, write_jsonl

pytestmark = pytest.mark.xdist_group("spark")  # one worker starts the session's Spark (make test runs -n 2)

BLOCKER = 'raise ImportError("scikit-learn is blocked on the Spark executors by tests/test_spark.py")\n'


def _java_or_skip() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark tests need Java 17: no `java` on PATH and JAVA_HOME is unset")
    pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install -e '.[spark]')")


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One ``local[2]`` session for every Spark test: UI off, bound to
    127.0.0.1, two shuffle partitions, and no scikit-learn on the executors."""
    _java_or_skip()
    from newstag.spark import session

    blocker = tmp_path_factory.mktemp("executor-path")
    (blocker / "sklearn").mkdir()
    (blocker / "sklearn" / "__init__.py").write_text(BLOCKER)
    conf = {
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.executorEnv.PYTHONPATH": str(blocker),
    }
    s = session("local[2]", app_name="newstag-tests", conf=conf)
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def _spark_predict(registry, *args: str) -> int:
    from newstag.cli import main

    return main(["--registry", str(registry), "predict", "-q", "--engine", "spark", "--master", "local[2]", *args])


def _read(out) -> list[dict]:
    import pandas as pd

    frame = pd.read_parquet(out)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, list) and v and isinstance(v[0], tuple):  # Arrow maps
                r[k] = dict(v)
            elif isinstance(v, np.ndarray):
                r[k] = list(v)
    return rows


@pytest.fixture(scope="module")
def articles_500(tmp_path_factory):
    """500 corpus articles in three files: two Parquet files in a folder and one JSON Lines file."""
    import pandas as pd

    rows = [json.loads(line) for line in (CORPUS / "train.jsonl").read_text(encoding="utf-8").splitlines()][:500]
    rows = [{"id": r["id"], "title": r.get("title", ""), "subtitle": r.get("subtitle", ""), "text": r["text"]} for r in rows]
    base = tmp_path_factory.mktemp("archive")
    (base / "parquet").mkdir()
    pd.DataFrame(rows[:200]).to_parquet(base / "parquet" / "a.parquet")
    pd.DataFrame(rows[200:350]).to_parquet(base / "parquet" / "b.parquet")
    write_jsonl(base / "c.jsonl", rows[350:])
    return base, rows


@pytest.mark.slow  # ~30 s: a Spark job over 500 articles, the local CLI on the same files
def test_spark_and_local_cli_agree_on_500_articles(spark, trained_registry, articles_500, tmp_path, capsys):
    base, rows = articles_500
    out = tmp_path / "labels"
    rc = _spark_predict(trained_registry, str(base / "parquet"), str(base / "c.jsonl"), "--output", str(out), "--partitions", "4")
    assert rc == 0, capsys.readouterr().err
    assert "500 article(s) labelled, 0 failed" in capsys.readouterr().err
    assert len(list(out.glob("part-*.parquet"))) >= 2  # several partitions wrote
    got = {r["id"]: r for r in _read(out)}
    assert set(got) == {r["id"] for r in rows}
    assert {r["source"].rsplit(":", 1)[0] if ".parquet" in r["source"] else r["source"] for r in got.values()} == {
        str(base / "parquet" / "a.parquet"),
        str(base / "parquet" / "b.parquet"),
        str(base / "c.jsonl"),
    }

    local = run_cli(
        "--registry",
        str(trained_registry),
        "predict",
        "-q",
        "--all-scores",
        str(base / "parquet" / "a.parquet"),
        str(base / "parquet" / "b.parquet"),
        str(base / "c.jsonl"),
    )
    assert local.returncode == 0, local.stderr.decode()
    expected = [json.loads(line) for line in local.stdout.decode().splitlines()]
    assert len(expected) == 500
    for e in expected:
        g = got[e["id"]]
        assert g["error"] is None and g["models"] == e["models"]
        for task in ("topics", "actors"):
            assert g[task] == [p["label"] for p in e[task]], (e["id"], task)  # same labels, same order
            assert {k: round(v, 4) for k, v in g[f"{task}_probabilities"].items()} == e["scores"][task]

    # full precision: the local engine behind the CLI, within 1e-9
    from newstag.data import Record
    from newstag.serve.predict import load

    records = [Record(id=r["id"], title=r["title"], subtitle=r["subtitle"], text=r["text"]) for r in rows]
    for task in ("topics", "actors"):
        lab = load(task, trained_registry)
        P = lab.probabilities(records)
        S = np.array([[got[r["id"]][f"{task}_probabilities"][label] for label in lab.labels] for r in rows])
        np.testing.assert_allclose(S, P, rtol=0, atol=1e-9)

    # each executor (Python worker) process loaded each model once, for all its batches and partitions
    def loads(frames):  # through mapInPandas: Spark keeps its Arrow workers apart from plain RDD ones
        import pandas as pd

        from newstag.spark import executor

        for _ in frames:
            yield pd.DataFrame({"pid": [os.getpid()], "loads": [json.dumps(dict(executor.LOADS))]})

    reports = spark.range(8).repartition(4).mapInPandas(loads, "pid long, loads string").collect()
    per_process = {r["pid"]: json.loads(r["loads"]) for r in reports}
    counts = [n for by_hash in per_process.values() for n in by_hash.values()]
    assert counts and set(counts) == {1}, per_process
    shipped = {json.loads((trained_registry / t / "v1" / "manifest.json").read_text())["compact"]["sha256"] for t in ("topics", "actors")}
    assert {h for by_hash in per_process.values() for h in by_hash} <= shipped


def test_label_dataframe_keeps_the_input_columns_and_executors_have_no_sklearn(spark, trained_registry):
    from newstag.spark import label_dataframe, ship_models

    df = spark.createDataFrame(
        [("k1", "Erdogan media tra Mosca e Kiev", "Ankara ospita i negoziati tra Russia e Ucraina.", 7), ("k2", None, "", 8)],
        "key string, headline string, body string, extra int",
    )
    out = label_dataframe(df, ship_models(spark, ["topics", "actors"], trained_registry), columns={"text": "body", "title": "headline", "id": "key"})
    assert out.columns == ["key", "headline", "body", "extra", "topics", "topics_probabilities", "actors", "actors_probabilities", "models", "error"]
    first, second = sorted(out.collect(), key=lambda r: r["key"])
    assert first["extra"] == 7 and first["error"] is None and first["models"] == {"topics": "topics@v1", "actors": "actors@v1"}
    assert "turkey" in first["actors"] and set(first["topics_probabilities"]) == {"diplomacy", "military_aid", "mediation"}
    assert second["topics"] is None and "empty text" in second["error"]

    def try_sklearn(_):
        try:
            import sklearn  # noqa: F401
        except ImportError as exc:
            yield str(exc)
        else:
            yield "imported"

    assert set(spark.sparkContext.parallelize(range(2), 2).mapPartitions(try_sklearn).collect()) == {BLOCKER.split('"')[1]}


def test_bad_records_are_counted_and_the_rest_labelled(spark, trained_registry, tmp_path, capsys):
    import pandas as pd

    good = {"id": "g1", "title": "Blinken a Kiev", "text": "Il segretario di Stato americano incontra Zelensky."}
    lines = [
        json.dumps(good),
        "{broken",
        json.dumps({"id": "t5", "text": 5}),
        json.dumps({"id": "e1", "title": "", "text": "  "}),
        "[1, 2]",
        json.dumps({"text": "Nessun id qui."}),
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "mixed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pd.DataFrame({"id": ["p1", "p2"], "text": ["La NATO invia aiuti militari.", None]}).to_parquet(tmp_path / "t.parquet")
    out = tmp_path / "out"
    rc = _spark_predict(
        trained_registry, str(tmp_path / "in"), str(tmp_path / "t.parquet"), str(tmp_path / "missing.parquet"), "--output", str(out), "--format", "jsonl"
    )
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "3 article(s) labelled, 6 failed (5 record(s) with an `error`, 1 missing input(s))" in err
    assert "missing.parquet: no such file or folder" in err
    rows = [json.loads(line) for part in sorted(out.glob("part-*.json")) for line in part.read_text(encoding="utf-8").splitlines()]
    rows = [{"id": None, "error": None, **r} for r in rows]  # Spark's JSON writer leaves out null fields
    assert len(rows) == 8
    by_error = {r["id"]: r["error"] for r in rows if r["error"]}
    jsonl = str(tmp_path / "in" / "mixed.jsonl")
    assert by_error["t5"] == f"{jsonl}: field 'text': expected a string, got int 5"
    assert "empty text" in by_error["e1"] and "empty text" in by_error["p2"]
    assert by_error["p2"].startswith(f"{tmp_path / 't.parquet'}:2: field 'text'")  # Parquet rows keep their row number
    assert sorted(r["error"] for r in rows if r["error"] and r["id"] is None) == sorted(
        [
            f"{jsonl}: malformed JSON (Expecting property name enclosed in double quotes at column 2): '{{broken' (fix or remove the line)",
            f"{jsonl}: expected a JSON object, got list (one object per line)",
        ]
    )
    labelled = {r["id"] for r in rows if r["error"] is None}
    assert {"g1", "p1"} <= labelled and any(i.startswith(f"{jsonl}#") for i in labelled)  # no id: a stable content hash


def test_tampered_model_is_refused_on_the_executor_with_the_local_message(spark, trained_registry, tmp_path, capsys):
    from newstag.registry import Registry, RegistryError
    from newstag.spark import label_dataframe, ship_models

    copy = tmp_path / "reg"
    shutil.copytree(trained_registry, copy)
    compact = copy / "topics" / "v1" / "model.compact.npz"
    compact.write_bytes(compact.read_bytes() + b"\0")
    with pytest.raises(RegistryError) as local:
        Registry(copy).load_compact("topics")
    message = str(local.value)
    assert "does not match the manifest" in message

    # the driver ships the bytes unchecked: the refusal happens in the executor's Python worker
    df = spark.createDataFrame([("a", "Mosca e Kiev trattano")], "id string, text string")
    with pytest.raises(Exception) as remote:
        label_dataframe(df, ship_models(spark, ["topics"], copy)).collect()
    assert message in str(remote.value) and "check_compact_bytes" in str(remote.value)

    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Mosca e Kiev trattano"}) + "\n")
    rc = _spark_predict(copy, str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out"), "--model", "topics")
    assert rc == 2
    assert capsys.readouterr().err.strip() == f"newstag: error: {message}"
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_usage_errors_exit_2(spark, trained_registry, tmp_path, capsys):
    copy = tmp_path / "reg"
    shutil.copytree(trained_registry, copy)
    manifest = copy / "topics" / "v1" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["compact"] = {"unsupported": "a classifier the compact engine does not implement"}
    manifest.write_text(json.dumps(m))
    data = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": "x"}])
    assert _spark_predict(copy, str(data), "--output", str(tmp_path / "o"), "--model", "topics") == 2
    assert "topics@v1 has no compact form (a classifier the compact engine does not implement)" in capsys.readouterr().err
    (tmp_path / "exists").mkdir()
    assert _spark_predict(trained_registry, str(data), "--output", str(tmp_path / "exists")) == 2
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("Un articolo.")
    assert _spark_predict(trained_registry, str(tmp_path / "notes.txt"), "--output", str(tmp_path / "o2")) == 2
    assert "reads Parquet and JSON Lines" in capsys.readouterr().err


# ------------------------------------------------------------- without a Spark session


def test_no_spark_options_without_output_or_with_local_only_flags(tmp_path, capsys):
    from newstag.cli import main

    assert main(["predict", "x.parquet", "--engine", "spark"]) == 2
    assert "--output DIR" in capsys.readouterr().err
    assert main(["predict", "x.parquet", "--engine", "spark", "-o", str(tmp_path / "o"), "--explain", "3"]) == 2
    assert main(["predict", "x.jsonl", "--format", "parquet"]) == 2
    assert "with --engine spark" in capsys.readouterr().err


def test_input_formats_from_names_and_folders(tmp_path):
    from newstag.spark.job import SparkUsageError, input_format

    assert input_format("s3a://bucket/news/2024/*.parquet") == "parquet"
    assert input_format("hdfs:///crawl/part-0001.jsonl.gz") == "jsonl"
    assert input_format("s3a://bucket/news/", "jsonl") == "jsonl"
    (tmp_path / "p" / "year=2024").mkdir(parents=True)
    (tmp_path / "p" / "year=2024" / "part-0.parquet").write_bytes(b"")
    (tmp_path / "p" / "_SUCCESS").write_bytes(b"")
    assert input_format(str(tmp_path / "p")) == "parquet"
    with pytest.raises(SparkUsageError, match="--input-format"):
        input_format("s3a://bucket/news/")
    (tmp_path / "p" / "x.jsonl").write_text("{}")
    with pytest.raises(SparkUsageError, match="both Parquet and JSON Lines"):
        input_format(str(tmp_path / "p"))


def test_executor_code_runs_without_sklearn_or_pyspark(trained_registry):
    """The executor side (bytes -> verified compact model -> labelled rows) in a
    process where ``import sklearn`` fails, and which never imports pyspark."""
    code = f"""
import json, sys
sys.modules["sklearn"] = None
from pathlib import Path
from newstag.spark.executor import ShippedModel, Spec, label_rows
reg = Path({str(trained_registry)!r})
models = []
for task in ("topics", "actors"):
    m = json.loads((reg / task / "v1" / "manifest.json").read_text())
    path = reg / task / "v1" / m["compact"]["file"]
    models.append(ShippedModel(task + "@v1", task, str(path), m["compact"]["sha256"], path.read_bytes()))
rows = [{{"id": "a", "title": "Erdogan media tra Mosca e Kiev", "text": "Ankara ospita i negoziati."}}, {{"_newstag_line": "{{oops", "_newstag_file": "f.jsonl"}}]
out = label_rows(rows, Spec(tuple(models)))
print(json.dumps({{"out": out, "spark": "pyspark" in sys.modules, "sk": any(k.startswith("sklearn.") for k in sys.modules)}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert not res["spark"] and not res["sk"]
    ok, bad = res["out"]
    assert ok["error"] is None and "turkey" in ok["actors"] and ok["models"] == {"topics": "topics@v1", "actors": "actors@v1"}
    assert bad["topics"] is None and bad["error"].startswith("f.jsonl: malformed JSON")


def test_cli_start_does_not_import_pyspark():
    code = "import sys, newstag, newstag.cli; newstag.cli.build_parser().parse_args(['predict', 'x', '--engine', 'spark']); print('pyspark' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr
