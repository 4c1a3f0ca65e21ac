"""The compact predictor: a fitted model as plain arrays, served without
scikit-learn and without pickle.

Why: importing scikit-learn and unpickling its vectorizers takes seconds,
and scikit-learn's character n-gram analyzer runs in pure Python, a few
milliseconds per article. The compact form stores vocabularies, IDF weights
and linear coefficients in a ``.npz`` file (loaded with
``allow_pickle=False``: no code runs at load time). At prediction time:

- each distinct word is analysed once (:class:`_WordCache`): its character
  n-grams (numpy rolling hashes, for all new words of a batch at once) and
  its tokens; documents get theirs through a sparse product;
- n-gram hashes are looked up in open-addressing tables (:class:`_Lookup`)
  built at load time;
- the linear heads are applied block by block, one unit per label.

Profiled on the bundled corpus, this is 3-5x faster than the first
version, which hashed every n-gram of every document.

:func:`newstag.learn.export.compile_model` turns a fitted
:class:`~newstag.learn.models.MultiLabelModel` into a :class:`CompactModel`
when every part is supported (word / char_wb
TF-IDF, alias counts, and linear heads: logistic regression, Platt-calibrated
margins, modified-Huber SGD); otherwise it raises :class:`Unsupported` and
the scikit-learn pipeline is used. Tests check both give the same
probabilities.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from newstag.text.aliases import AliasMatcher
from newstag.text.preparation import prepare

FORMAT_VERSION = 1
ROLES_FORMAT_VERSION = 2  # a role-stacked actor model: format 1 readers must refuse it
_BASE = np.uint64(1_000_003)
_WORD_SEP = "\x00"
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default


class Unsupported(ValueError):
    """The model has a part the compact predictor does not implement."""


def _hash_str(s: str) -> int:
    h = 0
    for ch in s:
        h = (h * 1_000_003 + ord(ch)) & 0xFFFFFFFFFFFFFFFF
    return h


# ----------------------------------------------------------------------- blocks


class _Prep:
    def __init__(self, p: dict[str, Any]):
        self.p = p
        self.key = tuple(sorted(p.items()))
        self.fold: Any = None  # the compiled engine's accent folding (same output), else the reference's
        self.squeeze = True  # False under the compiled engine, whose word split reads any run of spaces

    def __call__(self, articles: Sequence[Any]) -> list[str]:
        return prepare(articles, **self.p, fold=self.fold, squeeze=self.squeeze)


def _counts(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]):
    """(row, column) occurrences -> CSR matrix of counts (duplicates summed)."""
    import scipy.sparse as sp

    return sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=shape).tocsr()  # tocsr sums duplicates


class _Csr:
    """A CSR matrix as its three arrays (scipy's attribute names), what the
    compiled engine passes between blocks instead of a scipy matrix.

    Why: importing ``scipy.sparse`` costs about 0.4 s of a CLI cold start,
    and making a scipy matrix runs format checks that cost more than the
    arithmetic on one article. The products are the extension's ports of
    scipy's (same order of operations, so the same numbers)."""

    __slots__ = ("data", "indices", "indptr", "kernels", "shape")

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int], kernels: Any):
        self.data, self.indices, self.indptr, self.shape, self.kernels = data, indices, indptr, shape, kernels

    @classmethod
    def of_pairs(cls, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], kernels: Any) -> _Csr:
        """(row, column) occurrences -> counts, columns sorted within a row:
        what :func:`_counts` gives (scipy sorts, then sums duplicates)."""
        width = max(shape[1], 1)
        keys, counts = np.unique(np.asarray(rows, dtype=np.int64) * width + cols, return_counts=True)
        indptr = np.zeros(shape[0] + 1, dtype=np.int32)
        np.cumsum(np.bincount(keys // width, minlength=shape[0]), out=indptr[1:])
        return cls(counts.astype(np.float64), (keys % width).astype(np.int32), indptr, shape, kernels)

    @classmethod
    def of_dense(cls, dense: np.ndarray, kernels: Any) -> _Csr:
        """The non-zeros of ``dense`` in row-major order, as scipy keeps them."""
        rows, cols = np.nonzero(dense)
        indptr = np.zeros(dense.shape[0] + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
        return cls(dense[rows, cols], cols.astype(np.int32), indptr, dense.shape, kernels)

    def with_data(self, data: np.ndarray) -> _Csr:
        return _Csr(data, self.indices, self.indptr, self.shape, self.kernels)

    def __mul__(self, scalar: float) -> _Csr:
        return self.with_data(self.data * scalar)

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        # float32 values (TF-IDF blocks) and weights (stored heads) are read
        # as they are and widened one by one, as scipy upcasts; others go float64
        data, dense = (a if a.dtype == np.float32 else a.astype(np.float64, copy=False) for a in (self.data, dense))
        return self.kernels.csr_dense(self.indptr, self.indices, np.ascontiguousarray(data), np.ascontiguousarray(dense))

    def tocsr(self):
        """The scipy matrix (for callers that want one: explanations)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def _tfidf(counts: Any, idf: np.ndarray, sublinear: bool, dtype: Any, compiled: Any = None):
    """Counts -> (sublinear) TF x IDF -> L2-normalised rows, as scikit-learn computes them.
    ``compiled``: the extension, whose ``tfidf_values`` does the float32
    arithmetic in one pass with the same results. Returns a matrix of the
    kind ``counts`` is (:class:`_Csr` or scipy's)."""
    data = np.ascontiguousarray(counts.data, dtype=np.float64)
    if compiled is not None and np.dtype(dtype) == np.float32 and counts.indices.dtype == np.int32 and (not len(data) or data.max() <= 1e6):
        # numpy's log of each distinct count: the same float32 values as np.log on the data
        table = (np.log(np.arange(1, int(data.max()) + 1, dtype=np.float32)) + 1) if sublinear and len(data) else np.zeros(0, np.float32)
        idf32 = np.ascontiguousarray(idf, dtype=np.float32)
        values = compiled.tfidf_values(counts.indptr.astype(np.int32, copy=False), data, counts.indices, idf32, table)
        if values is not None:
            return _like(counts, values)
    v = counts.data.astype(dtype)
    if sublinear:
        v = np.log(v) + 1
    v = v * idf[counts.indices].astype(dtype)
    row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row, weights=(v.astype(np.float64) ** 2), minlength=counts.shape[0])).astype(dtype)
    return _like(counts, v / norms[row])


def _like(counts: Any, values: np.ndarray):
    """A matrix with the pattern of ``counts`` and ``values``."""
    if isinstance(counts, _Csr):
        return counts.with_data(values)
    import scipy.sparse as sp

    return sp.csr_matrix((values, counts.indices, counts.indptr), shape=counts.shape)


class _Lookup:
    """``uint64`` key -> column, for a whole batch of keys at once.

    Why: ``np.searchsorted`` on a sorted vocabulary costs ``log2(V)``
    scattered reads per n-gram; this open-addressing table (linear probing,
    Fibonacci hashing, at most a quarter full) usually answers in one read.
    Built at load time from the stored keys, so the file format is unchanged:
    by the compiled extension's ``fill_table`` when given (``kernels``, a
    tenth of the time), else in numpy rounds. Both keep every key reachable
    from its home without crossing an empty slot, so lookups agree.
    """

    _MIX = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, keys: np.ndarray, values: np.ndarray, kernels: Any = None):
        keys = np.asarray(keys, dtype=np.uint64)
        bits = max(4, math.ceil(math.log2(max(len(keys), 1) * 4)))
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.values = np.full(1 << bits, -1, dtype=np.int64)  # -1: empty slot
        if kernels is not None:
            values = np.ascontiguousarray(values, dtype=np.int64)
            self.rounds = int(kernels.fill_table(np.ascontiguousarray(keys), values, self.keys, self.values, 64 - bits, self.mask))
            return
        home = self._home(keys)
        pending = np.arange(len(keys))
        self.rounds = 0
        while len(pending):  # round p places keys p slots past home
            slot = (home[pending] + self.rounds) & self.mask
            free = self.values[slot] < 0
            taken, first = np.unique(slot[free], return_index=True)
            winners = pending[free][first]
            self.keys[taken] = keys[winners]
            self.values[taken] = values[winners]
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            self.rounds += 1

    def probe(self, frontend: Any) -> Any:
        """The compiled extension's view of this table (``_frontend.Probe``),
        made once."""
        if getattr(self, "_probe", None) is None:
            self._probe = frontend.Probe(self.keys, self.values, int(self.shift), self.mask, self.rounds)
        return self._probe

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * self._MIX) >> self.shift).astype(np.int64)

    def __call__(self, queries: np.ndarray) -> np.ndarray:
        """Column of each query, ``-1`` when it is not in the table."""
        out = np.full(len(queries), -1, dtype=np.int64)
        home = self._home(queries)
        active = np.arange(len(queries))
        for p in range(self.rounds):
            slot = (home[active] + p) & self.mask
            value = self.values[slot]
            full = value >= 0
            hit = full & (self.keys[slot] == queries[active])
            out[active[hit]] = value[hit]
            active = active[full & ~hit]  # an empty slot ends the probe: a miss
            if not len(active):
                break
        return out


