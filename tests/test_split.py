from __future__ import annotations

from collections import Counter

from newstag.data import Record
from newstag.data.split import jaccard, kfold_indices, label_matrix, near_copies, near_duplicates, shingles, stratified_split

BASE = "Il ministro degli Esteri russo Sergey Lavrov ha parlato al telefono con il segretario di Stato americano Antony Blinken della crisi ucraina e delle garanzie di sicurezza"


def rec(i, text, topics=(), actors=()):
    return Record(id=str(i), title="", text=text, lang="it", topics=tuple(topics), actors=tuple(actors))


def test_shingles_and_jaccard():
    a, b = shingles(rec(1, BASE)), shingles(rec(2, BASE + " per un'ora"))
    assert 0.7 < jaccard(a, b) < 1
    assert jaccard(a, shingles(rec(3, "Pioggia e vento su Genova, allerta arancione"))) == 0


def test_near_duplicates_found_despite_case_and_accents():
    docs = [rec(1, BASE), rec(2, BASE.upper().replace("E ", "È ")), rec(3, "Tutt'altro articolo sulla Serie A e sul calcio italiano di questa domenica")]
    pairs = near_duplicates(docs, threshold=0.5)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]


def test_split_keeps_near_duplicates_together_and_stratifies():
    records = []
    for i in range(200):
        topics = ["diplomacy"] if i % 2 else []
        actors = ["russia"] if i % 5 == 0 else ["usa"]
        records.append(rec(i, f"articolo numero {i} " + " ".join(f"parola{i}x{k}" for k in range(12)), topics, actors))
    records.append(rec("dup", records[0].text + " aggiornato", records[0].topics, records[0].actors))
    train, test = stratified_split(records, test_size=0.25, seed=1)
    assert len(train) + len(test) == len(records)
    train_ids, _test_ids = {r.id for r in train}, {r.id for r in test}
    assert ("0" in train_ids) == ("dup" in train_ids)
    assert near_duplicates(test, train) == []
    share = Counter("diplomacy" in r.topics for r in test)[True] / len(test)
    assert 0.4 < share < 0.6


def test_label_matrix_and_kfold():
    records = [rec(i, "x", ["diplomacy"] if i % 3 else [], ["usa"]) for i in range(30)]
    Y = label_matrix(records, kinds=("topics",), extra=())
    assert Y.shape == (30, 2)  # diplomacy and <none>
    folds = kfold_indices(Y, 3, seed=0)
    assert len(folds) == 3 and sorted(i for _, te in folds for i in te) == list(range(30))


LONG = " ".join(
    f"Paragrafo {k}: la delegazione ha discusso il calendario dei colloqui, le garanzie richieste e la sequenza degli scambi di prigionieri previsti entro la fine del mese numero {k}."
    for k in range(12)
)


def test_near_copies_find_a_lede_copied_into_a_long_article():
    lede = LONG.split(" Paragrafo 3:")[0]  # the first three paragraphs, verbatim
    docs = [rec("long", LONG), rec("lede", lede), rec("other", "Pioggia e vento su Genova, allerta arancione per tutta la giornata di domani in Liguria")]
    assert near_duplicates(docs, threshold=0.5) == []  # Jaccard misses it: the lede is a quarter of the article
    assert [(i, j) for i, j, _ in near_copies(docs)] == [(0, 1)]
    assert near_copies(docs[:1], docs[2:]) == []


def test_split_keeps_near_copies_together():
    records = [rec(i, f"notizia {i} " + " ".join(f"termine{i}y{k}" for k in range(15)), ["diplomacy"] if i % 2 else [], ["usa"]) for i in range(120)]
    records += [rec("long", LONG, ["diplomacy"], ["usa"]), rec("lede", LONG[: len(LONG) // 4], ["diplomacy"], ["usa"])]
    for seed in range(5):
        train, test = stratified_split(records, test_size=0.3, seed=seed)
        train_ids = {r.id for r in train}
        assert ("long" in train_ids) == ("lede" in train_ids)
        assert near_copies(test, train) == []
