"""How actors appear: masked context, positions, shares (newstag.text.mentions)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def featurizer():
    from newstag.learn.roles import RoleStackedModel

    return RoleStackedModel(base=None)._featurizer()


def _by_actor(featurizer, article):
    names = featurizer.matcher.labels
    return {names[a]: f for a, f in featurizer.candidates(article).items()}


def test_dateline_and_backdrop_are_told_apart_from_acting(featurizer):
    art = {
        "title": "Grano, i prezzi salgono ancora",
        "text": "(ANSA) - ROMA, 3 MAR - La guerra in Ucraina spinge i prezzi. «La Russia deve fermarsi», ha detto Blinken. Ankara ha detto che ospiterà il prossimo round.",
    }
    f = _by_actor(featurizer, art)
    assert set(f) == {"italy", "ukraine", "russia", "usa", "turkey"}
    assert f["italy"]["only=dateline"] == 1 and "in=dateline" not in f["turkey"]
    assert f["ukraine"]["l2=guerra in"] > 0 and f["ukraine"]["kind=name"] > 0
    assert f["russia"]["only=quote"] == 1
    assert f["usa"]["l1=detto"] > 0 and f["usa"]["kind=person"] > 0
    assert f["turkey"]["r2=ha detto"] > 0
    # the name itself is masked: the context never holds the candidate's alias
    assert not any("ankara" in k for k in f["turkey"])
    assert f["usa"]["r1=A"] > 0  # another actor's alias right after: masked as A


def test_shares_and_positions(featurizer):
    art = {
        "title": "Erdogan riceve Zelensky",
        "subtitle": "",
        "text": "Il presidente turco Erdogan ha ricevuto Zelensky ad Ankara.\n\nErdogan ha offerto di ospitare nuovi colloqui.\n\nFine.",
    }
    f = _by_actor(featurizer, art)
    assert f["turkey"]["top"] == 1 and f["ukraine"]["top"] == 0
    assert f["turkey"]["share"] > f["ukraine"]["share"]
    assert f["turkey"]["in=title"] == 1 and f["turkey"]["in=lede"] == 1
    assert f["turkey"]["kind=adjective"] > 0  # "turco"
    assert abs(sum(x["share"] for x in f.values()) - 1) < 1e-9


def test_no_alias_no_candidate(featurizer):
    assert featurizer.candidates({"title": "Pioggia su Genova", "text": "Allerta arancione in Liguria."}) == {}
    assert featurizer.candidates("") == {}


_PIECES = [*"abc XYZ«»\"“”-–—:,.\n'İς\u0301\x00", "Russia", "Mosca", "Biden", "Casa Bianca", "Bianca", "US", "Ue", "ROMA –", " la guerra in "]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=60).map("".join)


@settings(max_examples=200, deadline=None)
@given(title=_TEXT, subtitle=_TEXT, text=_TEXT)
def test_any_text_gives_finite_features_for_named_actors_only(featurizer, title, subtitle, text):
    art = {"title": title, "subtitle": subtitle, "text": text}
    found = featurizer.candidates(art)
    named = {i for part in (title, subtitle, text) for _, _, i in featurizer.matcher.spans(part)}
    assert set(found) == named
    for f in found.values():
        assert all(v == v and abs(v) < 1e6 for v in f.values())  # finite, no NaN
        assert 0 < f["share"] <= 1
