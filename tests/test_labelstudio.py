"""Label Studio round trip: the interface, tasks, and the export parser,
tested against a real Label Studio export (tests/fixtures/labelstudio, made
by scripts/labelstudio_roundtrip.py) and with generated exports."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_cli
from newstag.data import Record, load_labelled
from newstag.data.labelstudio import ExportError, interface_config, load_export, parse_export, to_task
from newstag.schema.labels import KINDS, load_schema

FIXTURES = ROOT / "tests" / "fixtures" / "labelstudio"
SCHEMA = load_schema()


def real_export() -> list:
    return json.loads((FIXTURES / "export.json").read_text(encoding="utf-8"))


def test_interface_has_two_multichoice_groups_with_ids_names_and_hints():
    for lang in ("it", "en"):
        root = ET.fromstring(interface_config(SCHEMA, lang))
        groups = {c.get("name"): c for c in root.iter("Choices")}
        assert set(groups) == set(KINDS)
        for kind, group in groups.items():
            assert group.get("choice") == "multiple" and group.get("toName") == "text"
            choices = list(group.iter("Choice"))
            assert [c.get("alias") for c in choices] == SCHEMA.ids(kind)
            for c in choices:
                label = SCHEMA.get(kind, c.get("alias"))
                assert c.get("value") == getattr(label, lang) and c.get("hint") == label.definition
    assert (FIXTURES / "config.xml").read_text(encoding="utf-8") == interface_config(SCHEMA, "it")  # the fixture's project used today's interface
    with pytest.raises(ValueError, match="lang"):
        interface_config(SCHEMA, "de")


def test_task_carries_the_models_labels_as_a_prediction():
    rec = Record(id="a1", title="T", text="body", lang="it")
    task = to_task(rec, {"topics": ["diplomacy"], "actors": []}, score=0.42, model_version="topics@v1", meta={"rank": 1})
    assert task["data"] == {"article_id": "a1", "lang": "it", "title": "T", "subtitle": "", "text": "body", "newstag": {"rank": 1}}
    (pred,) = task["predictions"]
    assert pred["score"] == 0.42 and pred["model_version"] == "topics@v1"
    assert pred["result"] == [{"from_name": "topics", "to_name": "text", "type": "choices", "value": {"choices": ["diplomacy"]}}]


def test_real_export_round_trip():
    expected = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
    result = parse_export(real_export(), SCHEMA, "export.json")
    assert result.tasks == len(expected)
    got = {r.id: r for r in result.records}
    ok = {aid: e for aid, e in expected.items() if e["status"] == "ok"}
    assert set(got) == set(ok)
    imported = {t["data"]["article_id"]: t["data"] for t in json.loads((FIXTURES / "tasks.json").read_text(encoding="utf-8"))}
    for aid, e in ok.items():
        r = got[aid]
        assert sorted(r.topics or ()) == sorted(e["topics"]) and sorted(r.actors or ()) == sorted(e["actors"])
        assert (r.title, r.text, r.lang) == (imported[aid]["title"], imported[aid]["text"], imported[aid]["lang"])
        assert r.source == f"export.json (task {e['task']})"
    messages = {e["status"]: [str(p) for p in result.problems if f"(task {e['task']})" in str(p)] for e in expected.values() if e["status"] != "ok"}
    assert all(len(m) == 1 for m in messages.values()), messages
    assert "conflicting annotations" in messages["conflict"][0]
    assert "skipped (cancelled)" in messages["cancelled"][0]
    assert "not annotated yet" in messages["unannotated"][0]
    assert "empty text" in messages["empty"][0]


def test_unknown_label_is_reported_with_task_id_and_a_suggestion():
    tasks = real_export()
    task = next(t for t in tasks if len(t["annotations"]) == 1 and not t["annotations"][0]["was_cancelled"] and t["data"]["text"])
    task["annotations"][0]["result"][0]["value"]["choices"].append("diplomazia")
    result = parse_export(tasks, SCHEMA, "export.json")
    (problem,) = [p for p in result.problems if f"(task {task['id']})" in p.file]
    assert problem.field == "topics" and "unknown topic id 'diplomazia'" in problem.message and "diplomacy" in problem.hint
    assert task["data"]["article_id"] not in {r.id for r in result.records}
    assert len(result.records) == len(parse_export(real_export(), SCHEMA).records) - 1  # the others are all kept


def test_agreeing_duplicate_annotations_and_cancelled_extras_are_kept():
    tasks = real_export()
    conflict = next(t for t in tasks if len(t["annotations"]) == 2 and t["annotations"][0]["result"] != t["annotations"][1]["result"])
    conflict["annotations"][1]["was_cancelled"] = True  # a skip beside a real annotation: the annotation counts
    result = parse_export([conflict], SCHEMA)
    assert not result.problems and result.records[0].topics == ("diplomacy",)


def test_import_cli(tmp_path):
    out = tmp_path / "new.jsonl"
    proc = run_cli("data", "import", str(FIXTURES / "export.json"), "--from", "labelstudio", "--output", str(out))
    assert proc.returncode == 1
    assert b"(task 6): field 'annotations': conflicting annotations" in proc.stderr
    assert b"5 record(s) from 9 task(s)" in proc.stdout
    assert len(load_labelled(out)) == 5  # valid training data as it is
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "an export"}', encoding="utf-8")
    proc = run_cli("data", "import", str(bad), "--from", "labelstudio", "--output", str(out))
    assert proc.returncode == 2 and b"expected a JSON list of tasks" in proc.stderr
    bad.write_text("[{", encoding="utf-8")
    with pytest.raises(ExportError, match="not JSON"):
        load_export(bad)


# ------------------------------------------------------------------ properties

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "data", "annotations", "result", "value", "choices", "from_name", "text", "was_cancelled"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, max_size=4))
def test_any_json_gives_a_record_or_located_problems_never_a_crash(tasks):
    result = parse_export(tasks, SCHEMA, "x.json")
    assert len(result.records) <= result.tasks == len(tasks)
    for r in result.records:
        assert set(r.topics or ()) <= set(SCHEMA.ids("topics")) and set(r.actors or ()) <= set(SCHEMA.ids("actors"))
    for task in tasks:  # each task alone: exactly one of a record or problems naming the task
        one = parse_export([task], SCHEMA, "x.json")
        assert (len(one.records) == 1) != bool(one.problems)
        assert all(p.file.startswith("x.json (task ") for p in one.problems)


labels_of = {kind: st.lists(st.sampled_from(SCHEMA.ids(kind)), unique=True, max_size=4) for kind in KINDS}


@st.composite
def annotated_task(draw, tid):
    labels = {kind: draw(labels_of[kind]) for kind in KINDS}
    result = [{"from_name": k, "to_name": "text", "type": "choices", "value": {"choices": v}} for k, v in labels.items() if v]
    annotations = [{"id": tid * 10 + i, "result": copy.deepcopy(result), "was_cancelled": False} for i in range(draw(st.integers(1, 2)))]
    annotations += [{"id": tid * 10 + 5, "result": [], "was_cancelled": True}] * draw(st.integers(0, 1))
    text = draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40).filter(str.strip))
    return {"id": tid, "data": {"article_id": f"a{tid}", "lang": "it", "title": "", "text": text}, "annotations": annotations}, labels


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 10_000), unique=True, min_size=1, max_size=6).flatmap(lambda ids: st.tuples(*(annotated_task(i) for i in ids))))
def test_valid_annotations_round_trip_exactly(drawn):
    tasks = [t for t, _ in drawn]
    result = parse_export(tasks, SCHEMA)
    assert not result.problems
    for record, (task, labels) in zip(result.records, drawn):
        assert record.id == task["data"]["article_id"] and record.text == task["data"]["text"].strip()
        assert list(record.topics or ()) == labels["topics"] and list(record.actors or ()) == labels["actors"]
