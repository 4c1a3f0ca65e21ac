"""Multi-label stratified splits and near-duplicate detection.

Iterative stratification (Sechidis et al., 2011, via ``iterative-stratification``)
keeps every label's share close in train and test even for rare actors,
which a random split does not. Near-duplicates (word-shingle Jaccard) and
near-copies (long shared passages) are kept on one side of the split so the test score is not inflated by texts the model
has practically seen.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from newstag.data import Record
from newstag.schema.labels import KINDS
from newstag.text.preparation import normalize

_WORD = re.compile(r"\w+")


def shingles(record: Record, n: int = 5) -> frozenset[tuple[str, ...]]:
    """Word ``n``-grams of the normalised title + body (the whole text when shorter)."""
    words = _WORD.findall(normalize(" ".join((record.title, record.subtitle, record.text))))
    if len(words) < n:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _shared(sl: Sequence[frozenset], sr: Sequence[frozenset], same: bool):
    """``(i, j, shared shingles)`` for every pair that shares any, through an
    inverted index on shingles (well below quadratic on real corpora)."""
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for j, s in enumerate(sr):
        for sh in s:
            index[sh].append(j)
    for i, s in enumerate(sl):
        counts: dict[int, int] = defaultdict(int)
        for sh in s:
            for j in index.get(sh, ()):
                if same and j <= i:
                    continue
                counts[j] += 1
        yield from ((i, j, inter) for j, inter in counts.items())


def near_duplicates(left: Sequence[Record], right: Sequence[Record] | None = None, *, n: int = 5, threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, similarity)`` with shingle Jaccard >= ``threshold``.

    With ``right`` given, ``i`` indexes ``left`` and ``j`` indexes ``right``;
    otherwise pairs within ``left`` (``i < j``).
    """
    sl = [shingles(r, n) for r in left]
    sr = sl if right is None else [shingles(r, n) for r in right]
    pairs = []
    for i, j, inter in _shared(sl, sr, right is None):
        sim = inter / (len(sl[i]) + len(sr[j]) - inter)
        if sim >= threshold:
            pairs.append((i, j, sim))
    return pairs


def near_copies(
    left: Sequence[Record], right: Sequence[Record] | None = None, *, n: int = 8, min_shared: int = 10, min_share: float = 0.10
) -> list[tuple[int, int, int]]:
    """Pairs ``(i, j, shared)`` that share long passages: at least ``min_shared``
    word ``n``-grams, or at least ``min_share`` of either text's own ``n``-grams
    (and two or more). Jaccard misses these when one text is much longer than
    the other: a lede copied into a full article."""
    sl = [shingles(r, n) for r in left]
    sr = sl if right is None else [shingles(r, n) for r in right]
    pairs = []
    for i, j, inter in _shared(sl, sr, right is None):
        if inter >= min_shared or (inter >= 2 and inter >= min_share * min(len(sl[i]), len(sr[j]))):
            pairs.append((i, j, inter))
    return pairs


def label_matrix(records: Sequence[Record], kinds: Sequence[str] = KINDS, extra: Sequence[str] = ("lang",)) -> np.ndarray:
    """Binary matrix over every label (and language) present: the stratification target."""
    columns: dict[str, int] = {}
    rows = []
    for r in records:
        keys = [f"{k}:{lab}" for k in kinds for lab in r.labels(k)]
        keys += [f"{k}:{getattr(r, k)}" for k in extra]
        if not r.labels("topics"):
            keys.append("topics:<none>")
        rows.append([columns.setdefault(key, len(columns)) for key in keys])
    y = np.zeros((len(records), len(columns)), dtype=np.int8)
    for i, cols in enumerate(rows):
        y[i, cols] = 1
    return y


def _groups(records: Sequence[Record], threshold: float) -> list[int]:
    """Union-find over near-duplicate and near-copy pairs: one group id per record."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in [*near_duplicates(records, threshold=threshold), *near_copies(records)]:
        parent[find(i)] = find(j)
    return [find(i) for i in range(len(records))]


def stratified_split(records: Sequence[Record], *, test_size: float = 0.22, seed: int = 13, dup_threshold: float = 0.5) -> tuple[list[Record], list[Record]]:
    """Split into (train, test) by iterative multi-label stratification.

    Groups of near-duplicates (5-gram Jaccard >= ``dup_threshold``) and
    near-copies (:func:`near_copies`) are split as one unit: each group follows
    its first member, so no such pair straddles the split.
    """
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    groups = _groups(records, dup_threshold)
    leaders = sorted(set(groups))
    lead_records = [records[g] for g in leaders]
    y = label_matrix(lead_records)
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    _, test_idx = next(splitter.split(np.zeros(len(lead_records)), y))
    test_leaders = {leaders[i] for i in test_idx}
    train = [r for r, g in zip(records, groups) if g not in test_leaders]
    test = [r for r, g in zip(records, groups) if g in test_leaders]
    return train, test


def kfold_indices(y: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Iteratively stratified K folds over a binary label matrix ``y``."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    folds = MultilabelStratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(y)), np.asarray(y)))
