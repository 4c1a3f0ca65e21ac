from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from newstag.learn.features import AliasCounter, TextField, hashing, load_stop_words, tfidf, union


@pytest.fixture(scope="module")
def counter():
    return AliasCounter().fit()


def _hits(counter, text):
    return [(actor, text[s:e]) for actor, s, e, _ in counter.find(text)]


def test_alias_case_and_accents(counter):
    text = "ERDOGAN ha chiamato Erdoğan; poi erdogan. Il CREMLINO tace, il Cremlino pure."
    hits = _hits(counter, text)
    assert [a for a, _ in hits].count("turkey") == 3
    assert [a for a, _ in hits].count("russia") == 2


def test_alias_italian_elision(counter):
    hits = _hits(counter, "Il sostegno all'Ucraina e la posizione dell'Ue e dell’UE; l'Onu tace.")
    assert ("ukraine", "Ucraina") in hits
    assert [a for a, _ in hits].count("eu") == 2
    assert ("un", "Onu") in hits


def test_alias_not_inside_other_words(counter):
    text = "La Bielorussia e i bielorussi; parla di iraniani? No: Iranistica, Russiagate, statunitensità."
    actors = [a for a, _ in _hits(counter, text)]
    assert "russia" not in actors  # 'Russia' inside 'Bielorussia', 'Russiagate'
    assert actors.count("belarus") == 2
    assert actors.count("iran") == 1  # 'iraniani' yes, 'Iranistica' no
    assert "usa" not in actors


def test_exact_aliases_are_case_sensitive(counter):
    assert _hits(counter, "Let us talk") == []
    assert ("usa", "US") in _hits(counter, "The US and the UN agreed")
    assert ("un", "UN") in _hits(counter, "The US and the UN agreed")
    assert "un" not in [a for a, _ in _hits(counter, "Un accordo per un cessate il fuoco")]


def test_surnames_that_are_common_words_need_their_capital(counter):
    assert "india" not in [a for a, _ in _hits(counter, "Ci sono molti modi per dirlo, in tutti i modi")]
    assert ("india", "Modi") in _hits(counter, "Modi incontra Putin a Kazan")
    assert "france" not in [a for a, _ in _hits(counter, "Una colonna di blindati verso Kiev")]
    assert "russia" not in [a for a, _ in _hits(counter, "Sinner batte Medvedev in tre set")]


def test_longest_alias_wins(counter):
    hits = _hits(counter, "Gli Emirati Arabi Uniti e la Corea del Nord")
    assert ("uae", "Emirati Arabi Uniti") in hits and ("north_korea", "Corea del Nord") in hits
    assert len(hits) == 2


def test_offsets_point_at_the_alias(counter):
    text = "Secondo la Casa Bianca, Blinken vedrà Lavrov a Ginevra."
    for _actor, start, end, matched in counter.find(text):
        assert text[start:end] == matched
    assert {m for _, _, _, m in counter.find(text)} == {"Casa Bianca", "Blinken", "Lavrov"}


def test_title_hits_are_counted_apart(counter):
    X = counter.transform([{"title": "Mosca accusa Kiev", "text": "Il Cremlino e il Cremlino."}])
    names = list(counter.get_feature_names_out())
    row = X.toarray()[0]
    assert row[names.index("russia@title")] == pytest.approx(np.log1p(1))
    assert row[names.index("russia@body")] == pytest.approx(np.log1p(2))
    assert row[names.index("ukraine@title")] == pytest.approx(np.log1p(1))
    assert row[names.index("ukraine@body")] == 0


def test_alias_counter_uses_a_user_schema(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "topics:\n  - {id: t, it: t, en: t, definition: a topic for the test}\n"
        "actors:\n  - {id: japan, it: Giappone, en: Japan, definition: Japan's government., aliases: {it: [Tokyo, Giappone]}}\n"
    )
    c = AliasCounter(schema=str(path)).fit()
    assert c.labels_ == ["japan"]
    assert c.transform(["Tokyo e il Giappone"]).toarray().tolist() == [[0.0, pytest.approx(np.log1p(2))]]


def test_text_field_prepares_and_weights_title():
    tf = TextField(title_weight=2)
    (out,) = tf.fit_transform([{"title": "Perché Erdoğan", "text": "L’accordo"}])
    assert out == "perche erdogan\nperche erdogan\nl'accordo".replace("\n", " ")
    assert TextField(field="title").fit_transform(["body only"]) == [""]
    assert TextField(strip_accents=False, lowercase=False).fit_transform(["Perché"]) == ["Perché"]


def test_stop_words_are_normalised():
    words = load_stop_words(("it", "en"))
    assert "perche" in words and "the" in words and "della" in words


def test_factories_compose_pickle_and_clone():
    import pickle

    feats = union({"word": tfidf(min_df=1), "char": tfidf(analyzer="char_wb", ngram_range=[2, 3], min_df=1), "alias": AliasCounter()})
    docs = ["Lavrov incontra Blinken", {"title": "Erdogan media", "text": "Colloqui a Istanbul"}]
    X = feats.fit_transform(docs)
    assert X.shape[0] == 2 and X.shape[1] > 50
    again = pickle.loads(pickle.dumps(feats))
    assert (again.transform(docs) != X).nnz == 0
    assert clone(feats).get_params()["word__tfidf__ngram_range"] == (1, 2)


def test_hashing_is_stateless():
    h = hashing(n_features=2**10)
    a = h.fit(["uno due"]).transform(["Lavrov a Mosca"])
    b = hashing(n_features=2**10).fit(["altro testo"]).transform(["Lavrov a Mosca"])
    assert (a != b).nnz == 0
