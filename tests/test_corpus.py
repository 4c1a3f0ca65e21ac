"""The bundled corpus meets every minimum of its specification."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from newstag.data import shape
from newstag.data.split import near_copies, near_duplicates
from newstag.schema.labels import load_schema


@pytest.fixture(scope="module")
def corpus(corpus_train, corpus_test):
    return corpus_train + corpus_test


def test_size_and_languages(corpus):
    langs = Counter(r.lang for r in corpus)
    assert len(corpus) >= 1900
    assert langs["it"] >= 1250 and langs["en"] >= 600
    assert set(langs) == {"it", "en"}


def test_shapes(corpus):
    shapes = Counter(shape(r) for r in corpus)
    assert shapes["headline"] >= 0.15 * len(corpus)
    assert shapes["full"] >= 0.15 * len(corpus)
    full = [r for r in corpus if shape(r) == "full"]
    assert all(250 <= len(r.text.split()) <= 600 for r in full)
    assert all(r.subtitle for r in full)
    with_headings = [r for r in full if any(0 < len(p.split()) <= 10 and not p.rstrip().endswith(".") for p in r.text.split("\n\n"))]
    assert len(with_headings) >= 0.9 * len(full)


def test_topics(corpus):
    counts = Counter(t for r in corpus for t in r.topics)
    for topic in load_schema().ids("topics"):
        assert counts[topic] >= 250, topic
    assert sum(not r.topics for r in corpus) >= 0.30 * len(corpus)
    mediation = [r for r in corpus if "mediation" in r.topics]
    assert sum("diplomacy" in r.topics for r in mediation) >= 0.9 * len(mediation)


def test_actors(corpus):
    counts = Counter(a for r in corpus for a in r.actors)
    for actor in load_schema().ids("actors"):
        assert counts[actor] >= 25, actor
    assert sum(len(r.actors) >= 2 for r in corpus) >= 0.5 * len(corpus)


def test_hard_negatives_share_the_actors(corpus):
    negatives = [r for r in corpus if not r.topics]
    assert sum(bool(r.actors) for r in negatives) >= 0.5 * len(negatives)


def test_no_actor_is_a_common_answer(corpus):
    """Real news has 10-25 % of articles with no actor of the set."""
    assert sum(not r.actors for r in corpus) >= 0.15 * len(corpus)


_ITALIAN_DATELINE = re.compile(r"^\W*(?:\(?[A-Za-z]+\)?\s*[-–—]\s*)?(ROMA|Roma|ROME|Rome|MILANO|Milano|MILAN|Milan)\b[^.\n]{0,40}?[-–—]")
_WAR_BACKDROP = re.compile(r"guerra in Ucraina|war in Ukraine|invasione russa|Russian invasion|invasion of Ukraine|Russia's war", re.IGNORECASE)
_PAGE_NOISE = re.compile(
    r"Riproduzione riservata|RIPRODUZIONE RISERVATA|Skip to content|\((ANSA|Adnkronos|AGI|Reuters|AP|AFP)\)|Leggi anche|Read more|Ultimo aggiornamento|Updated \d|Foto |Photo: |©"
)


def test_real_news_cases_are_represented(corpus):
    """The guide's "where real news differs" cases, both ways round."""
    datelined = [r for r in corpus if _ITALIAN_DATELINE.search(r.text)]
    assert sum("italy" not in r.actors for r in datelined) >= 15  # datelined from Rome or Milan, Italy not acting
    assert sum("italy" in r.actors for r in datelined) >= 15
    backdrop = [r for r in corpus if _WAR_BACKDROP.search(f"{r.title} {r.text}")]
    assert sum("ukraine" not in r.actors for r in backdrop) >= 30  # the war named as backdrop only
    assert sum(len(r.topics) >= 2 for r in corpus) >= 400
    second_round = [r for r in corpus if r.id.startswith("n")]
    assert len(second_round) >= 600
    assert sum(bool(_PAGE_NOISE.search(f"{r.title}\n{r.subtitle}\n{r.text}")) for r in second_round) >= 0.10 * len(second_round)


def test_ids_unique_and_split_is_fixed(corpus_train, corpus_test):
    ids = [r.id for r in corpus_train + corpus_test]
    assert len(ids) == len(set(ids))
    assert len(corpus_test) >= 0.20 * len(ids)


def test_split_is_stratified(corpus_train, corpus_test):
    n_tr, n_te = len(corpus_train), len(corpus_test)
    for kind in ("topics", "actors"):
        tr = Counter(label for r in corpus_train for label in r.labels(kind))
        te = Counter(label for r in corpus_test for label in r.labels(kind))
        for label in load_schema().ids(kind):
            share = te[label] / (tr[label] + te[label])
            assert abs(share - n_te / (n_tr + n_te)) < 0.08, (label, tr[label], te[label])


def test_no_near_duplicate_across_the_split(corpus_train, corpus_test):
    assert near_duplicates(corpus_test, corpus_train, n=5, threshold=0.5) == []
    assert near_copies(corpus_test, corpus_train) == []


def test_datasheet_is_generated_from_the_current_corpus(tmp_path):
    """data/README.md is what `make stats` writes today (no hand-typed numbers)."""
    from conftest import ROOT, run_cli

    out = tmp_path / "README.md"
    proc = run_cli("data", "stats", "--write", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8") == (ROOT / "data" / "README.md").read_text(encoding="utf-8"), "run `make stats`"
