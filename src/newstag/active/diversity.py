"""Diversity: pick a batch that is informative *and* varied.

Ranking by score alone gives fifty versions of the day's biggest story: a
wire piece and its rewrites are equally uncertain. Maximal marginal
relevance (Carbonell & Goldstein, 1998) picks greedily the article with the
best ``lam * score - (1 - lam) * max similarity to those already picked``,
similarity being the cosine of TF-IDF vectors. Near-duplicates (shingle
Jaccard, :mod:`newstag.data.split`) of already labelled articles, or of an
article already picked, are skipped outright.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from newstag.data import Record
from newstag.data.split import near_copies, near_duplicates
from newstag.text.preparation import prepare


def tfidf_vectors(records: Sequence[Record], max_features: int = 50_000) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows (word uni- and bigrams) of the pool, for
    cosine similarity. Fitted on the pool itself: it is unlabelled text."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = prepare(records, title_weight=1)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, max_features=max_features, sublinear_tf=True)
    return vec.fit_transform(texts).tocsr() if any(t.strip() for t in texts) else sp.csr_matrix((len(records), 1))


def duplicate_sets(pool: Sequence[Record], labelled: Sequence[Record] = (), threshold: float = 0.5) -> tuple[set[int], dict[int, set[int]]]:
    """``(pool articles that near-duplicate a labelled one, pool article ->
    its near-duplicates within the pool)``."""
    of_labelled: set[int] = set()
    if labelled:
        of_labelled = {i for i, _, _ in near_duplicates(pool, labelled, threshold=threshold)}
        of_labelled |= {i for i, _, _ in near_copies(pool, labelled)}
    within: dict[int, set[int]] = {}
    for i, j, *_ in [*near_duplicates(pool, threshold=threshold), *near_copies(pool)]:
        within.setdefault(i, set()).add(j)
        within.setdefault(j, set()).add(i)
    return of_labelled, within


def mmr(
    scores: np.ndarray, X: sp.csr_matrix, n: int, *, lam: float = 0.7, exclude: Iterable[int] = (), twins: dict[int, set[int]] | None = None
) -> tuple[list[int], list[float]]:
    """Greedy MMR selection of ``n`` pool indices.

    ``scores`` are scaled to [0, 1] first so ``lam`` means the same for every
    strategy. ``lam=1`` is plain ranking by score. ``exclude``: never picked;
    ``twins``: picking ``i`` excludes every ``twins[i]``. Returns the indices
    in pick order and each one's largest similarity to those picked before it.
    """
    s = np.asarray(scores, dtype=float)
    span = s.max() - s.min() if len(s) else 0.0
    s = (s - s.min()) / span if span > 0 else np.zeros_like(s)
    allowed = np.ones(len(s), dtype=bool)
    allowed[list(exclude)] = False
    max_sim = np.zeros(len(s))
    picked: list[int] = []
    sims: list[float] = []
    for _ in range(min(n, int(allowed.sum()))):
        value = np.where(allowed, lam * s - (1 - lam) * max_sim, -np.inf)
        i = int(np.argmax(value))
        if not np.isfinite(value[i]):
            break
        picked.append(i)
        sims.append(round(float(max_sim[i]), 3))
        allowed[i] = False
        for j in (twins or {}).get(i, ()):
            allowed[j] = False
        if lam < 1:
            max_sim = np.maximum(max_sim, np.asarray((X @ X[i].T).todense()).ravel())
    return picked, sims
