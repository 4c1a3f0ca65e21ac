"""The role-stacked actor model (newstag.learn.roles)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.svm import LinearSVC

from newstag.learn.features import aliases, tfidf, union
from newstag.learn.models import MultiLabelModel, PlattOneVsRest
from newstag.learn.roles import RoleStackedModel
from newstag.schema import binarize, load_schema

LABELS = load_schema().ids("actors")
CITIES = ["Pioggia e vento", "La Borsa chiude in rialzo", "Traffico in tilt", "Un concerto in piazza", "Sciopero dei trasporti"]


def _articles(n: int, seed: int):
    """Rome as a dateline (no actor) against the Italian government acting."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        filler = " ".join(rng.choice(["oggi", "domani", "ancora", "forte", "città", "centro", "ore", "sera"], 8))
        if i % 2:
            out.append({"id": str(i), "title": CITIES[i % 5], "text": f"ROMA – {CITIES[(i + 1) % 5]} {filler}.", "topics": [], "actors": []})
        else:
            out.append(
                {
                    "id": str(i),
                    "title": "Decreto approvato",
                    "text": f"Il governo italiano ha approvato il decreto, ha detto Meloni. {filler}.",
                    "topics": [],
                    "actors": ["italy"],
                }
            )
    return out


class _Rec(dict):
    def labels(self, kind):
        return tuple(self[kind])


@pytest.fixture(scope="module")
def fitted():
    train = [_Rec(a) for a in _articles(60, 0)]
    base = MultiLabelModel(
        union({"word": tfidf(analyzer="word", min_df=1), "alias": aliases()}),
        PlattOneVsRest(LinearSVC(C=1.0), cv=3),
        labels=LABELS,
        threshold_folds=3,
        min_positives=3,
    )
    return RoleStackedModel(base, window=4, min_count=1, folds=3).fit(train, binarize(train, "actors", LABELS))


def test_predicts_probabilities_and_thresholds_for_every_label(fitted):
    test = _articles(10, 1)
    P = fitted.predict_proba(test)
    assert P.shape == (10, len(LABELS)) and np.all((P >= 0) & (P <= 1))
    assert fitted.thresholds_.shape == (len(LABELS),) and fitted.oof_proba_.shape == (60, len(LABELS))
    italy = LABELS.index("italy")
    pred = fitted.predict(test)[:, italy]
    assert list(pred) == [1 if i % 2 == 0 else 0 for i in range(10)]


def test_role_evidence_is_readable_and_explains_acting(fitted):
    acting = _articles(2, 3)[0]
    evidence = fitted.role_evidence(acting, "italy", 5)
    assert evidence and all(e["feature"].startswith("role:") and e["contribution"] > 0 for e in evidence)
    assert fitted.role_evidence({"title": "Meteo", "text": "Sole ovunque."}, "italy") == []  # not named: no evidence


def test_follows_the_estimator_contract(fitted):
    params = fitted.get_params()
    assert params["window"] == 4 and "base__threshold_folds" in params
    copy = clone(fitted)
    assert not hasattr(copy, "role_") and copy.get_params()["min_count"] == 1


def test_compact_form_gives_the_same_probabilities_and_evidence(fitted):
    from newstag.engine.compact import load_bytes, to_bytes
    from newstag.learn.export import compile_model

    cm, arrays = compile_model(fitted)
    served = load_bytes(to_bytes(cm.meta, arrays))  # through the file format: JSON + arrays, no pickle
    test = [*_articles(12, 5), {"title": "Meteo", "text": "Sole ovunque, ha detto Meloni a Roma."}]
    # the heads are stored float32: the engines' 1e-6 agreement, not float64's
    np.testing.assert_allclose(served.predict_proba(test), fitted.predict_proba(test), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(served.thresholds_, fitted.thresholds_)
    assert served.role_evidence(test[0], "italy", 5) == fitted.role_evidence(test[0], "italy", 5)


def test_an_old_reader_refuses_a_role_model(fitted):
    from newstag.engine.compact import FORMAT_VERSION, CompactModel, Unsupported
    from newstag.learn.export import compile_model

    cm, arrays = compile_model(fitted)
    assert cm.meta["format"] != FORMAT_VERSION
    with pytest.raises(Unsupported):
        CompactModel({**cm.meta, "format": FORMAT_VERSION}, arrays)
