from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_jsonl
from newstag.data import DataError, Record, fingerprint, load_labelled, load_records, to_frame
from newstag.data import write_jsonl as write_records

GOOD = [
    {"id": "a1", "lang": "it", "title": "Lavrov e Blinken al telefono", "text": "Colloquio di un'ora.", "topics": ["diplomacy"], "actors": ["russia", "usa"]},
    {"id": "a2", "lang": "en", "title": "Storm in Genoa", "text": "", "topics": [], "actors": []},
    {
        "id": "a3",
        "lang": "en",
        "title": "",
        "subtitle": "A subtitle",
        "text": "Ankara offers to host talks.",
        "topics": ["diplomacy", "mediation"],
        "actors": ["turkey"],
    },
]


def test_jsonl_roundtrip(tmp_path):
    records = load_labelled(write_jsonl(tmp_path / "a.jsonl", GOOD))
    assert [r.id for r in records] == ["a1", "a2", "a3"]
    assert records[0].actors == ("russia", "usa")
    assert records[2].subtitle == "A subtitle"
    assert records[0].source.endswith("a.jsonl:1")


def test_csv_with_semicolon_labels_and_custom_columns(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "doc,headline,body,lang,topics,actors\n"
        'x1,"Erdogan, mediatore",Il presidente turco offre Istanbul.,it,diplomacy;mediation,turkey;russia;ukraine\n'
        "x2,Meteo,Pioggia al nord.,it,,\n",
        encoding="utf-8",
    )
    records = load_labelled(path, columns={"id": "doc", "title": "headline", "text": "body"})
    assert records[0].title == "Erdogan, mediatore"
    assert records[0].topics == ("diplomacy", "mediation")
    assert records[0].actors == ("turkey", "russia", "ukraine")
    assert records[1].topics == () and records[1].actors == ()


def test_parquet_loader(tmp_path):
    records = load_labelled(write_jsonl(tmp_path / "a.jsonl", GOOD))
    path = tmp_path / "a.parquet"
    to_frame(records).to_parquet(path)
    again = load_labelled(path)
    assert again == records


def test_fingerprint_is_stable_across_formats_and_key_order(tmp_path):
    records = load_labelled(write_jsonl(tmp_path / "a.jsonl", GOOD))
    reordered = [dict(reversed(list(r.items()))) for r in reversed(GOOD)]
    from_reordered = load_labelled(write_jsonl(tmp_path / "b.jsonl", reordered))
    to_frame(records, label_sep=";").to_csv(tmp_path / "a.csv", index=False)
    to_frame(records).to_parquet(tmp_path / "a.parquet")
    prints = {
        fingerprint(records),
        fingerprint(from_reordered),
        fingerprint(load_labelled(tmp_path / "a.csv")),
        fingerprint(load_labelled(tmp_path / "a.parquet")),
    }
    assert len(prints) == 1
    changed = [GOOD[0] | {"actors": ["russia"]}, *GOOD[1:]]
    assert fingerprint(load_labelled(write_jsonl(tmp_path / "c.jsonl", changed))) not in prints


def _problems(tmp_path, lines: list[str], **kwargs):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(line.encode("utf-8") if isinstance(line, str) else line for line in lines) + b"\n")
    return path, load_records(path, strict=False, **kwargs)


def test_malformed_json_names_file_and_line(tmp_path):
    path, res = _problems(tmp_path, [json.dumps(GOOD[0]), '{"id": "b", "text": "x"', json.dumps(GOOD[1])])
    assert [r.id for r in res.records] == ["a1", "a2"]
    (p,) = res.problems
    assert str(p).startswith(f"{path}:2:") and "malformed JSON" in str(p)


def test_non_utf8_line(tmp_path):
    _path, res = _problems(tmp_path, [json.dumps(GOOD[0]), b'{"id": "b", "text": "caf\xe9"}'])
    (p,) = res.problems
    assert p.line == 2 and "non-UTF-8" in p.message and "UTF-8" in p.hint


def test_missing_and_empty_text(tmp_path):
    _path, res = _problems(tmp_path, ['{"id": "m", "title": "t"}', '{"id": "e", "title": " ", "text": ""}'])
    missing, empty = res.problems
    assert (missing.line, missing.field, missing.message) == (1, "text", "missing field")
    assert (empty.line, empty.field) == (2, "text") and "empty text" in empty.message
    assert res.records == []


