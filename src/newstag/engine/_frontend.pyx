# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled hot loops of the compact engine (built by ``setup.py`` when a C
compiler is there; :mod:`newstag.engine.frontend` falls back to the pure
Python reference otherwise).

Every function here is a port of a reference in :mod:`newstag.text` with the
same output, checked by ``tests/test_frontend.py`` on the corpus and on
generated text: the character classes are CPython's own (``\\w`` of ``re``
is ``Py_UNICODE_ISALNUM`` or ``_``), the iteration orders are the reference's.
"""

from cpython.unicode cimport Py_UNICODE_ISALNUM, Py_UNICODE_ISSPACE
from cpython.unicode cimport PyUnicode_1BYTE_KIND, PyUnicode_4BYTE_KIND, PyUnicode_FromKindAndData
from libc.math cimport log1p, sqrt
from libc.stdlib cimport calloc, free, malloc

from collections.abc import Mapping

from newstag.text.mentions import _is_dateline
from newstag.text.preparation import fold_and_lower as _reference_fold_and_lower

_PUNCT = frozenset('«»“”"()-–—:')


# ASCII's word characters ([0-9A-Za-z_]) by code: most characters of a news
# text are ASCII, and the table spares them Python's Unicode database lookup
cdef bint _ASCII_WORD[128]
for _c in range(128):
    _ASCII_WORD[_c] = chr(_c).isalnum() or _c == 95


cdef extern from "Python.h":
    # PEP 393 access to a str's code points: one kind test per string, not a
    # checked call per character (what ``text[i]`` compiles to)
    int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(int kind, void *data, Py_ssize_t index) noexcept nogil


cdef inline bint _is_word(Py_UCS4 c):
    """``re``'s ``\\w`` on a ``str`` pattern."""
    if c < 128:
        return _ASCII_WORD[c]
    return Py_UNICODE_ISALNUM(c)


cdef inline bint _is_token_punct(Py_UCS4 c):
    # the one-character alternatives of mentions._TOKEN: «»“”"()-–—:
    return c == 0xAB or c == 0xBB or c == 0x201C or c == 0x201D or c == 34 or c == 40 or c == 41 or c == 45 or c == 0x2013 or c == 0x2014 or c == 58


def quote_regions(str text):
    """Port of ``newstag.text.mentions._quote_regions``."""
    cdef Py_ssize_t i, n = len(text), start = 0, depth = 0
    cdef bint straight = False
    cdef Py_UCS4 ch
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    regions = []
    for i in range(n):
        ch = PyUnicode_READ(kind, data, i)
        if ch == 0xAB or ch == 0x201C:  # « “
            if depth == 0 and not straight:
                start = i
            depth += 1
        elif (ch == 0xBB or ch == 0x201D) and depth:  # » ”
            depth -= 1
            if depth == 0 and not straight:
                regions.append((start, i))
        elif ch == 34:  # "
            if not straight and depth == 0:
                start = i
                straight = True
            elif straight:
                regions.append((start, i))
                straight = False
        elif ch == 10 and (depth or straight) and i + 1 < n and PyUnicode_READ(kind, data, i + 1) == 10:
            regions.append((start, i))
            depth = 0
            straight = False
    if depth or straight:
        regions.append((start, n))
    return regions


cdef Py_ssize_t _tokens(str text, Py_ssize_t *starts, Py_ssize_t *ends):
    """Bounds of every match of ``\\w+|[«»“”"()\\-–—:]``, in order, into
    ``starts``/``ends`` (room for ``len(text)``); returns how many."""
    cdef Py_ssize_t i = 0, j, n = len(text), k = 0
    cdef Py_UCS4 ch
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    while i < n:
        ch = PyUnicode_READ(kind, data, i)
        if _is_word(ch):
            j = i + 1
            while j < n and _is_word(PyUnicode_READ(kind, data, j)):
                j += 1
            starts[k] = i
            ends[k] = j
            k += 1
            i = j
        else:
            if _is_token_punct(ch):
                starts[k] = i
                ends[k] = i + 1
                k += 1
            i += 1
    return k