def _found(table: _Lookup, hashes: np.ndarray, where: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, column) of the n-grams at positions ``where`` that ``table`` knows."""
    col = table(hashes[where])
    hit = col >= 0
    return owner[where[hit]], col[hit]


def _stack(found: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([r for r, _ in found]).astype(np.int64), np.concatenate([c for _, c in found]).astype(np.int64)


class _Rows:
    """A ragged array that grows by rows (amortised doubling): row ``i``
    holds the values of cached word ``i``. Indices are int32, as scipy's
    sparse products want them, so a CSR view needs no copy."""

    def __init__(self) -> None:
        self.n = 0
        self.nnz = 0
        self.indptr = np.zeros(1025, dtype=np.int32)
        self.values = np.zeros(4096, dtype=np.int32)
        self.ones = np.ones(4096)

    def append(self, rows: np.ndarray, values: np.ndarray, n_new: int) -> None:
        """Add ``n_new`` rows from (row, value) pairs, rows in ``[0, n_new)``."""
        order = np.argsort(rows, kind="stable")
        end = self.nnz + len(values)
        if end > len(self.values):
            size = max(end, 2 * len(self.values))
            self.values = np.concatenate([self.values[: self.nnz], np.zeros(size - self.nnz, dtype=np.int32)])
            self.ones = np.ones(size)
        if self.n + n_new + 1 > len(self.indptr):
            size = max(self.n + n_new + 1, 2 * len(self.indptr))
            self.indptr = np.concatenate([self.indptr[: self.n + 1], np.zeros(size - self.n - 1, dtype=np.int32)])
        self.values[self.nnz : end] = values[order]
        self.indptr[self.n + 1 : self.n + 1 + n_new] = self.nnz + np.cumsum(np.bincount(rows, minlength=n_new))
        self.n += n_new
        self.nnz = end

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and length of every row."""
        indptr = self.indptr[: self.n + 1].astype(np.int64)
        return indptr[:-1], np.diff(indptr)

    def csr(self, width: int):
        """Words x ``width`` counts (a view: values are column indices)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.ones[: self.nnz], self.values[: self.nnz], self.indptr[: self.n + 1]), shape=(self.n, width))


class _WordCache:
    """The distinct words a model has seen, numbered, with what each block
    computed for them (its char n-grams, its tokens).

    Why: news repeats its words, within a batch (about a fifth of a batch's
    words are distinct) and across batches (a stream soon brings few new
    ones); neither ``char_wb`` n-grams nor word tokens (runs of ``\\w``)
    cross a space. So each distinct word is analysed once and its results
    spread to documents in numpy. Bounded: past ``limit`` words it starts
    afresh (memory stays flat on endless streams).
    """

    def __init__(self, limit: int = 100_000):
        self.limit = limit
        self.compiled: Any = None  # the extension when the compiled engine serves (its WordTable)
        self.clear()

    def clear(self) -> None:
        self.index: dict[str, int] = {}  # the numpy engine's numbering
        self.table: Any = None  # the compiled engine's (a _frontend.WordTable over self.words)
        self.words: list[str] = []
        self.rows: dict[int, _Rows] = {}

    def rows_of(self, block: Any) -> _Rows:
        """The rows one block computed (created empty)."""
        return self.rows.setdefault(id(block), _Rows())

    def split(self, docs: list[str]) -> _Words:
        if len(self.words) > self.limit:
            self.clear()
        if self.compiled is not None:
            if self.table is None:
                self.table = self.compiled.WordTable()
            ids, lengths = self.table.split(docs, self.words)
            return _Words(ids, lengths, len(self.words))
        split = [d.split() for d in docs]
        flat = list(itertools.chain.from_iterable(split))
        index = self.index
        new = [w for w in dict.fromkeys(flat) if w not in index]
        index.update(zip(new, range(len(self.words), len(self.words) + len(new))))
        self.words.extend(new)
        ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int32, count=len(flat))
        return _Words(ids, np.fromiter(map(len, split), dtype=np.int64, count=len(docs)), len(self.words))


class _Words:
    """A batch of prepared documents as the cache ids of their words."""

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, size: int):
        self.ids = ids  # per occurrence, in document order
        self.lengths = lengths  # words per document
        self.n_docs = len(lengths)
        self.size = size  # words in the cache when the batch was split
        self.doc = np.repeat(np.arange(self.n_docs), lengths)

    def occurrences(self, n_words: int):
        """Documents x cached words, counts (CSR; a repeated word is a
        repeated entry, which sparse products add up)."""
        import scipy.sparse as sp

        indptr = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int32)
        return sp.csr_matrix((np.ones(len(self.ids)), self.ids, indptr), shape=(self.n_docs, n_words))


class _Index:
    """A TF-IDF block's lookup tables, derived from its stored arrays at load
    time: token ids and word n-gram tables (word), n-gram hash tables
    (char_wb). Read-only once built, so models holding the same block share
    one."""

    def __init__(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        self.key = key  # the fingerprint of every block that uses this index
        self.arrays = arrays  # the block's stored arrays: another block is this one if its arrays are equal
        self.token = re.compile(_TOKEN_PATTERN)  # (word blocks: their own)
        self.token_ids: dict[str, int] = {}
        self.base = np.uint64(1)
        self.word_tables: dict[int, _Lookup] = {}
        self.tables: dict[int, _Lookup] = {}

    def word(self, meta: dict[str, Any], terms: list[str], stop_words: Sequence[str], kernels: Any = None) -> None:
        """Token ids for every token of the vocabulary (stop words: ``-2``),
        and one table per n from a token-id n-gram key to its column
        (``kernels``: the compiled extension, whose ports build the same)."""
        self.token = re.compile(meta["token_pattern"])
        if kernels is not None:
            self.token_ids, keys, n_parts = kernels.word_index(terms, list(stop_words))
            self.base = np.uint64(len(self.token_ids) + 1)
        else:
            keys, n_parts = self._word_keys(terms, stop_words)
        self.word_tables = {}
        for n in np.flatnonzero(np.bincount(n_parts)).tolist():  # (np.unique imports numpy.ma: 45 ms)
            cols = np.flatnonzero(n_parts == n)
            ordered = np.sort(keys[cols])
            if (ordered[1:] == ordered[:-1]).any():
                raise Unsupported(f"word {n}-gram keys collide")
            self.word_tables[n] = _Lookup(keys[cols], cols.astype(np.int64), kernels)

    def _word_keys(self, terms: list[str], stop_words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sets the token ids and base; returns each term's key and token count."""
        split = [t.split(" ") for t in terms]
        n_parts = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
        flat = list(itertools.chain.from_iterable(split))
        token_ids: dict[str, int] = dict.fromkeys(flat)  # type: ignore[assignment]
        for i, tok in enumerate(token_ids):
            token_ids[tok] = i
        ids = np.fromiter(map(token_ids.__getitem__, flat), dtype=np.int64, count=len(flat))
        for word in stop_words:
            token_ids.setdefault(word, -2)
        self.token_ids = token_ids
        self.base = np.uint64(len(token_ids) + 1)
        # key of an n-gram: its token ids + 1 as digits in base `base` (as in _word)
        keys = np.zeros(len(terms), dtype=np.uint64)
        first = np.cumsum(n_parts) - n_parts
        for k in range(int(n_parts.max()) if len(terms) else 0):
            longer = np.flatnonzero(n_parts > k)
            keys[longer] = keys[longer] * self.base + (ids[first[longer] + k] + 1).astype(np.uint64)
        return keys, n_parts

    def holds(self, arrays: dict[str, np.ndarray]) -> bool:
        mine = self.arrays
        return mine.keys() == arrays.keys() and all(np.array_equal(mine[k], arrays[k]) for k in arrays)


