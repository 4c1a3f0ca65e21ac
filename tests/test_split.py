from __future__ import annotations

from collections import Counter

from newstag.data import Record
from newstag.data.split import jaccard, kfold_indices, label_matrix, near_duplicates, shingles, stratified_split

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
