"""The bundled corpus meets every minimum of its specification."""

from __future__ import annotations

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
    assert len(corpus) >= 1200
    assert langs["it"] >= 850 and langs["en"] >= 300
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
    assert sum(bool(r.actors) for r in negatives) >= 0.6 * len(negatives)


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