_INDEXES: weakref.WeakValueDictionary[str, _Index] = weakref.WeakValueDictionary()


def _shared_index(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[_Index, bool]:
    """The index of the live block with these settings and arrays, or a new
    empty one (second item: whether it is new and must be built).

    Why not a hash of the arrays: hashing tens of MB cost 30 ms of every
    cold start. Blocks are told apart by their settings and array shapes,
    and a candidate with the same ones is checked element by element
    (memory speed, and only when two models hold alike blocks), so two
    blocks share an index, and a fingerprint, exactly when they are equal."""
    base = json.dumps(meta, sort_keys=True) + repr(sorted((k, v.dtype.str, v.shape) for k, v in arrays.items()))
    for key in [k for k in list(_INDEXES.keys()) if k.rpartition("#")[0] == base]:
        index = _INDEXES.get(key)
        if index is not None and index.holds(arrays):
            return index, False
    n = 0
    while f"{base}#{n}" in _INDEXES:
        n += 1
    index = _INDEXES[f"{base}#{n}"] = _Index(f"{base}#{n}", arrays)
    return index, True


class _Tfidf:
    """A compiled ``TextField`` + ``TfidfVectorizer`` (word or char_wb)."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str, kernels: Any = None):
        self.meta = meta
        self.prep = _Prep(meta["prep"])
        self.idf = arrays[f"{prefix}idf"]
        self.dtype = np.dtype(meta["dtype"])
        self.terms = arrays[f"{prefix}terms"]
        lo, hi = meta["ngram_range"]
        self.lo, self.hi = lo, hi
        # the compiled extension when the compiled engine serves (set by
        # CompactModel.set_engine): its ports of _tokens / _char_wb / _word
        self.compiled: Any = None
        self._scratch: np.ndarray | None = None  # the compiled product's per-column [next, count]
        # the lookup tables, built once per process for a block that several
        # models hold (half of a cold start's loading time otherwise); what
        # the block computes depends on its settings and arrays only, so
        # models with the same block (topics and actors) also share its
        # matrix within a batch, by fingerprint
        index, new = _shared_index(meta, {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
        self.fingerprint = index.key
        if new:
            if meta["analyzer"] == "word":
                index.word(meta, self.terms.tolist(), meta["stop_words"] or (), kernels)
            else:
                index.tables = {n: _Lookup(arrays[f"{prefix}h{n}"], arrays[f"{prefix}c{n}"], kernels) for n in range(lo, hi + 1)}
        self._index = index  # keeps it in _INDEXES while this block lives
        self.token, self.token_ids, self.base, self.word_tables, self.tables = index.token, index.token_ids, index.base, index.word_tables, index.tables

    @property
    def width(self) -> int:
        return len(self.idf)

    def names(self) -> list[str]:
        return self.terms.tolist()

    def transform(self, articles: Sequence[Any], cache: _WordCache, prepared: dict | None = None):
        """TF-IDF matrix (CSR) of the articles. ``prepared`` caches prepared
        texts by preparation settings (and their words by cache), so blocks
        and models that share them prepare each text once."""
        prepared = {} if prepared is None else prepared
        if self.prep.key not in prepared:
            prepared[self.prep.key] = self.prep(articles)
        key = (self.prep.key, id(cache))
        if key not in prepared:
            prepared[key] = cache.split(prepared[self.prep.key])
        words = prepared[key]
        rows = cache.rows_of(self)
        word = self.meta["analyzer"] == "word"
        if rows.n < words.size:  # words new to this block
            fresh = cache.words[rows.n : words.size]
            found: tuple[np.ndarray, np.ndarray]
            if self.compiled is None:
                found = self._tokens(fresh) if word else self._char_wb(fresh)
            elif word:
                found = self.compiled.word_tokens(fresh, self.token_ids)
            else:
                found = self.compiled.char_wb_columns(fresh, self.lo, self.hi, self._probes(self.tables))
            rows.append(found[0], found[1], len(fresh))
        shape = (words.n_docs, self.width)
        if self.compiled is not None:
            if word:
                counts = _Csr.of_pairs(*self._word_compiled(words, rows), shape, self.compiled)
            else:  # documents x words @ words x n-grams, as scipy's product
                ids = np.ascontiguousarray(words.ids, dtype=np.int32)
                if self._scratch is None:  # kept clean by the kernel; used under the model's lock
                    self._scratch = np.zeros((self.width, 2), dtype=np.int32)
                    self._scratch[:, 0] = -1
                indptr, indices, data = self.compiled.occurrence_counts(words.lengths, ids, rows.indptr[: rows.n + 1], rows.values[: rows.nnz], self._scratch)
                counts = _Csr(data, indices, indptr, shape, self.compiled)
        elif word:
            counts = _counts(*self._word(words, rows), shape)
        else:
            # documents x words @ words x n-grams
            counts = (words.occurrences(rows.n) @ rows.csr(self.width)).tocsr()
        return _tfidf(counts, self.idf, self.meta["sublinear_tf"], self.dtype, self.compiled)

    def _tokens(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(word, token id) of the tokens of each word, in order."""
        tokens = [self.token.findall(w) for w in words]
        n_tokens = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        flat = itertools.chain.from_iterable(tokens)
        ids = np.fromiter(map(self.token_ids.get, flat, itertools.repeat(-1)), dtype=np.int64, count=int(n_tokens.sum()))
        return np.repeat(np.arange(len(words)), n_tokens), ids

    def _word(self, words: _Words, rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
        """(document, column) of every word n-gram in the vocabulary.

        Each word's tokens (``rows``, from :meth:`_tokens`) are spread to
        the documents in numpy; n-grams are keys of token ids. A token
        outside the vocabulary has id ``-1`` and ends every n-gram that
        would contain it; stop words are dropped before n-grams form, as
        scikit-learn does.
        """
        first, n_tokens = rows.bounds()
        token_ids = rows.values[: rows.nnz].astype(np.int64)
        per_occurrence = n_tokens[words.ids]
        ends = np.cumsum(per_occurrence)
        ids = token_ids[np.repeat(first[words.ids] - ends + per_occurrence, per_occurrence) + np.arange(ends[-1] if len(ends) else 0)]
        doc = np.repeat(words.doc, per_occurrence)
        keep = ids != -2
        ids, doc = ids[keep], doc[keep]
        found = []
        h = np.zeros(len(ids), dtype=np.uint64)
        ok = np.ones(len(ids), dtype=bool)
        for n in range(1, self.hi + 1):
            m = len(ids) - n + 1
            if m <= 0:
                break
            last = ids[n - 1 : n - 1 + m]
            h = h[:m] * self.base + (last + 1).astype(np.uint64)
            ok = ok[:m] & (last >= 0) & (doc[n - 1 : n - 1 + m] == doc[:m])
            if n >= self.lo and n in self.word_tables:
                found.append(_found(self.word_tables[n], h, np.flatnonzero(ok), doc))
        return _stack(found)

    def _probes(self, tables: dict[int, _Lookup]) -> list[Any]:
        """The compiled probes of ``tables``, indexed by n (``None`` where
        there is no table)."""
        return [tables[n].probe(self.compiled) if n in tables else None for n in range(max(tables, default=0) + 1)]

    def _word_compiled(self, words: _Words, rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_word` by the compiled extension (same pairs, same order)."""
        first, n_tokens = rows.bounds()
        ids = np.ascontiguousarray(words.ids, dtype=np.int32)
        doc = np.ascontiguousarray(words.doc, dtype=np.int64)
        return self.compiled.word_columns(ids, doc, first, n_tokens, rows.values[: rows.nnz], int(self.base), self.lo, self.hi, self._probes(self.word_tables))

    def _char_wb(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(word, column) of every char n-gram of each space-padded word,
        for all the words at once.

        scikit-learn's ``char_wb`` takes the n-grams of ``" " + word + " "``
        for each word. The words are padded and joined by a separator that
        no window may contain; a window is an n-gram when it has no space
        except possibly at its two ends. Hashes and the "crosses a word"
        mask of length ``n`` extend those of ``n - 1``.
        """
        if not words:
            return _stack([])
        text = " " + f" {_WORD_SEP} ".join(words) + " "
        codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32).astype(np.uint64)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        word_of = np.repeat(np.arange(len(words)), lengths + 1)[: len(codes)]
        is_space = codes == 32
        is_sep = np.zeros(len(codes), dtype=bool)  # by position: a word may hold a NUL
        is_sep[np.cumsum(lengths + 1)[:-1] - 1] = True
        found = []
        h, bad = codes, is_sep
        for n in range(2, self.hi + 1):
            m = len(codes) - n + 1
            if m <= 0:
                break
            h = h[:m] * _BASE + codes[n - 1 : n - 1 + m]
            bad = bad[:m] | is_sep[n - 1 : n - 1 + m]
            if n >= 3:
                bad |= is_space[n - 2 : n - 2 + m]
            if n >= self.lo:
                found.append(_found(self.tables[n], h, np.flatnonzero(~bad), word_of))
        return _stack(found)


class _Alias:
    def __init__(self, meta: dict[str, Any]):
        self.meta = meta
        self.matcher = AliasMatcher(meta["labels"], meta["loose"], meta["exact"])
        self.names_ = meta["names"]
        self.compiled: Any = None  # the extension when the compiled engine serves (set by CompactModel.set_engine)

    @property
    def width(self) -> int:
        return len(self.names_)

    def names(self) -> list[str]:
        return list(self.names_)

    def transform(self, articles: Sequence[Any], cache: _WordCache, prepared: dict | None = None):
        dense = self.matcher.matrix(articles, self.meta["title_separate"], self.meta["sublinear"])
        if self.compiled is not None:
            return _Csr.of_dense(dense, self.compiled)
        import scipy.sparse as sp

        return sp.csr_matrix(dense)


# ----------------------------------------------------------------------- model


class CompactModel:
    """Probabilities from arrays. Same ``labels_``/``thresholds_``/
    ``predict_proba`` surface as :class:`~newstag.learn.models.MultiLabelModel`."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        expected = ROLES_FORMAT_VERSION if "roles" in meta else FORMAT_VERSION
        if meta.get("format") != expected:
            raise Unsupported(f"compact format {meta.get('format')} is not {expected}")
        self.meta = meta
        self.labels_ = list(meta["labels"])
        self.thresholds_ = arrays["thresholds"]
        self.blocks: list[tuple[Any, int, float]] = []
        from newstag.engine import frontend

        # the extension also builds the lookup tables, unless it is turned off
        kernels = frontend.kernels() if frontend.resolve("auto") == "compiled" else None
        offset = 0
        for k, b in enumerate(meta["blocks"]):
            block = _Tfidf(b, arrays, f"b{k}_", kernels) if b["type"] == "tfidf" else _Alias(b)
            self.blocks.append((block, offset, float(b.get("weight", 1.0))))
            offset += block.width
        self.n_features = offset
        self.W = arrays["W"]  # features x units (float32 since heads are stored so; float64 before)
        self._W64: np.ndarray | None = None  # the numpy engine's float64 copy (see _heads)
        self.bias = arrays["bias"]
        self.link = arrays["link"]  # 0 logistic (p = expit(-(a f + b))), 1 modified Huber, 2 constant
        self.a, self.b = arrays["a"], arrays["b"]
        self.unit_label = arrays["unit_label"]
        self.roles = None
        if "roles" in meta:
            from newstag.engine.roles import CompactRoles

            self.roles = CompactRoles(meta["roles"], arrays, self.labels_)
        self._names: np.ndarray | None = None
        self._cache = _WordCache()
        self._lock = threading.Lock()  # the word cache is shared state
        self._reference_matchers = [block.matcher for block, _, _ in self.blocks if isinstance(block, _Alias)]
        self.engine = "numpy"
        self.set_engine("auto")

    def set_engine(self, engine: str = "auto") -> str:
        """Serve with the ``compiled`` front end or the ``numpy`` reference
        (``auto``: compiled when the extension imports, unless
        ``NEWSTAG_ENGINE`` says otherwise). Returns the engine now serving;
        raises :class:`~newstag.engine.frontend.EngineUnavailable` when
        ``compiled`` is asked for and cannot run."""
        from newstag.engine import frontend

        self.engine = frontend.resolve(engine)
        aliases = [block for block, _, _ in self.blocks if isinstance(block, _Alias)]
        for block, reference in zip(aliases, self._reference_matchers):
            block.matcher = frontend.CompiledAliasMatcher.like(reference) if self.engine == "compiled" else reference
        self._cache.clear()  # each engine numbers words its own way
        self._cache.compiled = frontend.kernels() if self.engine == "compiled" else None
        for block, _, _ in self.blocks:
            block.compiled = frontend.kernels() if self.engine == "compiled" else None
            if isinstance(block, _Tfidf):
                block.prep.fold = frontend.fold_accents if self.engine == "compiled" else None
                block.prep.squeeze = self.engine != "compiled"
        if self.roles is not None:
            self.roles.set_engine(self.engine)
        return self.engine

    # features
    def _blocks(self, articles: Sequence[Any], prepared: dict | None = None) -> list[tuple[Any, int]]:
        """Each block's feature matrix (CSR, weighted) with its column offset.
        ``prepared``: see :meth:`predict_proba`."""
        prepared = {} if prepared is None else prepared
        out = []
        with self._lock:
            for block, offset, weight in self.blocks:
                key = ("block", getattr(block, "fingerprint", id(block)))
                X = prepared.get(key)
                if X is None:  # another model of this batch may have computed the same block
                    X = prepared[key] = block.transform(articles, self._cache, prepared)
                out.append(((X * weight if weight != 1.0 else X), offset))
        return out

    def transform(self, articles: Sequence[Any]):
        import scipy.sparse as sp

        return sp.hstack([X.tocsr() for X, _ in self._blocks(articles)], format="csr")

    def feature_names(self) -> np.ndarray:
        if self._names is None:
            prefixes = [b["name"] for b in self.meta["blocks"]]
            self._names = np.array([f"{p}__{n}" for (block, _, _), p in zip(self.blocks, prefixes) for n in block.names()], dtype=object)
        return self._names

    def _heads(self) -> np.ndarray:
        """The weights the products read. The compiled product widens
        float32 weights one by one; scipy would multiply float32 features by
        float32 weights in float32, so the numpy engine reads a float64 copy
        (made on its first use: the same sums as the compiled engine's)."""
        if self.engine == "compiled" or self.W.dtype == np.float64:
            return self.W
        if self._W64 is None:
            self._W64 = self.W.astype(np.float64)
        return self._W64

    def contributions(self) -> np.ndarray:
        """Labels x features weights (units of a label averaged)."""
        out = np.zeros((len(self.labels_), self.n_features), dtype=np.float32)
        counts = np.bincount(self.unit_label, minlength=len(self.labels_))
        for u, label in enumerate(self.unit_label):
            w = self.W[:, u] * (-self.a[u] if self.link[u] == 0 else 1.0)
            out[label] += w / max(counts[label], 1)
        return out

    # probabilities
    def predict_proba(self, articles: Sequence[Any], prepared: dict | None = None) -> np.ndarray:
        """Probabilities (articles x labels). ``prepared``: a dict shared by
        the calls that score the *same* articles (the topic and actor models
        of one batch), so texts are prepared and split into words once."""
        articles = list(articles)
        if not articles:
            return np.zeros((0, len(self.labels_)))
        # block by block: no stacked matrix to build
        F = np.tile(self.bias, (len(articles), 1))
        W = self._heads()
        for X, offset in self._blocks(articles, prepared):
            F += np.asarray(X @ W[offset : offset + X.shape[1]], dtype=np.float64)
        P = np.empty_like(F)
        logistic = self.link == 0
        z = -(self.a[logistic] * F[:, logistic] + self.b[logistic])
        P[:, logistic] = 1.0 / (1.0 + np.exp(-z))
        huber = self.link == 1
        P[:, huber] = (np.clip(F[:, huber], -1, 1) + 1) / 2
        const = self.link == 2
        P[:, const] = self.b[const]
        out = np.zeros((len(articles), len(self.labels_)))
        np.add.at(out.T, self.unit_label, P.T)
        out /= np.bincount(self.unit_label, minlength=len(self.labels_))
        out = self.roles.stack(articles, out) if self.roles is not None else out
        for block, _, _ in self.blocks:  # the compiled matcher's memo serves one batch
            if isinstance(block, _Alias) and hasattr(block.matcher, "forget"):
                block.matcher.forget()
        return out

    def role_evidence(self, article: Any, label: str, n: int = 5) -> list[dict[str, Any]]:
        """Mention features behind ``label`` (role-stacked models; else none)."""
        return self.roles.evidence(article, label, n) if self.roles is not None else []

    def alias_matcher(self) -> AliasMatcher | None:
        for block, _, _ in self.blocks:
            if isinstance(block, _Alias):
                return block.matcher
        return None


def to_bytes(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The ``.npz`` form: arrays plus JSON metadata, nothing pickled."""
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as the allow_pickle flag
    return buf.getvalue()


def load_bytes(data: bytes | bytearray | np.ndarray) -> CompactModel:
    """The model in ``data`` (a ``bytearray`` or ``uint8`` array is used in
    place: the arrays become views into it, so the caller must not change it
    afterwards)."""
    arrays = _npz_views(data)
    meta = json.loads(str(arrays.pop("meta")))
    return CompactModel(meta, arrays)


def _npz_views(data: bytes | bytearray | np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` held in ``data``, as views into it when it
    is writable (``bytearray``, ``uint8`` array), else into one writable copy
    of it (the compiled kernels take writable buffers).

    Why: :func:`to_bytes` stores members uncompressed, so each array's bytes
    already sit in ``data``; ``np.load`` reads them out member by member
    through ``zipfile`` (a tenth of a cold start), one copy costs a memcpy.
    Anything else (a compressed member, a header this reader does not know)
    goes through ``np.load``'s reader, same arrays."""
    import zipfile

    from numpy.lib import format as npy

    buffer = data if isinstance(data, (bytearray, np.ndarray)) else bytearray(data)
    out: dict[str, np.ndarray] = {}
    file = _ViewFile(buffer)
    with zipfile.ZipFile(file) as z:
        for info in z.infolist():
            name = info.filename.removesuffix(".npy")
            view = _stored_view(file.view, info, npy) if info.compress_type == zipfile.ZIP_STORED else None
            if view is None:
                with z.open(info) as f:
                    view = npy.read_array(f, allow_pickle=False)
            out[name] = view
    return out


class _ViewFile:
    """A read-only, seekable file over a buffer without copying it (what
    ``zipfile`` reads through; ``io.BytesIO`` would copy a ``bytearray``)."""

    def __init__(self, data: bytearray | np.ndarray):
        self.view = (data.data if isinstance(data, np.ndarray) else memoryview(data)).cast("B")
        self.pos = 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = max(0, offset + (0, self.pos, len(self.view))[whence])
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        end = len(self.view) if n is None or n < 0 else min(len(self.view), self.pos + n)
        out = self.view[self.pos : end].tobytes()
        self.pos = max(self.pos, end)
        return out


def _stored_view(data: memoryview, info: Any, npy: Any) -> np.ndarray | None:
    """One stored member's array as a view, or None when it cannot be one."""
    local = info.header_offset  # local file header: 30 bytes, then name and extra field
    if data[local : local + 4].tobytes() != b"PK\x03\x04":
        return None
    start = local + 30 + int.from_bytes(data[local + 26 : local + 28], "little") + int.from_bytes(data[local + 28 : local + 30], "little")
    header = _plain_header(data, start)
    if header is not None:
        shape, fortran, dtype, offset = header
    else:
        head = io.BytesIO(data[start : start + min(info.file_size, 65536)].tobytes())
        version = npy.read_magic(head)
        if version not in ((1, 0), (2, 0)):
            return None
        shape, fortran, dtype = (npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0)(head)
        offset = head.tell()
    if dtype.hasobject:
        return None  # np.load refuses it (allow_pickle=False) with its own message
    count = math.prod(shape)
    if offset + count * dtype.itemsize != info.file_size:
        return None
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=start + offset)
    return flat.reshape(shape, order="F" if fortran else "C")


# the header numpy writes for a plain array (format 1.0):
# {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
_PLAIN_HEADER = re.compile(r"\{'descr': '([<>|=][A-Za-z][0-9]*)', 'fortran_order': (True|False), 'shape': \(((?:[0-9]+, ?)*[0-9]*)\), \} *\n")


def _plain_header(data: memoryview, start: int) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """(shape, Fortran order, dtype, data offset) of a format 1.0 header of a
    plain array, read without numpy's ``ast.literal_eval`` (a hundred
    microseconds per member, forty members a cold start); None for anything
    else, which numpy's reader then handles."""
    if data[start : start + 8].tobytes() != b"\x93NUMPY\x01\x00":
        return None
    size = int.from_bytes(data[start + 8 : start + 10], "little")
    match = _PLAIN_HEADER.fullmatch(data[start + 10 : start + 10 + size].tobytes().decode("latin1"))
    if match is None:
        return None
    descr, fortran, dims = match.groups()
    shape = tuple(int(d) for d in dims.replace(" ", "").split(",") if d)
    return shape, fortran == "True", np.dtype(descr), 10 + size