cdef Py_ssize_t _masked_sequence(str lowered, list hits, Py_ssize_t *starts, Py_ssize_t *ends, Py_ssize_t *seq, Py_ssize_t *at) except -1:
    """The core of ``MentionFeaturizer._masked`` over the field's tokens:
    fills ``starts``/``ends`` (token bounds), ``seq`` (>= 0 a token index,
    < 0 the hit ``-1 - value``) and ``at`` (each hit's place in ``seq``,
    -1: on no token); returns the length of ``seq``. ``hits`` are
    ``(start, end, actor)``; arrays have room for ``len(lowered) + 1``
    (``at``: for the hits)."""
    cdef Py_ssize_t n_hits = len(hits), n_tok, k = 0, i, m, s, n_inside, n_seq = 0, hs, he, hn
    cdef bint placed, in_order = True
    cdef Py_ssize_t inside[7]
    cdef Py_ssize_t *span_start = <Py_ssize_t *> malloc((n_hits + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t *span_end = <Py_ssize_t *> malloc((n_hits + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t *span_hit = <Py_ssize_t *> malloc((n_hits + 1) * sizeof(Py_ssize_t))
    try:
        if span_start == NULL or span_end == NULL or span_hit == NULL:
            raise MemoryError()
        # the spans sorted by (start, end, hit) as C arrays: the token loop
        # reads them without objects. Hits come sorted (``spans`` sorts
        # them), so the sort is needed only when they do not
        for m in range(n_hits):
            span = <tuple> hits[m]
            span_start[m], span_end[m], span_hit[m] = span[0], span[1], m
            at[m] = -1
            if m and (span_start[m] < span_start[m - 1] or (span_start[m] == span_start[m - 1] and span_end[m] < span_end[m - 1])):
                in_order = False
        if not in_order:
            for m, span in enumerate(sorted([(hits[i][0], hits[i][1], i) for i in range(n_hits)])):
                span_start[m], span_end[m], span_hit[m] = span
        n_tok = _tokens(lowered, starts, ends)
        for i in range(n_tok):
            s = starts[i]
            while k < n_hits and span_end[k] <= s:
                k += 1
            n_inside = 0
            for m in range(k, min(k + 6, n_hits)):
                hs, he, hn = span_start[m], span_end[m], span_hit[m]
                if hs <= s < he:
                    inside[n_inside] = hn
                    n_inside += 1
            if n_inside == 0:
                seq[n_seq] = i
                n_seq += 1
                continue
            placed = False
            if n_seq and seq[n_seq - 1] < 0:
                for m in range(n_inside):
                    if inside[m] == -1 - seq[n_seq - 1]:
                        placed = True
                        break
            if not placed:
                seq[n_seq] = -1 - inside[0]
                n_seq += 1
            for m in range(n_inside):
                if at[inside[m]] < 0:
                    at[inside[m]] = n_seq - 1
        return n_seq
    finally:
        free(span_start)
        free(span_end)
        free(span_hit)


def paragraph_spans(str body):
    """Port of ``newstag.text.mentions._paragraph_spans``: the ``(start,
    end)`` of each part of ``body.split("\\n\\n")`` that is not all spaces."""
    cdef Py_ssize_t n = len(body), pos = 0, i = 0, k
    cdef int kind = PyUnicode_KIND(body)
    cdef void *data = PyUnicode_DATA(body)
    cdef list spans = []
    while True:
        while i + 1 < n and not (PyUnicode_READ(kind, data, i) == 10 and PyUnicode_READ(kind, data, i + 1) == 10):
            i += 1
        end = i if i + 1 < n else n  # no separator left: the last part runs to the end
        for k in range(pos, end):
            if not Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, k)):
                spans.append((pos, end))
                break
        if end == n:
            return spans
        pos = i = end + 2


def mention_fields(article):
    """Port of ``MentionFeaturizer._fields`` as a dict: ``{"body": article}``
    for a ``str``, else the title, subtitle and text (``str(value or "")``)."""
    if isinstance(article, str):
        return {"body": article}
    if isinstance(article, dict) or isinstance(article, Mapping):
        get = article.get
        return {"title": str(get("title", "") or ""), "subtitle": str(get("subtitle", "") or ""), "body": str(get("text", "") or "")}
    return {"title": str(getattr(article, "title", "") or ""), "subtitle": str(getattr(article, "subtitle", "") or ""), "body": str(getattr(article, "text", "") or "")}


cdef class _Field:
    """One field's token arrays for :func:`_masked_sequence` (freed with it)."""

    cdef Py_ssize_t *starts
    cdef Py_ssize_t *ends
    cdef Py_ssize_t *seq
    cdef Py_ssize_t *at
    cdef Py_ssize_t n_seq
    cdef list words  # each token's text, sliced once for all the windows that show it

    def __cinit__(self, str lowered, list hits):
        cdef Py_ssize_t n = len(lowered) + 1
        self.starts = <Py_ssize_t *> malloc(n * sizeof(Py_ssize_t))
        self.ends = <Py_ssize_t *> malloc(n * sizeof(Py_ssize_t))
        self.seq = <Py_ssize_t *> malloc(n * sizeof(Py_ssize_t))
        self.at = <Py_ssize_t *> malloc((len(hits) + 1) * sizeof(Py_ssize_t))
        if self.starts == NULL or self.ends == NULL or self.seq == NULL or self.at == NULL:
            raise MemoryError()
        self.n_seq = _masked_sequence(lowered, hits, self.starts, self.ends, self.seq, self.at)
        self.words = [None] * self.n_seq

    def __dealloc__(self):
        free(self.starts)
        free(self.ends)
        free(self.seq)
        free(self.at)


def hit_windows(str lowered, list hits, int window):
    """Port of ``MentionFeaturizer._hit_windows``: ``hits`` are
    ``(start, end, actor)`` in the field's hit order; returns each hit's
    context feature keys in the reference's order."""
    cdef Py_ssize_t n_hits = len(hits), i, a, m, lo, hi, nl, n_seq
    cdef list actors, out, words, left, right, keys
    cdef _Field field = _Field(lowered, hits)
    cdef Py_ssize_t *seq = field.seq
    n_seq = field.n_seq
    actors = [h[2] for h in hits]
    out = []
    words = field.words
    for i in range(n_hits):
        a = field.at[i]
        if a < 0:
            out.append([])
            continue
        actor = actors[-1 - seq[a]]
        lo = a - window if a - window > 0 else 0
        hi = a + 1 + window if a + 1 + window < n_seq else n_seq
        left = []
        right = []
        for m in range(lo, a):
            left.append(_masked(lowered, field.starts, field.ends, actors, seq[m], actor, words, m))
        for m in range(a + 1, hi):
            right.append(_masked(lowered, field.starts, field.ends, actors, seq[m], actor, words, m))
        nl = len(left)  # no negative indexing: wraparound is off
        keys = ["l1=" + left[nl - 1] if nl else "l1=^", "r1=" + right[0] if right else "r1=$"]
        if nl >= 2:
            keys.append("l2=" + left[nl - 2] + " " + left[nl - 1])
        if len(right) >= 2:
            keys.append("r2=" + right[0] + " " + right[1])
        keys.extend(["w=" + t for t in {t for t in left + right if t not in _PUNCT}])
        out.append(keys)
    return out


cdef inline str _masked(str lowered, Py_ssize_t *starts, Py_ssize_t *ends, list actors, Py_ssize_t v, object actor, list words, Py_ssize_t m):
    if v >= 0:
        word = words[m]
        if word is None:
            word = words[m] = lowered[starts[v]:ends[v]]
        return word
    return "X" if actors[-1 - v] == actor else "A"


def score(dict feats, dict vocab, double[::1] coef, double intercept):
    """Port of ``CompactRoles._score`` without the parts: the candidate
    classifier's margin, summed in the features' order."""
    cdef double z = intercept
    cdef Py_ssize_t i
    for name, value in feats.items():
        j = vocab.get(name)
        if j is not None:
            i = j
            z += coef[i] * <double> value
    return z


cdef enum:
    _ROOT = 0x800  # code points up to Greek and Cyrillic (Latin with accents included)


cdef class AliasTrie:
    """The aliases of one ``AliasMatcher`` pass (loose or exact) as a trie
    walked from each position a match may start at: the hits of
    ``(?<!\\w)(alias|...)(?!\\w)``, the regex the reference builds.

    Why not an Aho-Corasick automaton (``pyahocorasick``, used before): the
    regex's rule is "at each start with no word character before it, the
    longest alias with none after it, then go on after it", which a walk
    from those starts answers directly; an automaton reports every alias
    inside every word (each a Python tuple) for the caller to filter.
    Measured on 2,000 articles of 1 KB: 30 us per article against 68.

    Most walks end within two characters (a word's first letters), so the
    first two steps are array reads: ``root`` by code point, then
    ``second`` (the root's children are nodes ``1..n_first``) by ASCII
    code. Deeper transitions live in one open-addressing table keyed by
    ``(node << 21) | code point``. ``values[node]`` is the label tuple of
    the alias ending there (``ends[node]`` says whether one does)."""

    cdef unsigned long long *keys  # 0: empty slot, else key + 1
    cdef long long *child
    cdef unsigned long long mask
    cdef list values
    cdef char *ends
    cdef int *second  # (node - 1) * 128 + ASCII code -> child (-1: none), for nodes 1..n_first
    cdef long long n_first
    cdef int root[_ROOT]  # the root's children by code point below _ROOT (-1: none): most steps of a walk are its first

    def __cinit__(self):
        self.keys = NULL
        self.child = NULL
        self.ends = NULL
        self.second = NULL

    def __init__(self, dict aliases):
        """``aliases``: alias -> label indices (an empty alias never matches)."""
        cdef Py_ssize_t n_edges = sum(len(a) for a in aliases), size = 16, i
        cdef long long node, nxt
        cdef Py_UCS4 c
        while size < 2 * n_edges + 2:
            size *= 2
        self.mask = size - 1
        for c in range(_ROOT):
            self.root[c] = -1
        self.keys = <unsigned long long *> calloc(size, sizeof(unsigned long long))
        self.child = <long long *> malloc(size * sizeof(long long))
        if self.keys == NULL or self.child == NULL:
            raise MemoryError()
        self.values = [None]
        words = [a for a in aliases if a]
        for alias in words:  # first letters first: the root's children are nodes 1..n_first
            self._add(0, (<str> alias)[0])
        self.n_first = len(self.values) - 1
        for alias in words:
            node = 0
            for c in <str> alias:
                node = self._add(node, c)
            self.values[node] = tuple(aliases[alias])
        self.ends = <char *> malloc(len(self.values))
        self.second = <int *> malloc((self.n_first * 128 + 1) * sizeof(int))
        if self.ends == NULL or self.second == NULL:
            raise MemoryError()
        for i in range(len(self.values)):
            self.ends[i] = self.values[i] is not None
        for node in range(1, self.n_first + 1):
            for i in range(128):
                self.second[(node - 1) * 128 + i] = <int> self._step(node, <Py_UCS4> i)

    def __dealloc__(self):
        free(self.keys)
        free(self.child)
        free(self.ends)
        free(self.second)

    cdef long long _add(self, long long node, Py_UCS4 c) except -1:
        """The child of ``node`` by ``c``, made when missing."""
        cdef long long nxt = self._step(node, c)
        if nxt < 0:
            nxt = len(self.values)
            self.values.append(None)
            self._insert(node, c, nxt)
        return nxt

    cdef inline unsigned long long _slot(self, unsigned long long key) noexcept nogil:
        return ((key * _MIX) >> 32) & self.mask

    cdef inline long long _step(self, long long node, Py_UCS4 c) noexcept:
        cdef unsigned long long key = ((<unsigned long long> node) << 21) | (<unsigned long long> c)
        cdef unsigned long long slot = self._slot(key)
        while self.keys[slot]:
            if self.keys[slot] == key + 1:
                return self.child[slot]
            slot = (slot + 1) & self.mask
        return -1

    cdef inline long long _next(self, long long node, Py_UCS4 c) noexcept:
        """``_step`` with the array reads for the first two steps."""
        if c < 128 and node <= self.n_first:
            if node == 0:
                return self.root[c]
            return self.second[(node - 1) * 128 + <Py_ssize_t> c]
        if node == 0 and c < _ROOT:
            return self.root[c]
        return self._step(node, c)

    cdef void _insert(self, long long node, Py_UCS4 c, long long nxt) noexcept:
        cdef unsigned long long key = ((<unsigned long long> node) << 21) | (<unsigned long long> c)
        cdef unsigned long long slot = self._slot(key)
        while self.keys[slot]:
            slot = (slot + 1) & self.mask
        self.keys[slot] = key + 1
        self.child[slot] = nxt
        if node == 0 and c < _ROOT:
            self.root[c] = <int> nxt

    def spans(self, str text):
        """``(start, end, label)`` of every hit, in text order (labels of
        one alias in its order), as the regex gives them."""
        cdef Py_ssize_t n = len(text), p = 0, q, end
        cdef long long node, best
        cdef list out = []
        cdef bint free_before = True  # no word character before p
        cdef Py_UCS4 c
        cdef int kind = PyUnicode_KIND(text)
        cdef void *data = PyUnicode_DATA(text)
        while p < n:
            c = PyUnicode_READ(kind, data, p)
            if free_before and (c >= _ROOT or self.root[c] >= 0):
                node = 0
                best = -1
                end = -1
                q = p
                while q < n:
                    c = PyUnicode_READ(kind, data, q)
                    node = self._next(node, c)
                    if node < 0:
                        break
                    q += 1
                    if self.ends[node] and (q == n or not _is_word(PyUnicode_READ(kind, data, q))):
                        best, end = node, q
                if best >= 0:
                    for label in <tuple> self.values[best]:
                        out.append((p, end, label))
                    p = end
                    c = PyUnicode_READ(kind, data, end - 1)
                    free_before = not _is_word(c)
                    continue
                c = PyUnicode_READ(kind, data, p)
            free_before = not _is_word(c)
            p += 1
        return out


cdef bint _ascending(list hits) except -1:
    """Strictly increasing ``(start, end, label)`` tuples: what ``sorted(set(hits))`` would leave as they are."""
    cdef Py_ssize_t i
    for i in range(1, len(hits)):
        if not (<tuple> hits[i - 1]) < (<tuple> hits[i]):
            return False
    return True


cdef class AliasIndex:
    """Both passes of an :class:`~newstag.text.aliases.AliasMatcher` (loose
    aliases on the folded, lower-cased text; ``exact`` ones on the folded
    text) with a memo of recent texts: one batch asks for the same fields
    twice (alias counts, then mention features).

    ``match(text)`` gives ``(hits, lowered)``: the matcher's ``spans(text)``
    (sorted unique ``(start, end, label)``) and the lowered text the mention
    features tokenise. Callers must not change the list (it is memoised)."""

    cdef AliasTrie loose, exact
    cdef object fold, lower
    cdef dict memo
    cdef Py_ssize_t limit
    cdef readonly bint joinable

    def __init__(self, dict loose, dict exact, object fold, object lower, Py_ssize_t limit=8192):
        self.loose, self.exact = AliasTrie(loose), AliasTrie(exact)
        self.fold, self.lower = fold, lower
        self.memo = {}
        self.limit = limit
        # no alias holds a line break: no hit crosses the breaks that join an
        # article's fields, so a joined text's hits are its fields' hits
        self.joinable = not any("\n" in a for a in loose) and not any("\n" in a for a in exact)

    cpdef tuple match(self, str text):
        cdef tuple done = self.memo.get(text)
        cdef list hits, extra
        if done is not None:
            return done
        folded, lowered = _fold_and_lower(text, self.fold, self.lower)
        hits = self.loose.spans(lowered)
        extra = self.exact.spans(folded)
        if extra or not _ascending(hits):  # an alias of several labels, or of both passes
            hits = sorted(set(hits + extra))
        if len(self.memo) >= self.limit:  # a few batches' fields: memory stays flat on streams
            self.memo.clear()
        done = self.memo[text] = (hits, lowered)
        return done

    def forget(self):
        self.memo.clear()

    def counts(self, list articles, bint title_separate, bint sublinear, Py_ssize_t n_labels):
        """``AliasMatcher.matrix``: alias counts per article (title and body
        columns apart, or one block), ``log1p`` when ``sublinear``. Each of
        the title, subtitle and text is matched on its own (and memoised
        for the mention features): the same counts as matching the joined
        body when ``joinable``, which the caller checks."""
        import numpy as np

        cdef Py_ssize_t row, part, i, offset
        cdef list hits
        cdef str field
        out_arr = np.zeros((len(articles), n_labels * (2 if title_separate else 1)))
        cdef double[:, ::1] out = out_arr
        for row in range(len(articles)):
            parts = _article_parts(articles[row])
            for part in range(3):
                field = parts[part]
                if not field:
                    continue
                offset = n_labels if (part and title_separate) else 0
                hits = <list> self.match(field)[0]
                for i in range(len(hits)):
                    out[row, offset + <Py_ssize_t> (<tuple> hits[i])[2]] += 1
        if sublinear:
            np.log1p(out_arr, out=out_arr)
        return out_arr


cdef inline str _part(article, str key):
    value = article.get(key, "") if isinstance(article, dict) else (article.get(key, "") if isinstance(article, Mapping) else getattr(article, key, ""))
    return value if isinstance(value, str) else ""


cdef tuple _article_parts(article):
    """(title, subtitle, text) as :func:`newstag.text.preparation.fields`
    reads them (a ``str`` is a body; a value that is not a ``str`` is empty)."""
    if isinstance(article, str):
        return ("", "", article)
    return (_part(article, "title"), _part(article, "subtitle"), _part(article, "text"))


# where a hit stands, as bits (MentionFeaturizer.candidates' ``where`` sets)
cdef enum:
    IN_TITLE = 1
    IN_SUBTITLE = 2
    IN_BODY = 4
    IN_QUOTE = 8
    IN_DATELINE = 16
    IN_LEDE = 32
    IN_LAST = 64
_PLACES = {"title": IN_TITLE, "subtitle": IN_SUBTITLE, "body": IN_BODY, "quote": IN_QUOTE, "dateline": IN_DATELINE, "lede": IN_LEDE, "last": IN_LAST}


cdef int _hit_places(int field, list quotes, list paragraphs, str text, Py_ssize_t start, Py_ssize_t end) except -1:
    """Where the hit at ``start:end`` of a field stands (``IN_*`` bits;
    ``field`` the field's own): in a quote, and for the body the dateline,
    the lede and the closing paragraph (``paragraphs``: the body's spans)."""
    cdef int where = field
    for q in quotes:
        if q[0] < start < q[1]:
            where |= IN_QUOTE
            break
    if field == IN_BODY:
        if start <= 40 and _is_dateline(text, start, end):  # (its own first test, without a call)
            where |= IN_DATELINE
        if paragraphs and start < paragraphs[0][1] and not (len(paragraphs) == 1 and start > 400):
            where |= IN_LEDE
        if len(paragraphs) >= 3 and start >= paragraphs[len(paragraphs) - 1][0]:
            where |= IN_LAST
    return where


def candidates(featurizer, article):
    """Port of ``MentionFeaturizer.candidates`` (same dicts, same key order);
    ``featurizer`` supplies the fields, alias spans, alias kinds and window."""
    cdef Py_ssize_t s, e, n, n_hits, total = 0, start, top = 0, c, window = featurizer.window
    cdef bint body
    # typed: Cython then calls the dict API directly, not attribute lookups
    cdef dict texts, counts, feats, positions, f, row
    cdef list by_field, hits, windows
    texts = mention_fields(article)
    matcher = featurizer.matcher
    by_field = []  # (name, text, [(start, end, actor, matched)])
    counts = {}
    for name, text in texts.items():
        if not text:
            continue
        hits = [(s, e, i, text[s:e]) for s, e, i in matcher.spans(text)]
        by_field.append((name, text, hits))
        for h in hits:
            counts[h[2]] = counts.get(h[2], 0) + 1
        total += len(hits)
    if total == 0:
        return {}
    for c in counts.values():
        if c > top:
            top = c
    feats = {}
    positions = {}
    kinds = {}
    for name, text, hits in by_field:
        n_hits = len(hits)
        if n_hits == 0:
            continue
        body = name == "body"
        quotes = quote_regions(text)
        paragraphs = paragraph_spans(text) if body else []
        lowered = matcher.lowered(text) if hasattr(matcher, "lowered") else _reference_fold_and_lower(text)[1]
        windows = hit_windows(lowered, [(h[0], h[1], h[2]) for h in hits], window)
        for n in range(n_hits):
            start = hits[n][0]
            actor = hits[n][2]
            f = feats.get(actor)
            if f is None:
                f = feats[actor] = {}
                positions[actor] = []
            for key in windows[n]:
                f[key] = f.get(key, 0) + 1
            places = _hit_places(_PLACES[name], quotes, paragraphs, text, start, hits[n][1])
            positions[actor].append({place for place, bit in _PLACES.items() if places & bit})
            key = "kind=" + featurizer._kind(hits[n][3])
            f[key] = f.get(key, 0) + 1
    labels = matcher.labels
    n_actors = len(counts)
    alone = 1.0 if n_actors == 1 else 0.0
    n_candidates = log1p(n_actors)
    headline_only = 1.0 if (not texts.get("body") and not texts.get("subtitle")) else 0.0
    out = {}
    for actor, f in feats.items():
        row = {k: log1p(v) for k, v in f.items()}
        wheres = positions[actor]
        for place in set().union(*wheres):
            row["in=" + place] = 1.0
        for only in ("dateline", "quote", "title"):
            if all(only in w for w in wheres):
                row["only=" + only] = 1.0
        c = counts[actor]
        row["hits"] = log1p(c)
        row["share"] = <double> c / <double> total
        row["top"] = 1.0 if c == top else 0.0
        row["alone"] = alone
        row["candidates"] = n_candidates
        row["headline_only"] = headline_only
        row["actor=" + labels[actor]] = 1.0
        out[actor] = row
    return out


# ------------------------------------------------------------ role margins
# ``candidates`` then ``score`` build every mention feature as a string, count
# it in a dict and look it up in the vocabulary: most of an actor model's
# time. ``role_margins`` computes the same margins from vocabulary ids:
# tokens are looked up once per window position in per-family tables, and
# (actor, feature) pairs are counted in C.


_SINGLES = ("hits", "share", "top", "alone", "candidates", "headline_only")


class UnknownFeature(ValueError):
    """A vocabulary name that :class:`RoleTables` cannot compute."""


cdef class RoleTables:
    """The candidate classifier's vocabulary split by feature family, so a
    window's token is looked up without building its feature name.
    Raises :class:`UnknownFeature` for a name outside the families that
    ``MentionFeaturizer`` produces (the caller then keeps the dict path)."""

    cdef dict l1, r1, w, l2, r2, kind
    cdef dict kinds  # matched alias text -> id of its kind= feature (-1: none), learnt as met
    cdef long long place_in[7]
    cdef long long only_dateline, only_quote, only_title
    cdef long long single[6]
    cdef list actor
    cdef readonly Py_ssize_t size

    def __init__(self, list vocabulary, list labels):
        cdef Py_ssize_t i
        self.l1, self.r1, self.w, self.l2, self.r2, self.kind = {}, {}, {}, {}, {}, {}
        self.kinds = {}
        for i in range(7):
            self.place_in[i] = -1
        for i in range(6):
            self.single[i] = -1
        self.only_dateline = self.only_quote = self.only_title = -1
        cdef dict flat = {"l1": self.l1, "r1": self.r1, "w": self.w, "kind": self.kind}
        cdef dict by_label = {}
        cdef str name, family, rest
        self.size = len(vocabulary)
        for i in range(self.size):
            name = vocabulary[i]
            family, eq, rest = name.partition("=")
            if not eq:
                if name not in _SINGLES:
                    raise UnknownFeature(name)
                self.single[_SINGLES.index(name)] = i
                continue
            table = flat.get(family)
            if table is not None:
                (<dict> table)[rest] = i
            elif family in ("l2", "r2"):
                first, space, second = rest.partition(" ")
                if not space or " " in second:
                    raise UnknownFeature(name)
                (self.l2 if family == "l2" else self.r2).setdefault(first, {})[second] = i
            elif family == "in" and rest in _PLACES:
                self.place_in[(<int> _PLACES[rest]).bit_length() - 1] = i
            elif family == "only" and rest in ("dateline", "quote", "title"):
                if rest == "dateline":
                    self.only_dateline = i
                elif rest == "quote":
                    self.only_quote = i
                else:
                    self.only_title = i
            elif family == "actor":
                by_label[rest] = i
            else:
                raise UnknownFeature(name)
        self.actor = [by_label.get(label, -1) for label in labels]

    cdef long long kind_id(self, featurizer, str matched) except -2:
        got = self.kinds.get(matched)
        if got is None:
            if len(self.kinds) > 10_000:  # bounded on endless streams
                self.kinds.clear()
            got = self.kinds[matched] = _id(self.kind, featurizer._kind(matched))
        return <long long> got


cdef inline long long _id(dict table, object key):
    got = table.get(key)
    return -1 if got is None else <long long> got


cdef inline long long _pair_id(dict table, object first, object second):
    inner = table.get(first)
    if inner is None:
        return -1
    return _id(<dict> inner, second)


cdef class _Pairs:
    """Counts of ``actor * size + feature`` codes: an open-addressing table
    (a few hundred codes an article; sized for all of them at half load)."""

    cdef long long *codes  # -1: empty
    cdef long long *counts
    cdef Py_ssize_t size

    def __cinit__(self, Py_ssize_t most):
        cdef Py_ssize_t i
        self.size = 16
        while self.size < 2 * most:
            self.size *= 2
        self.codes = <long long *> malloc(self.size * sizeof(long long))
        self.counts = <long long *> calloc(self.size, sizeof(long long))
        if self.codes == NULL or self.counts == NULL:
            raise MemoryError()
        for i in range(self.size):
            self.codes[i] = -1

    def __dealloc__(self):
        free(self.codes)
        free(self.counts)

    cdef inline void add(self, long long code) noexcept:
        cdef Py_ssize_t slot = <Py_ssize_t> (((<unsigned long long> code) * _MIX) >> 32) & (self.size - 1)
        while self.codes[slot] >= 0 and self.codes[slot] != code:
            slot = (slot + 1) & (self.size - 1)
        self.codes[slot] = code
        self.counts[slot] += 1


cdef inline object _token(str lowered, _Field field, list actors, Py_ssize_t m, object actor, list words):
    return _masked(lowered, field.starts, field.ends, actors, field.seq[m], actor, words, m)


cdef int _window_pairs(str lowered, _Field field, list actors, Py_ssize_t a, Py_ssize_t window, RoleTables t, long long base, _Pairs pairs, long long *seen) except -1:
    """The context features of the hit placed at ``seq[a]`` (the keys
    ``hit_windows`` builds), as vocabulary ids added to ``pairs`` with
    ``base`` (the counted actor's offset); unknown ones are dropped.
    ``seen``: room for ``2 * window`` ids."""
    cdef Py_ssize_t m, lo, hi, k, n_w = 0
    cdef long long got
    cdef bint dup
    cdef list words = field.words
    actor = actors[-1 - field.seq[a]]
    lo = a - window if a - window > 0 else 0
    hi = a + 1 + window if a + 1 + window < field.n_seq else field.n_seq
    if a > lo:
        last = _token(lowered, field, actors, a - 1, actor, words)
        got = _id(t.l1, last)
        if a - 1 > lo:
            got2 = _pair_id(t.l2, _token(lowered, field, actors, a - 2, actor, words), last)
            if got2 >= 0:
                pairs.add(base + got2)
    else:
        got = _id(t.l1, "^")
    if got >= 0:
        pairs.add(base + got)
    if hi > a + 1:
        first = _token(lowered, field, actors, a + 1, actor, words)
        got = _id(t.r1, first)
        if hi > a + 2:
            got2 = _pair_id(t.r2, first, _token(lowered, field, actors, a + 2, actor, words))
            if got2 >= 0:
                pairs.add(base + got2)
    else:
        got = _id(t.r1, "$")
    if got >= 0:
        pairs.add(base + got)
    for m in range(lo, hi):  # w=: each distinct word of the window once, punctuation aside
        if m == a:
            continue
        tok = _token(lowered, field, actors, m, actor, words)
        if len(<str> tok) == 1 and _is_token_punct((<str> tok)[0]):
            continue
        got = _id(t.w, tok)
        if got < 0:
            continue
        dup = False
        for k in range(n_w):
            if seen[k] == got:
                dup = True
                break
        if not dup:
            seen[n_w] = got
            n_w += 1
            pairs.add(base + got)
    return 0


def role_margins(featurizer, article, RoleTables t, const double[::1] coef, double intercept):
    """``{actor: margin}`` of the candidate classifier for every actor with
    a hit: what ``score(candidates(article)[actor], ...)`` gives (to
    rounding: the terms are summed in vocabulary order), without building
    the feature dicts. ``featurizer`` supplies the fields, alias spans,
    alias kinds and window, as for :func:`candidates`."""
    cdef Py_ssize_t n, i, n_hits, total = 0, top = 0, window = featurizer.window, n_labels, start, a, k
    cdef Py_ssize_t n_actors = 0
    cdef long long code, size = t.size, got, actor
    cdef int where, places
    cdef double value
    cdef list by_field = [], hits
    cdef _Field field
    cdef _Pairs pairs
    cdef long long *seen = NULL
    cdef long long *count = NULL
    cdef int *any_place = NULL
    cdef int *all_places = NULL
    cdef double *z = NULL
    cdef AliasIndex index = featurizer.matcher.index
    texts = mention_fields(article)
    for name, text in texts.items():
        if text:
            hits, lowered = index.match(text)
            by_field.append((name, text, hits, lowered))
            total += len(hits)
    if total == 0:
        return {}
    labels = featurizer.matcher.labels
    n_labels = len(labels)
    pairs = _Pairs(total * (4 + 2 * window + 1))  # every hit's window and kind, at most
    seen = <long long *> malloc((2 * window + 1) * sizeof(long long))
    count = <long long *> calloc(n_labels, sizeof(long long))
    any_place = <int *> calloc(n_labels, sizeof(int))
    all_places = <int *> malloc(n_labels * sizeof(int))
    z = <double *> malloc(n_labels * sizeof(double))
    try:
        if seen == NULL or count == NULL or any_place == NULL or all_places == NULL or z == NULL:
            raise MemoryError()
        for i in range(n_labels):
            all_places[i] = 0x7F
            z[i] = intercept
        for name, text, hits, lowered in by_field:
            n_hits = len(hits)
            if n_hits == 0:
                continue
            places = _PLACES[name]
            body = places == IN_BODY
            quotes = quote_regions(text)
            paragraphs = paragraph_spans(text) if body else []
            field = _Field(lowered, hits)
            actors = [h[2] for h in hits]
            for n in range(n_hits):
                start = hits[n][0]
                actor = hits[n][2]
                count[actor] += 1
                a = field.at[n]
                if a >= 0:
                    _window_pairs(lowered, field, actors, a, window, t, actor * size, pairs, seen)
                where = _hit_places(places, quotes, paragraphs, text, start, hits[n][1])
                any_place[actor] |= where
                all_places[actor] &= where
                got = t.kind_id(featurizer, text[start:hits[n][1]])
                if got >= 0:
                    pairs.add(actor * size + got)
        # counted features: log1p(count) each
        for i in range(pairs.size):
            code = pairs.codes[i]
            if code >= 0:
                z[code // size] += coef[code % size] * log1p(<double> pairs.counts[i])
        for i in range(n_labels):
            if count[i]:
                n_actors += 1
                if count[i] > top:
                    top = count[i]
        headline_only = 1.0 if (not texts.get("body") and not texts.get("subtitle")) else 0.0
        out = {}
        for i in range(n_labels):
            if not count[i]:
                continue
            for k in range(7):
                if any_place[i] & (1 << k) and t.place_in[k] >= 0:
                    z[i] += coef[t.place_in[k]]
            if all_places[i] & IN_DATELINE and t.only_dateline >= 0:
                z[i] += coef[t.only_dateline]
            if all_places[i] & IN_QUOTE and t.only_quote >= 0:
                z[i] += coef[t.only_quote]
            if all_places[i] & IN_TITLE and t.only_title >= 0:
                z[i] += coef[t.only_title]
            for k, value in enumerate((log1p(count[i]), <double> count[i] / <double> total, 1.0 if count[i] == top else 0.0, 1.0 if n_actors == 1 else 0.0, log1p(n_actors), headline_only)):
                if t.single[k] >= 0:
                    z[i] += coef[t.single[k]] * value
            got = t.actor[i]
            if got >= 0:
                z[i] += coef[got]
            out[i] = z[i]
        return out
    finally:
        free(seen)
        free(count)
        free(any_place)
        free(all_places)
        free(z)


# ------------------------------------------------------------ TF-IDF blocks
# Ports of the per-word analysis of ``newstag.engine.compact._Tfidf``
# (``_char_wb``, ``_tokens``) and of its word n-gram -> column mapping
# (``_word``): same hashes, same open-addressing probes over the same
# ``_Lookup`` arrays, same output order.

cdef unsigned long long _MIX = 0x9E3779B97F4A7C15ULL
cdef unsigned long long _BASE = 1000003ULL


cdef class Probe:
    """A read-only view of one ``compact._Lookup`` table, probed as its
    ``__call__`` does (linear probing, at most ``rounds`` slots, an empty
    slot ends the probe)."""

    cdef const unsigned long long[::1] keys
    cdef const long long[::1] values
    cdef unsigned long long mask
    cdef int shift, rounds

    def __init__(self, keys, values, int shift, unsigned long long mask, int rounds):
        self.keys = keys
        self.values = values
        self.shift = shift
        self.mask = mask
        self.rounds = rounds

    cdef inline long long find(self, unsigned long long q) noexcept nogil:
        cdef unsigned long long home = (q * _MIX) >> self.shift
        cdef unsigned long long slot
        cdef long long v
        cdef int p
        for p in range(self.rounds):
            slot = (home + <unsigned long long> p) & self.mask
            v = self.values[slot]
            if v < 0:
                return -1
            if self.keys[slot] == q:
                return v
        return -1


def char_wb_columns(list words, int lo, int hi, list probes):
    """(word, column) of every known ``char_wb`` n-gram of each word, in
    ``_char_wb``'s order after ``_Rows.append``: word by word, then by n,
    then by position. An n-gram of ``" " + word + " "`` of length n in
    ``[max(lo, 2), hi]`` with no space but at its ends is hashed as
    ``h = h * 1000003 + code`` (mod 2**64) and looked up in ``probes[n]``
    (a :class:`Probe` or ``None``)."""
    import numpy as np

    cdef Py_ssize_t w, i, k, L, n_words = len(words), total = 0, n_out = 0
    cdef int n, first = lo if lo > 2 else 2
    cdef unsigned long long h
    cdef long long col
    cdef str word
    cdef Py_UCS4 *codes
    cdef Probe probe
    cdef bint bad
    for w in range(n_words):
        L = len(<str> words[w]) + 2
        for n in range(first, hi + 1):
            if L >= n:
                total += L - n + 1
    rows_arr = np.empty(total, dtype=np.int64)
    cols_arr = np.empty(total, dtype=np.int64)
    cdef long long[::1] rows = rows_arr
    cdef long long[::1] cols = cols_arr
    cdef Py_ssize_t longest = 0
    for w in range(n_words):
        if len(<str> words[w]) > longest:
            longest = len(<str> words[w])
    codes = <Py_UCS4 *> malloc((longest + 2) * sizeof(Py_UCS4))
    if codes == NULL:
        raise MemoryError()
    try:
        for w in range(n_words):
            word = words[w]
            L = len(word) + 2
            codes[0] = 32
            for i in range(L - 2):
                codes[i + 1] = word[i]
            codes[L - 1] = 32
            for n in range(first, hi + 1):
                if L < n or probes[n] is None:
                    continue
                probe = probes[n]
                for i in range(L - n + 1):
                    h = <unsigned long long> codes[i]
                    bad = False
                    for k in range(i + 1, i + n):
                        if k < i + n - 1 and codes[k] == 32:  # a space inside: crosses a word
                            bad = True
                            break
                        h = h * _BASE + <unsigned long long> codes[k]
                    if bad:
                        continue
                    col = probe.find(h)
                    if col >= 0:
                        rows[n_out] = w
                        cols[n_out] = col
                        n_out += 1
    finally:
        free(codes)
    return rows_arr[:n_out], cols_arr[:n_out]


def word_tokens(list words, dict token_ids):
    """(word, token id) of each token of each word, in order: port of
    ``_tokens`` for the default token pattern ``(?u)\\b\\w\\w+\\b``, whose
    matches are the maximal runs of two or more ``\\w`` characters. A token
    outside ``token_ids`` gets ``-1``."""
    import numpy as np

    cdef Py_ssize_t w, i, j, n, n_words = len(words), total = 0, n_out = 0
    cdef str word
    for w in range(n_words):
        total += len(<str> words[w]) // 2 + 1
    rows_arr = np.empty(total, dtype=np.int64)
    ids_arr = np.empty(total, dtype=np.int64)
    cdef long long[::1] rows = rows_arr
    cdef long long[::1] ids = ids_arr
    for w in range(n_words):
        word = words[w]
        n = len(word)
        i = 0
        while i < n:
            if not _is_word(word[i]):
                i += 1
                continue
            j = i + 1
            while j < n and _is_word(word[j]):
                j += 1
            if j - i >= 2:
                rows[n_out] = w
                ids[n_out] = token_ids.get(word[i:j], -1)
                n_out += 1
            i = j
    return rows_arr[:n_out], ids_arr[:n_out]


def word_columns(const int[::1] occurrence_ids, const long long[::1] occurrence_doc, const long long[::1] first,
                 const long long[::1] n_tokens, const int[::1] token_ids, unsigned long long base, int lo, int hi, list probes):
    """(document, column) of every known word n-gram: port of ``_word``.

    The documents' token ids are their words' tokens in order, stop words
    (``-2``) dropped; an n-gram is a run of ``n`` ids within one document,
    none ``-1`` (out of the vocabulary), keyed as the digits ``id + 1`` in
    base ``base``. Output order is ``_word``'s: by n, then by position."""
    import numpy as np

    cdef Py_ssize_t o, t, m = 0, i, k, n_occ = occurrence_ids.shape[0], n_out = 0, total
    cdef int n, word
    cdef long long tok
    cdef unsigned long long h
    cdef long long col
    cdef Probe probe
    cdef bint ok
    total = 0
    for o in range(n_occ):
        total += n_tokens[occurrence_ids[o]]
    seq_arr = np.empty(total, dtype=np.int64)
    doc_arr = np.empty(total, dtype=np.int64)
    cdef long long[::1] seq = seq_arr
    cdef long long[::1] doc = doc_arr
    for o in range(n_occ):
        word = occurrence_ids[o]
        for t in range(first[word], first[word] + n_tokens[word]):
            tok = token_ids[t]
            if tok != -2:
                seq[m] = tok
                doc[m] = occurrence_doc[o]
                m += 1
    out_doc_arr = np.empty(m * (hi if hi > 0 else 0), dtype=np.int64)
    out_col_arr = np.empty(m * (hi if hi > 0 else 0), dtype=np.int64)
    cdef long long[::1] out_doc = out_doc_arr
    cdef long long[::1] out_col = out_col_arr
    for n in range(lo if lo > 1 else 1, hi + 1):
        if n >= len(probes) or probes[n] is None:
            continue
        probe = probes[n]
        for i in range(m - n + 1):
            h = 0
            ok = True
            for k in range(i, i + n):
                if seq[k] < 0 or doc[k] != doc[i]:
                    ok = False
                    break
                h = h * base + <unsigned long long> (seq[k] + 1)
            if not ok:
                continue
            col = probe.find(h)
            if col >= 0:
                out_doc[n_out] = doc[i]
                out_col[n_out] = col
                n_out += 1
    return out_doc_arr[:n_out], out_col_arr[:n_out]


# --------------------------------------------------------- text preparation


cdef inline Py_UCS4 _fold_one(Py_UCS4 c, object table) except? 0x110000:
    if c < 128:
        return 39 if c == 96 else c  # "`" is the one ASCII character folding changes
    return ord(table[<long> c])


cdef inline Py_UCS4 _lower_one(Py_UCS4 c, object table) except? 0x110000:
    if c < 128:
        return <Py_UCS4> (<unsigned int> c + 32) if 65 <= c <= 90 else c
    return ord(table[<long> c])


def fold_and_lower(str text, object fold, object lower):
    """``(text.translate(fold), text.translate(fold).translate(lower))``
    (see :func:`_fold_and_lower`)."""
    return _fold_and_lower(text, fold, lower)


# fold and fold-then-lower of the 256 Latin-1 code points, for the tables
# they were read from (``_FOLD1_FOR``, ``_LOWER1_FOR``): most news text is
# stored one byte per character, and its pass then needs no Python lookup
# and no UCS-4 copy
cdef object _FOLD1_FOR = None
cdef object _LOWER1_FOR = None
cdef Py_UCS4 _FOLD1[256]
cdef Py_UCS4 _FOLD_LOWER1[256]


cdef int _latin1_tables(object fold, object lower) except -1:
    global _FOLD1_FOR, _LOWER1_FOR
    cdef Py_UCS4 c
    if _FOLD1_FOR is not fold:
        for c in range(256):
            _FOLD1[c] = _fold_one(c, fold)
        _FOLD1_FOR, _LOWER1_FOR = fold, None
    if lower is not None and _LOWER1_FOR is not lower:
        for c in range(256):
            _FOLD_LOWER1[c] = _lower_one(_FOLD1[c], lower)
        _LOWER1_FOR = lower
    return 0


cdef object _folded_results(str text, int kind, Py_ssize_t n, const void *folded, bint changed_fold, const void *lowered, bint changed_lower):
    """What :func:`_fold_and_lower` returns from its buffers (of ``kind``):
    the folded text, and the lowered one unless ``lowered`` is NULL; an
    unchanged text is returned as it is."""
    out = text if not changed_fold else PyUnicode_FromKindAndData(kind, folded, n)
    if lowered == NULL:
        return out
    return out, (out if not changed_lower else PyUnicode_FromKindAndData(kind, lowered, n))


cdef object _fold_and_lower_latin1(str text, object fold, object lower):
    """:func:`_fold_and_lower` for a one-byte string whose folded (and
    lowered) characters all stay one byte; ``None`` when one does not."""
    cdef Py_ssize_t i, n = len(text)
    cdef const unsigned char *src = <const unsigned char *> PyUnicode_DATA(text)
    cdef unsigned char *folded
    cdef unsigned char *lowered = NULL
    cdef Py_UCS4 f, l
    cdef bint changed_fold = False, changed_lower = False, want_lower = lower is not None
    _latin1_tables(fold, lower)
    folded = <unsigned char *> malloc(n + 1)
    if want_lower:
        lowered = <unsigned char *> malloc(n + 1)
    try:
        if folded == NULL or (want_lower and lowered == NULL):
            raise MemoryError()
        for i in range(n):
            f = _FOLD1[src[i]]
            if f > 255:
                return None
            folded[i] = <unsigned char> f
            changed_fold |= f != src[i]
            if want_lower:
                l = _FOLD_LOWER1[src[i]]
                if l > 255:
                    return None
                lowered[i] = <unsigned char> l
                changed_lower |= l != f
        return _folded_results(text, PyUnicode_1BYTE_KIND, n, folded, changed_fold, lowered if want_lower else NULL, changed_lower)
    finally:
        free(folded)
        free(lowered)


cdef object _fold_and_lower(str text, object fold, object lower):
    """``(text.translate(fold), text.translate(fold).translate(lower))``
    in one pass, for the one-to-one tables of :mod:`newstag.text.preparation`
    (``_FOLD``, ``_LOWER``: dicts that fill themselves; ASCII is mapped here
    without them). The reference is
    :func:`newstag.text.preparation.fold_and_lower`; ``lower`` may be
    ``None`` for the folded text alone (:func:`~newstag.text.preparation.fold_accents`)."""
    cdef Py_ssize_t i, n = len(text)
    cdef Py_UCS4 c, f
    cdef Py_UCS4 *folded
    cdef Py_UCS4 *lowered = NULL
    cdef bint changed_fold = False, changed_lower = False, want_lower = lower is not None
    cdef int kind
    cdef void *data
    if PyUnicode_KIND(text) == PyUnicode_1BYTE_KIND:
        done = _fold_and_lower_latin1(text, fold, lower)
        if done is not None:
            return done
    folded = <Py_UCS4 *> malloc((n + 1) * sizeof(Py_UCS4))
    if folded == NULL:
        raise MemoryError()
    try:
        if want_lower:
            lowered = <Py_UCS4 *> malloc((n + 1) * sizeof(Py_UCS4))
            if lowered == NULL:
                raise MemoryError()
        kind = PyUnicode_KIND(text)
        data = PyUnicode_DATA(text)
        for i in range(n):
            c = PyUnicode_READ(kind, data, i)
            f = _fold_one(c, fold)
            folded[i] = f
            changed_fold |= f != c
            if want_lower:
                lowered[i] = _lower_one(f, lower)
                changed_lower |= lowered[i] != f
        return _folded_results(text, PyUnicode_4BYTE_KIND, n, folded, changed_fold, lowered if want_lower else NULL, changed_lower)
    finally:
        free(folded)
        free(lowered)


cdef bint _ASCII_SPACE[128]
for _c in range(128):
    _ASCII_SPACE[_c] = chr(_c).isspace()


cdef inline bint _is_space(Py_UCS4 c):
    """``str.split()``'s separators."""
    if c < 128:
        return _ASCII_SPACE[c]
    return Py_UNICODE_ISSPACE(c)


cdef class WordTable:
    """The word cache's numbering without a ``str`` per word occurrence:
    :meth:`split` hashes each word where it stands in the document and
    looks the hash up here; only a word new to the cache is sliced out (and
    appended to ``words``). A hash match is confirmed character by character
    against ``words``, so two words never share an id."""

    cdef unsigned long long *hashes
    cdef int *ids  # -1: empty slot
    cdef Py_ssize_t cap, n

    def __cinit__(self):
        self.cap = 0
        self.n = 0
        self.hashes = NULL
        self.ids = NULL
        self._grow(1 << 12)

    def __dealloc__(self):
        free(self.hashes)
        free(self.ids)

    cdef int _grow(self, Py_ssize_t cap) except -1:
        cdef unsigned long long *old_hashes = self.hashes
        cdef int *old_ids = self.ids
        cdef Py_ssize_t old_cap = self.cap, i
        self.hashes = <unsigned long long *> malloc(cap * sizeof(unsigned long long))
        self.ids = <int *> malloc(cap * sizeof(int))
        if self.hashes == NULL or self.ids == NULL:
            raise MemoryError()
        self.cap = cap
        for i in range(cap):
            self.ids[i] = -1
        for i in range(old_cap):
            if old_ids[i] >= 0:
                self._place(old_hashes[i], old_ids[i])
        free(old_hashes)
        free(old_ids)
        return 0

    cdef inline void _place(self, unsigned long long h, int word) noexcept:
        cdef Py_ssize_t slot = <Py_ssize_t> ((h * _MIX) >> 32) & (self.cap - 1)
        while self.ids[slot] >= 0:
            slot = (slot + 1) & (self.cap - 1)
        self.hashes[slot] = h
        self.ids[slot] = word

    cdef int _find(self, unsigned long long h, str doc, Py_ssize_t a, Py_ssize_t b, list words) except -2:
        """The id of ``doc[a:b]``, or -1."""
        cdef Py_ssize_t slot = <Py_ssize_t> ((h * _MIX) >> 32) & (self.cap - 1), i
        cdef int word
        cdef str known
        cdef int kind = PyUnicode_KIND(doc), known_kind
        cdef void *data = PyUnicode_DATA(doc)
        cdef void *known_data
        while self.ids[slot] >= 0:
            if self.hashes[slot] == h:
                word = self.ids[slot]
                known = words[word]
                if len(known) == b - a:
                    known_kind = PyUnicode_KIND(known)
                    known_data = PyUnicode_DATA(known)
                    for i in range(b - a):
                        if PyUnicode_READ(known_kind, known_data, i) != PyUnicode_READ(kind, data, a + i):
                            break
                    else:
                        return word
            slot = (slot + 1) & (self.cap - 1)
        return -1

    def split(self, list docs, list words):
        """Port of ``compact._WordCache.split``'s numbering (``str.split()``
        words; a new word numbered next, first occurrence first; ``words``
        the cache's list, which this table indexes). Returns (ids per
        occurrence as int32, words per document as int64)."""
        import numpy as np

        cdef Py_ssize_t d, n_docs = len(docs), m = 0, bound = 0, i, n, start, count
        cdef unsigned long long h
        cdef int word
        cdef str doc
        cdef Py_UCS4 c
        cdef int kind
        cdef void *data
        for d in range(n_docs):
            bound += len(<str> docs[d]) // 2 + 1
        lengths_arr = np.empty(n_docs, dtype=np.int64)
        ids_arr = np.empty(bound, dtype=np.int32)
        cdef long long[::1] lengths = lengths_arr
        cdef int[::1] ids = ids_arr
        for d in range(n_docs):
            doc = docs[d]
            n = len(doc)
            kind = PyUnicode_KIND(doc)
            data = PyUnicode_DATA(doc)
            i = 0
            count = 0
            while i < n:
                c = PyUnicode_READ(kind, data, i)
                if _is_space(c):
                    i += 1
                    continue
                start = i
                h = 1469598103934665603ULL
                while i < n:
                    c = PyUnicode_READ(kind, data, i)
                    if _is_space(c):
                        break
                    h = (h ^ <unsigned long long> c) * 1099511628211ULL
                    i += 1
                word = self._find(h, doc, start, i, words)
                if word < 0:
                    word = <int> len(words)
                    words.append(doc[start:i])
                    if 2 * (self.n + 1) > self.cap:
                        self._grow(2 * self.cap)
                    self._place(h, word)
                    self.n += 1
                ids[m] = word
                m += 1
                count += 1
            lengths[d] = count
        return ids_arr[:m], lengths_arr


def tfidf_values(const int[::1] indptr, const double[::1] counts, const int[::1] indices, const float[::1] idf, const float[::1] log_table):
    """Port of ``compact._tfidf``'s arithmetic for float32 blocks: each
    count ``c`` becomes ``log_table[c - 1]`` (numpy's ``log(c) + 1``, made by
    the caller with numpy; empty for raw counts) times the column's IDF,
    then rows are divided by their L2 norm, summed in float64 in entry order
    as ``np.bincount`` does. Returns the float32 values, or ``None`` when a
    count is not an integer the table covers (the caller uses numpy)."""
    import numpy as np

    cdef Py_ssize_t r, j, n_rows = indptr.shape[0] - 1, n_table = log_table.shape[0]
    cdef bint sublinear = n_table > 0
    cdef double c, total
    cdef float v, norm
    cdef long long k
    out_arr = np.empty(counts.shape[0], dtype=np.float32)
    cdef float[::1] out = out_arr
    for r in range(n_rows):
        total = 0.0
        for j in range(indptr[r], indptr[r + 1]):
            c = counts[j]
            if sublinear:
                k = <long long> c
                if <double> k != c or k < 1 or k > n_table:
                    return None
                v = log_table[k - 1]
            else:
                v = <float> c
            v = v * idf[indices[j]]
            out[j] = v
            total += <double> v * <double> v
        norm = <float> sqrt(total)
        for j in range(indptr[r], indptr[r + 1]):
            out[j] = out[j] / norm
    return out_arr


# ------------------------------------------------- sparse arithmetic (no scipy)
# The compiled engine passes its blocks as three CSR arrays instead of scipy
# matrices: importing scipy.sparse costs about 0.4 s of a cold start, and
# building and checking a scipy matrix about a millisecond per call, which a
# one-article request pays several times. Each kernel does the arithmetic
# scipy's sparsetools does, in the same order, so the numbers are the same.


def occurrence_counts(const long long[::1] lengths, const int[::1] ids, const int[::1] b_indptr, const int[::1] b_indices, int[:, ::1] scratch):
    """Documents x columns counts from each document's word ids
    (``lengths[i]`` consecutive entries of ``ids``) and each word's columns
    (row ``w`` of the CSR pattern ``b_indptr``/``b_indices``): the product
    ``occurrences @ words`` as scipy's ``csr_matmat`` computes it, columns of
    a row in the order it emits them (last first seen first). Returns
    ``(indptr, indices, data)``: int32, int32, float64 counts.

    ``scratch``: the caller's, one row per column, ``[next, count]`` all
    ``[-1, 0]`` (and left so): allocating it per call would cost more than
    the product on one article, and both halves of a column share a cache
    line (the columns touched are scattered over the whole vocabulary).
    The outputs are views of arrays sized for the worst case, whose unused
    tail is never written (so never paged in)."""
    import numpy as np

    cdef Py_ssize_t n_docs = lengths.shape[0], n_words = b_indptr.shape[0] - 1, i, jj, kk, j, k, head, length, nnz = 0, pos = 0, cap = 0, longest = 0, n_distinct, d
    cdef int times
    for jj in range(ids.shape[0]):
        cap += b_indptr[ids[jj] + 1] - b_indptr[ids[jj]]
    for i in range(n_docs):
        longest = max(longest, lengths[i])
    indptr_arr = np.zeros(n_docs + 1, dtype=np.int32)
    indices_arr = np.empty(cap, dtype=np.int32)
    data_arr = np.empty(cap, dtype=np.float64)
    cdef int[::1] indptr = indptr_arr
    cdef int[::1] indices = indices_arr
    cdef double[::1] data = data_arr
    cdef int *cell
    # a word's occurrences in a document are added at once, at its first:
    # the columns are first seen in the same order (a repeat brings none new)
    cdef int *multiplicity = <int *> calloc(n_words + 1, sizeof(int))
    cdef int *distinct = <int *> malloc((longest + 1) * sizeof(int))
    if multiplicity == NULL or distinct == NULL:
        free(multiplicity)
        free(distinct)
        raise MemoryError()
    with nogil:
        for i in range(n_docs):
            n_distinct = 0
            for jj in range(pos, pos + lengths[i]):
                j = ids[jj]
                if multiplicity[j] == 0:
                    distinct[n_distinct] = <int> j
                    n_distinct += 1
                multiplicity[j] += 1
            pos += lengths[i]
            head = -2
            length = 0
            for d in range(n_distinct):
                j = distinct[d]
                times = multiplicity[j]
                multiplicity[j] = 0
                for kk in range(b_indptr[j], b_indptr[j + 1]):
                    k = b_indices[kk]
                    cell = &scratch[k, 0]
                    cell[1] += times
                    if cell[0] == -1:
                        cell[0] = <int> head
                        head = k
                        length += 1
            for jj in range(length):
                cell = &scratch[head, 0]
                if cell[1] != 0:
                    indices[nnz] = <int> head
                    data[nnz] = <double> cell[1]
                    nnz += 1
                head = cell[0]
                cell[0] = -1
                cell[1] = 0
            indptr[i + 1] = <int> nnz
    free(multiplicity)
    free(distinct)
    return indptr_arr, indices_arr[:nnz], data_arr[:nnz]


cdef extern from *:
    """
    /* X @ W, the rows of X in CSR form, W dense (float or double), into
       ``out`` (float64, zeroed). Each entry adds value x its W row to its
       output row, in entry order: scipy's csr_matvecs. The W rows are
       scattered over tens of MB, so the row NEWSTAG_AHEAD entries on is
       prefetched and its cache misses overlap the arithmetic. GCC compiles
       an AVX2 copy beside the baseline one and picks at load time (the
       sums per column are the same: the vector lanes are columns). */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define NEWSTAG_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define NEWSTAG_CLONES
    #endif
    #define NEWSTAG_AHEAD 8  /* entries: min time at 8 to 24 for both float32 and float64 heads */
    #define NEWSTAG_CSR_DENSE(NAME, V, T) \
    static NEWSTAG_CLONES void NAME(const int *indptr, const int *indices, const V *data, \
                                    const T *dense, Py_ssize_t n_rows, Py_ssize_t n_cols, double *out) { \
        Py_ssize_t nnz = indptr[n_rows], line = 64 / (Py_ssize_t) sizeof(T); \
        for (Py_ssize_t i = 0; i < n_rows; i++) { \
            double *restrict acc = out + i * n_cols; \
            for (Py_ssize_t jj = indptr[i]; jj < indptr[i + 1]; jj++) { \
                if (jj + NEWSTAG_AHEAD < nnz) { \
                    const T *ahead = dense + (Py_ssize_t) indices[jj + NEWSTAG_AHEAD] * n_cols; \
                    for (Py_ssize_t k = 0; k < n_cols; k += line) __builtin_prefetch(ahead + k, 0, 1); \
                    __builtin_prefetch(ahead + n_cols - 1, 0, 1); \
                } \
                const double a = (double) data[jj]; \
                const T *restrict row = dense + (Py_ssize_t) indices[jj] * n_cols; \
                for (Py_ssize_t k = 0; k < n_cols; k++) acc[k] += a * (double) row[k]; \
            } \
        } \
    }
    NEWSTAG_CSR_DENSE(newstag_csr_dense_ff, float, float)
    NEWSTAG_CSR_DENSE(newstag_csr_dense_fd, float, double)
    NEWSTAG_CSR_DENSE(newstag_csr_dense_df, double, float)
    NEWSTAG_CSR_DENSE(newstag_csr_dense_dd, double, double)
    """
    void newstag_csr_dense_ff(const int *indptr, const int *indices, const float *data, const float *dense, Py_ssize_t n_rows, Py_ssize_t n_cols, double *out) noexcept nogil
    void newstag_csr_dense_fd(const int *indptr, const int *indices, const float *data, const double *dense, Py_ssize_t n_rows, Py_ssize_t n_cols, double *out) noexcept nogil
    void newstag_csr_dense_df(const int *indptr, const int *indices, const double *data, const float *dense, Py_ssize_t n_rows, Py_ssize_t n_cols, double *out) noexcept nogil
    void newstag_csr_dense_dd(const int *indptr, const int *indices, const double *data, const double *dense, Py_ssize_t n_rows, Py_ssize_t n_cols, double *out) noexcept nogil


ctypedef fused value_t:
    float
    double


ctypedef fused weight_t:
    float
    double


def csr_dense(const int[::1] indptr, const int[::1] indices, const value_t[::1] data, const weight_t[:, ::1] dense):
    """``X @ dense`` for the CSR matrix ``X``: scipy's ``csr_matvecs``
    (each row accumulates value x dense row, entry by entry, into zeros) in
    float64. Returns a new C-ordered float64 array. The values (TF-IDF
    blocks: float32) and ``dense`` (a model's stored heads: float32) may be
    float32: each is widened to float64 before it is multiplied, so the
    sums are those of ``X.astype(float64) @ dense.astype(float64)``, as
    scipy computes a float32 matrix times a float64 one."""
    import numpy as np

    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, n_cols = dense.shape[1]
    out_arr = np.zeros((n_rows, n_cols), dtype=np.float64)
    cdef double[:, ::1] out = out_arr
    if n_rows == 0 or n_cols == 0 or indptr[n_rows] == 0:
        return out_arr
    with nogil:
        if value_t is float and weight_t is float:
            newstag_csr_dense_ff(&indptr[0], &indices[0], &data[0], &dense[0, 0], n_rows, n_cols, &out[0, 0])
        elif value_t is float:
            newstag_csr_dense_fd(&indptr[0], &indices[0], &data[0], &dense[0, 0], n_rows, n_cols, &out[0, 0])
        elif weight_t is float:
            newstag_csr_dense_df(&indptr[0], &indices[0], &data[0], &dense[0, 0], n_rows, n_cols, &out[0, 0])
        else:
            newstag_csr_dense_dd(&indptr[0], &indices[0], &data[0], &dense[0, 0], n_rows, n_cols, &out[0, 0])
    return out_arr


# ------------------------------------------------------------ load time
# What a model builds from its stored arrays when it loads (a third of a
# CLI cold start in numpy): the n-gram hash tables and the word index.


def fill_table(const unsigned long long[::1] keys, const long long[::1] values, unsigned long long[::1] table_keys, long long[::1] table_values, int shift, unsigned long long mask):
    """Insert ``keys`` -> ``values`` into an empty ``compact._Lookup`` table
    (``table_values`` all ``-1``) by linear probing from each key's
    Fibonacci home; returns the longest probe (``rounds``).

    The same contract as the numpy build (every key reachable from its home
    without crossing an empty slot), so lookups answer the same; only the
    slots of keys that collide may differ, which no reader depends on."""
    cdef Py_ssize_t i, n = keys.shape[0]
    cdef unsigned long long home, slot
    cdef long long rounds = 0, p
    with nogil:
        for i in range(n):
            home = (keys[i] * _MIX) >> shift
            p = 0
            while True:
                slot = (home + <unsigned long long> p) & mask
                if table_values[slot] < 0:
                    break
                p += 1
            table_keys[slot] = keys[i]
            table_values[slot] = values[i]
            if p + 1 > rounds:
                rounds = p + 1
    return rounds


def word_index(list terms, stop_words):
    """Port of the first half of ``compact._Index.word``: the token ids of
    a word vocabulary (first seen first; stop words absent from it ``-2``),
    each term's key (its token ids + 1 as digits in base ``len(ids) + 1``,
    modulo 2**64 as numpy's ``uint64`` wraps) and each term's token count."""
    import numpy as np

    cdef Py_ssize_t t, n_terms = len(terms), i, start, n, k = 0, total = 0
    cdef dict ids = {}
    cdef str term
    cdef object got
    cdef unsigned long long base, h
    cdef int kind
    cdef void *data
    for t in range(n_terms):  # room: one id per space-separated part
        term = terms[t]
        kind = PyUnicode_KIND(term)
        data = PyUnicode_DATA(term)
        total += 1
        for i in range(len(term)):
            if PyUnicode_READ(kind, data, i) == 32:
                total += 1
    n_parts_arr = np.zeros(n_terms, dtype=np.int64)
    flat_arr = np.empty(total, dtype=np.int64)
    keys_arr = np.empty(n_terms, dtype=np.uint64)
    cdef long long[::1] n_parts = n_parts_arr
    cdef long long[::1] flat = flat_arr
    cdef unsigned long long[::1] keys = keys_arr
    for t in range(n_terms):  # term.split(" "), each part's id
        term = terms[t]
        n = len(term)
        kind = PyUnicode_KIND(term)
        data = PyUnicode_DATA(term)
        start = 0
        for i in range(n + 1):
            if i < n and PyUnicode_READ(kind, data, i) != 32:
                continue
            token = term[start:i]
            got = ids.get(token)
            if got is None:
                got = ids[token] = len(ids)
            flat[k] = <long long> got
            k += 1
            n_parts[t] += 1
            start = i + 1
    for word in stop_words:
        if word not in ids:
            ids[word] = -2
    base = len(ids) + 1
    k = 0
    for t in range(n_terms):
        h = 0
        for i in range(n_parts[t]):
            h = h * base + <unsigned long long> (flat[k] + 1)
            k += 1
        keys[t] = h
    return ids, keys_arr, n_parts_arr
