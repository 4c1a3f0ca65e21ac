"""Agreement of two labellings (newstag.data.agreement, newstag data agree)."""

from __future__ import annotations

import pytest

from conftest import run_cli, write_jsonl
from newstag.data.agreement import compare, read_labels

FIRST = [
    {"id": "a", "topics": ["diplomacy"], "actors": ["usa", "russia"]},
    {"id": "b", "topics": [], "actors": ["italy"]},
    {"id": "c", "topics": ["diplomacy", "mediation"], "actors": ["turkey"]},
]
SECOND = [
    {"id": "a", "topics": ["diplomacy"], "actors": ["usa"]},
    {"id": "b", "topics": [], "actors": []},
    {"id": "c", "topics": ["diplomacy", "mediation"], "actors": ["turkey", "russia"]},
    {"id": "z", "topics": ["diplomacy"], "actors": []},  # only in the second: ignored
]


def test_counts_and_f1():
    result = compare({r["id"]: r for r in FIRST}, {r["id"]: r for r in SECOND})
    topics, actors = result["topics"], result["actors"]
    assert topics.articles == 3 and topics.exact == 3 and topics.micro_f1 == 1.0 and topics.disagreements == 0
    assert actors.exact == 0 and actors.disagreements == 3
    assert actors.per_label["russia"] == [0, 1, 1] and actors.label_f1("russia") == 0.0
    assert actors.micro_f1 == pytest.approx(2 * 2 / (2 * 2 + 3))
    assert actors.label_f1("atlantis") is None


def test_bad_line_is_located(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "a", "topics": []}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"x\.jsonl:2"):
        read_labels(path)


def test_cli(tmp_path):
    a, b = write_jsonl(tmp_path / "a.jsonl", FIRST), write_jsonl(tmp_path / "b.jsonl", SECOND)
    proc = run_cli("data", "agree", str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "topics: 3 articles, micro-F1 1.000" in out and "actors: 3 articles, micro-F1 0.571" in out
    assert "russia" in out and "italy" in out
