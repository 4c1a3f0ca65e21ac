from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT, shared_or_skip
from newstag.data import load_records
from newstag.data.raw import parse_article


def test_shared_sample_parses_exactly():
    path = shared_or_skip("samples", "usa-russia-colloqui.txt")
    art = parse_article(path.read_text(encoding="utf-8"))
    assert art.title == "USA-Russia: nuovi colloqui tra i ministri degli esteri"
    assert art.metadata == ("0", "501")
    assert art.subtitle == "Cremlino accusa gli USA di aumentare le tensioni"
    assert art.body.startswith("Nuovi colloqui USA-Russia. Il ministro degli Esteri russo Sergey Lavrov")
    assert art.body.endswith(
        "“Allo stesso tempo, saremo in stretto contatto con la Russia per evitare che si registri qualsiasi azione militare con\xa0gravi conseguenze“, ha aggiunto il portavoce."
    )
    # section headings stay in the body, as their own paragraphs
    paragraphs = art.body.split("\n\n")
    assert "Nuovi colloqui USA-Russia: cos’è successo?" in paragraphs
    assert "La Turchia si offre come mediatrice" in paragraphs
    assert "0" not in paragraphs and "501" not in paragraphs
    assert "\n\n\n" not in art.body


def test_shared_sample_labels_sidecar():
    path = shared_or_skip("samples", "usa-russia-colloqui.txt")
    (record,) = load_records(path, require_labels=True).records
    expected = json.loads(path.with_name("usa-russia-colloqui.labels.json").read_text())
    assert set(record.topics) == set(expected["topics"])
    assert set(record.actors) == set(expected["actors"])
    assert record.id == "usa-russia-colloqui"


def test_own_samples_parse():
    files = sorted((ROOT / "data" / "raw").glob("*.txt"))
    assert len(files) >= 2
    result = load_records(ROOT / "data" / "raw", require_labels=True)
    assert not result.problems
    assert {r.id for r in result.records} == {f.stem for f in files}
    berlin = next(r for r in result.records if r.id == "berlin-air-defence-kyiv")
    assert berlin.title.startswith("Berlin to send two more Patriot systems")
    assert berlin.subtitle.startswith("Germany's defence minister says")
    assert berlin.text.startswith("Germany will hand Ukraine")
    assert "Moscow reacts" in berlin.text.split("\n\n")
    emirati = next(r for r in result.records if r.id == "emirati-scambio-prigionieri")
    assert emirati.subtitle.startswith("Abu Dhabi rivendica")
    assert "1207" not in emirati.text and "3" not in emirati.text.split("\n\n")


def test_directory_is_recursive(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "one.txt").write_text("Titolo\n\nSottotitolo\n\nCorpo.", encoding="utf-8")
    (tmp_path / "two.txt").write_text("Only a title\n", encoding="utf-8")
    records = load_records(tmp_path).records
    assert sorted(r.id for r in records) == ["a/b/one", "two"]
    two = next(r for r in records if r.id == "two")
    assert (two.title, two.subtitle, two.text) == ("Only a title", "", "")


def test_windows_newlines_and_bom():
    art = parse_article("\ufeffTitle\r\n\r\n42\r\nSub\r\nBody line\r\n")
    assert (art.title, art.metadata, art.subtitle, art.body) == ("Title", ("42",), "Sub", "Body line")


def test_numeric_line_after_subtitle_is_body():
    art = parse_article("Title\n7\nSubtitle\n2024\nBody")
    assert art.metadata == ("7",)
    assert art.body == "2024\nBody"


@given(st.text())
def test_parser_never_raises_and_keeps_words(content):
    art = parse_article(content)
    lines = [line.strip() for line in content.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n") if line.strip()]
    if lines:
        assert art.title == lines[0]
    else:
        assert (art.title, art.subtitle, art.body) == ("", "", "")
    # nothing but counters and blank space is ever dropped
    kept = " ".join([art.title, *art.metadata, art.subtitle, art.body]).split()
    assert sorted(kept) == sorted(" ".join(lines).split())


@given(st.lists(st.sampled_from(["", "  ", "0", "12", "Titolo", "Sottotitolo", "Testo del corpo."]), max_size=12))
def test_counters_only_directly_after_title(lines):
    art = parse_article("\n".join(lines))
    assert all(m.isdigit() for m in art.metadata)
    if art.subtitle:
        assert art.subtitle.strip() == art.subtitle and art.subtitle != ""
