"""Why a label was predicted: top feature contributions and alias hits.

For a linear model the score of label *j* is ``w_j · x + b_j``; the
contribution of feature *k* is ``w_jk * x_k``. Features with ``x_k = 0`` (not
in the text) contribute nothing, so every feature listed is really present
in the (normalised) article.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

import numpy as np


class Explainable(Protocol):
    """What :func:`explain` needs of a loaded model (a
    :class:`~newstag.serve.predict.Labeller` is one). A protocol rather than an
    import, so that the labeller can call this module without a cycle."""

    model: Any
    manifest: dict[str, Any]
    task: str
    labels: list[str]

    def predict(self, articles: Sequence[Any], threshold: float | None = None) -> list[list[dict[str, Any]]]: ...


def _feature_names(model: Any) -> np.ndarray | None:
    try:
        return np.asarray(model.feature_names(), dtype=object)
    except (AttributeError, ValueError, TypeError):
        return None  # e.g. hashed features have no names


def _alias_counter(model: Any, label_kind: str) -> Any:
    """The model's own alias matcher, or one from the bundled schema for an
    actor model without alias features."""
    if hasattr(model, "alias_matcher"):  # compact model
        found = model.alias_matcher()
        if found is not None:
            return found
    else:
        from newstag.learn.features import AliasCounter

        feats = model.pipeline_.named_steps["features"]
        for part in [feats] + [t for _, t in getattr(feats, "transformer_list", [])]:
            if isinstance(part, AliasCounter):
                return part
    if label_kind != "actors":
        return None
    return _bundled_counter()


def _transform(model: Any, article: Any):
    if hasattr(model, "pipeline_"):
        return model.pipeline_.named_steps["features"].transform([article]).tocsr()
    return model.transform([article])


@lru_cache(maxsize=1)
def _bundled_counter() -> Any:
    from newstag.learn.features import AliasCounter

    return AliasCounter().fit()


def _cache(lab: Explainable) -> dict[str, Any]:
    cache = getattr(lab, "_explain_cache", None)
    if cache is None:
        W = lab.model.contributions()
        cache = {
            "W": None if W is None else W.astype(np.float32),
            "names": _feature_names(lab.model),
            "aliases": _alias_counter(lab.model, lab.manifest.get("label_kind", lab.task)),
        }
        setattr(lab, "_explain_cache", cache)  # noqa: B010 - per-model cache, not part of the protocol
    return cache


def alias_hits(counter: Any, article: Any) -> list[dict[str, Any]]:
    """Alias hits per field of the article, offsets into that field's text."""
    if isinstance(article, str):
        parts = {"text": article}
    else:
        get = article.get if isinstance(article, dict) else (lambda k, d="": getattr(article, k, d))
        parts = {k: get(k, "") or "" for k in ("title", "subtitle", "text")}
    hits = []
    for field, text in parts.items():
        for actor, start, end, matched in counter.find(text):
            hits.append({"actor": actor, "alias": matched, "field": field, "start": start, "end": end})
    return hits


def explain(lab: Explainable, article: Any, n: int = 5, labels: Sequence[str] | None = None) -> dict[str, Any]:
    cache = _cache(lab)
    if labels is None:
        labels = [p["label"] for p in lab.predict([article])[0]]
    x = _transform(lab.model, article)
    x.sort_indices()  # ties (features that always co-occur) rank by column, whatever the engine
    hits = alias_hits(cache["aliases"], article) if cache["aliases"] is not None else []
    out: dict[str, Any] = {}
    for label in labels:
        j = lab.labels.index(label)
        entry: dict[str, Any] = {"features": []}
        if cache["W"] is not None and x.nnz:
            cols, vals = x.indices, x.data
            contrib = vals * cache["W"][j, cols]
            order = np.argsort(-contrib, kind="stable")[:n]
            names = cache["names"]
            entry["features"] = [
                {"feature": str(names[cols[i]]) if names is not None else f"feature_{cols[i]}", "contribution": round(float(contrib[i]), 4)}
                for i in order
                if contrib[i] > 0
            ]
        if hasattr(lab.model, "role_evidence"):  # a role-stacked model: how the actor is mentioned
            merged = entry["features"] + lab.model.role_evidence(article, label, n)
            entry["features"] = sorted(merged, key=lambda f: -f["contribution"])[:n]
        if cache["aliases"] is not None and lab.manifest.get("label_kind", lab.task) == "actors":
            entry["aliases"] = [h for h in hits if h["actor"] == label]
        out[label] = entry
    return out


__all__ = ["Explainable", "alias_hits", "explain"]