def test_wrong_types(tmp_path):
    _, res = _problems(tmp_path, ['{"id": "w", "title": 5, "text": "x", "topics": "diplomacy;mediation", "actors": {"a": 1}}'], require_labels=True)
    fields = {p.field: p.message for p in res.problems}
    assert "expected a string, got int" in fields["title"]
    assert "expected a list of label ids, got dict" in fields["actors"]
    assert "topics" not in fields  # a ';'-separated string is accepted (CSV convention)


def test_duplicate_ids_name_first_occurrence(tmp_path):
    path, res = _problems(tmp_path, [json.dumps(GOOD[0]), json.dumps(GOOD[0] | {"title": "other"})])
    (p,) = res.problems
    assert p.line == 2 and "duplicate id 'a1'" in p.message and f"{path}:1" in p.message


def test_unknown_labels_suggest_closest(tmp_path):
    _, res = _problems(tmp_path, [json.dumps(GOOD[0] | {"topics": ["diplomacyy"], "actors": ["Russia", "north-korea", "atlantis"]})])
    msgs = [str(p) for p in res.problems]
    assert any("unknown topic id 'diplomacyy'" in m and "did you mean 'diplomacy'" in m for m in msgs)
    assert any("'Russia'" in m and "did you mean 'russia'" in m for m in msgs)
    assert any("'north-korea'" in m and "did you mean 'north_korea'" in m for m in msgs)
    assert any("'atlantis'" in m and "known ids:" in m for m in msgs)


def test_missing_labels_when_required(tmp_path):
    _, res = _problems(tmp_path, ['{"id": "n", "text": "x"}'], require_labels=True)
    assert {p.field for p in res.problems} == {"topics", "actors"}


def test_strict_mode_lists_every_problem(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [GOOD[0], {"id": "x", "title": ""}, GOOD[0], GOOD[1] | {"actors": ["mars"]}])
    with pytest.raises(DataError) as err:
        load_labelled(path)
    problems = err.value.problems
    assert sorted({p.line for p in problems}) == [2, 3, 4]  # every bad record, not just the first
    text = str(err.value)
    assert f"{len(problems)} problem(s)" in text and all(str(p) in text for p in problems)


def test_lenient_mode_keeps_good_records_and_reports_each_bad_one(tmp_path):
    rows = [GOOD[0], {"id": "x"}, GOOD[1], GOOD[2] | {"topics": ["war"]}]
    res = load_records(write_jsonl(tmp_path / "l.jsonl", rows), strict=False, require_labels=True)
    assert [r.id for r in res.records] == ["a1", "a2"]
    assert sorted({p.line for p in res.problems}) == [2, 4]
    assert len(res.records) + len({p.line for p in res.problems}) == len(rows)  # nothing vanished


def test_csv_errors_name_row_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,title,text,topics,actors\nr1,ok,fine,,\nr2,bad,caf\xe9,,\nr3,,,,\n")
    res = load_records(path, strict=False)
    assert [r.id for r in res.records] == ["r1"]
    by_line = {p.line: p for p in res.problems}
    assert by_line[3].field == "text" and "non-UTF-8" in by_line[3].message
    assert by_line[4].field == "text" and "empty text" in by_line[4].message


def test_unknown_suffix_and_missing_file(tmp_path):
    (tmp_path / "a.xml").write_text("<a/>")
    with pytest.raises(ValueError, match=r"unknown file type '\.xml'"):
        load_records(tmp_path / "a.xml")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_records(tmp_path / "nope.jsonl")


def test_ids_unique_across_files(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", GOOD[:1])
    b = write_jsonl(tmp_path / "b.jsonl", GOOD[:1])
    res = load_records([a, b], strict=False)
    assert len(res.records) == 1 and "duplicate id" in res.problems[0].message


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({"title": _text, "text": _text}), min_size=1, max_size=5))
def test_jsonl_write_read_roundtrip_property(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("prop")
    records = [Record(id=f"r{i}", title=r["title"].strip(), text=r["text"].strip(), topics=(), actors=()) for i, r in enumerate(rows)]
    path = write_records(records, tmp / "r.jsonl")
    res = load_records(path, strict=False, require_labels=True)
    assert len(res.records) + len(res.problems) == len(records)
    for p in res.problems:
        assert p.field == "text" and "empty text" in p.message
    kept = {r.id for r in res.records}
    assert [r for r in records if r.id in kept] == res.records
