from __future__ import annotations

import pytest

from newstag.schema.labels import load_schema

GUIDE_ACTORS = [
    "usa",
    "russia",
    "ukraine",
    "nato",
    "eu",
    "un",
    "turkey",
    "china",
    "italy",
    "france",
    "germany",
    "uk",
    "poland",
    "belarus",
    "hungary",
    "israel",
    "hamas",
    "iran",
    "qatar",
    "egypt",
    "saudi_arabia",
    "uae",
    "vatican",
    "india",
    "north_korea",
]


def test_schema_matches_the_guide():
    s = load_schema()
    assert s.ids("topics") == ["diplomacy", "military_aid", "mediation"]
    assert sorted(s.ids("actors")) == sorted(GUIDE_ACTORS)


def test_every_label_is_documented_and_every_actor_has_aliases():
    s = load_schema()
    for kind in ("topics", "actors"):
        for label_id in s.ids(kind):
            lab = s.get(kind, label_id)
            assert lab.it and lab.en and len(lab.definition) > 20
    for label_id in s.ids("actors"):
        assert len(s.get("actors", label_id).aliases) >= 5, label_id


@pytest.mark.parametrize(
    ("actor", "aliases"),
    [
        ("russia", ["Cremlino", "Mosca", "Lavrov", "russi", "Kremlin"]),
        ("usa", ["Casa Bianca", "Dipartimento di Stato", "Blinken", "statunitense", "Pentagon"]),
        ("ukraine", ["Kiev", "Kyiv", "Zelensky", "ucraino"]),
        ("turkey", ["Ankara", "Erdogan", "Kalin", "turco"]),
        ("italy", ["Farnesina", "Palazzo Chigi", "Meloni"]),
        ("vatican", ["Santa Sede", "Zuppi", "Holy See"]),
    ],
)
def test_guide_aliases_present(actor, aliases):
    have = set(load_schema().get("actors", actor).aliases)
    assert set(aliases) <= have


def test_acronyms_that_collide_with_words_are_exact():
    s = load_schema()
    assert "US" in s.get("actors", "usa").exact and "US" not in s.get("actors", "usa").aliases
    assert "UN" in s.get("actors", "un").exact


def test_user_schema_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "topics:\n  - {id: trade, it: commercio, en: trade, definition: Trade talks between governments.}\n"
        "actors:\n  - {id: japan, it: Giappone, en: Japan, definition: The government of Japan., aliases: {it: [Tokyo], exact: [JP]}}\n"
    )
    s = load_schema(path)
    assert s.ids("topics") == ["trade"] and s.get("actors", "japan").exact == ("JP",)


def test_broken_schema_is_reported(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("topics:\n  - {id: a, it: a, en: a}\nactors: []\n")
    with pytest.raises(ValueError, match="lacks definition"):
        load_schema(path)
