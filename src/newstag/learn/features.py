"""Feature transformers and the factories that ``conf/features/*.yaml`` call.

Every transformer takes a sequence of *articles* (see :mod:`newstag.text`)
and follows the scikit-learn contract, so feature sets pickle, clone and
compose in ``FeatureUnion`` / ``Pipeline``. Feature sets are assembled from
YAML through the small factories at the bottom (``tfidf``, ``hashing``,
``aliases``, ``union``), which turn YAML lists into the tuples and lists
scikit-learn expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from newstag.schema.labels import load_schema
from newstag.text.aliases import AliasMatcher
from newstag.text.preparation import normalize, prepare

# ------------------------------------------------------------------ text fields


class TextField(BaseEstimator, TransformerMixin):
    """Articles -> prepared strings, ready for a vectorizer.

    Parameters
    ----------
    field : {"all", "title", "body"}
        ``all`` is the title (repeated ``title_weight`` times) followed by the body.
    title_weight : int
        How many times the title is repeated in ``all``: a headline states
        the topic more reliably than the fifth paragraph does.
    unicode_form, lowercase, strip_accents
        See :func:`newstag.text.normalize`.
    """

    def __init__(self, field: str = "all", title_weight: int = 2, unicode_form: str | None = "NFKC", lowercase: bool = True, strip_accents: bool = True):
        self.field = field
        self.title_weight = title_weight
        self.unicode_form = unicode_form
        self.lowercase = lowercase
        self.strip_accents = strip_accents

    def fit(self, X: Sequence[Any], y: Any = None) -> TextField:
        if self.field not in ("all", "title", "body"):
            raise ValueError(f"field must be 'all', 'title' or 'body', got {self.field!r}")
        return self

    def transform(self, X: Sequence[Any]) -> list[str]:
        return prepare(X, self.field, self.title_weight, self.unicode_form, self.lowercase, self.strip_accents)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"text:{self.field}"], dtype=object)


@lru_cache(maxsize=4)
def load_stop_words(languages: tuple[str, ...] = ("it", "en"), strip_accents: bool = True) -> tuple[str, ...]:
    """Stop words for ``languages`` (bundled lists), normalised like the text."""
    words: set[str] = set()
    for lang in languages:
        data = resources.files("newstag.text.resources").joinpath(f"stopwords_{lang}.txt").read_text(encoding="utf-8")
        for line in data.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                words.add(normalize(line, strip_accents=strip_accents))
    return tuple(sorted(words))


# ----------------------------------------------------------------- alias counts


class AliasCounter(BaseEstimator, TransformerMixin):
    """Per-actor counts of the aliases of ``data/labels.yaml`` found in the text.

    Matching is accent- and case-insensitive on word boundaries (``l'Ucraina``
    and ``dell'Ue`` match, ``Russia`` does not match inside ``Bielorussia``);
    ``exact`` aliases (``US``, ``UN``) are case-sensitive. The schema is read
    at ``fit`` and kept in the fitted transformer, so a saved model does not
    depend on the file any more.

    Parameters
    ----------
    schema : str or None
        Path of the label schema; ``None`` for the bundled one.
    kind : str
        The schema section whose aliases are counted (``actors``).
    title_separate : bool
        Count title hits in their own columns: a name in the headline is
        strong evidence of involvement, a name in paragraph nine much less.
    sublinear : bool
        Use ``log1p(count)`` so a long article does not swamp the model.
    """

    def __init__(self, schema: str | None = None, kind: str = "actors", title_separate: bool = True, sublinear: bool = True):
        self.schema = schema
        self.kind = kind
        self.title_separate = title_separate
        self.sublinear = sublinear

    def fit(self, X: Sequence[Any] = (), y: Any = None) -> AliasCounter:
        schema = load_schema(self.schema)
        self.labels_ = schema.ids(self.kind)
        loose: dict[str, set[int]] = {}
        exact: dict[str, set[int]] = {}
        for i, label_id in enumerate(self.labels_):
            label = schema.get(self.kind, label_id)
            for alias in label.aliases:
                loose.setdefault(AliasMatcher.key(alias), set()).add(i)
            for alias in label.exact:
                exact.setdefault(AliasMatcher.key(alias, case_sensitive=True), set()).add(i)
        self.matcher_ = AliasMatcher(self.labels_, {k: sorted(v) for k, v in loose.items()}, {k: sorted(v) for k, v in exact.items()})
        fields_ = ("title", "body") if self.title_separate else ("text",)
        self.feature_names_ = np.array([f"{label}@{f}" for f in fields_ for label in self.labels_], dtype=object)
        return self

    def find(self, text: str) -> list[tuple[str, int, int, str]]:
        """Alias hits in ``text`` as ``(actor, start, end, matched text)``;
        offsets index the original string."""
        return self.matcher_.find(text)

    def transform(self, X: Sequence[Any]) -> sp.csr_matrix:
        return sp.csr_matrix(self.matcher_.matrix(X, self.title_separate, self.sublinear))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_


def slim(transformer: Any) -> Any:
    """Drop what a fitted feature step does not need to transform.

    ``TfidfVectorizer.stop_words_`` keeps every term cut by ``min_df`` /
    ``max_df`` (for character n-grams, hundreds of thousands): it only
    serves introspection, and it dominates the size and load time of a
    saved model. scikit-learn documents it as safe to remove.
    """
    if hasattr(transformer, "stop_words_"):
        del transformer.stop_words_
    for child in getattr(transformer, "steps", []):
        slim(child[1])
    for child in getattr(transformer, "transformer_list", []):
        slim(child[1])
    return transformer


# -------------------------------------------------------------------- factories


def _prep(prep: Mapping[str, Any] | None) -> TextField:
    return TextField(**dict(prep or {}))


def _stop_words(stop_words: Sequence[str] | None, analyzer: str, prep: TextField) -> list[str] | None:
    """Bundled stop words for ``word`` analyzers (character n-grams ignore them)."""
    if not stop_words or analyzer != "word":
        return None
    return list(load_stop_words(tuple(stop_words), prep.strip_accents))


def tfidf(
    analyzer: str = "word",
    ngram_range: Sequence[int] = (1, 2),
    min_df: int | float = 2,
    max_df: float = 1.0,
    max_features: int | None = None,
    sublinear_tf: bool = True,
    stop_words: Sequence[str] | None = ("it", "en"),
    prep: Mapping[str, Any] | None = None,
) -> Pipeline:
    """TF-IDF over prepared text. ``stop_words`` are language codes of the
    bundled lists (word analyzer only; character n-grams ignore them)."""
    p = _prep(prep)
    words = _stop_words(stop_words, analyzer, p)
    vec = TfidfVectorizer(
        analyzer=analyzer,
        ngram_range=tuple(int(n) for n in ngram_range),
        min_df=min_df,
        max_df=max_df,
        max_features=max_features,
        sublinear_tf=sublinear_tf,
        stop_words=words,
        lowercase=False,  # TextField already did it
        dtype=np.float32,
    )
    return Pipeline([("prep", p), ("tfidf", vec)])


def hashing(
    analyzer: str = "word",
    ngram_range: Sequence[int] = (1, 2),
    n_features: int = 2**20,
    stop_words: Sequence[str] | None = ("it", "en"),
    prep: Mapping[str, Any] | None = None,
) -> Pipeline:
    """Stateless hashed n-grams: no vocabulary to hold, so memory stays bounded
    and chunks can be streamed through ``partial_fit`` models."""
    p = _prep(prep)
    words = _stop_words(stop_words, analyzer, p)
    vec = HashingVectorizer(
        analyzer=analyzer,
        ngram_range=tuple(int(n) for n in ngram_range),
        n_features=int(n_features),
        alternate_sign=False,
        norm="l2",
        stop_words=words,
        lowercase=False,
        dtype=np.float32,
    )
    return Pipeline([("prep", p), ("hash", vec)])


def aliases(schema: str | None = None, kind: str = "actors", title_separate: bool = True, sublinear: bool = True) -> AliasCounter:
    """Alias counts; ``schema`` paths resolve from the project root."""
    from newstag.core import paths

    return AliasCounter(str(paths.resolve(schema)) if schema else None, kind, title_separate, sublinear)


def union(parts: Mapping[str, Any], weights: Mapping[str, float] | None = None) -> FeatureUnion:
    """Concatenate named feature blocks (``weights`` scale a block's columns)."""
    parts = {name: part for name, part in parts.items() if part is not None}
    if not parts:
        raise ValueError("a feature union needs at least one part")
    return FeatureUnion(list(parts.items()), transformer_weights=dict(weights) if weights else None)
