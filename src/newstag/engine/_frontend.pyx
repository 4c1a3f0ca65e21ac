# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled hot loops of the compact engine (built by ``setup.py`` when a C
compiler is there; :mod:`newstag.engine.frontend` falls back to the pure
Python reference otherwise).

Every function here is a port of a reference in :mod:`newstag.text` with the
same output, checked by ``tests/test_frontend.py`` on the corpus and on
generated text: the character classes are CPython's own (``\\w`` of ``re``
is ``Py_UNICODE_ISALNUM`` or ``_``), the iteration orders are the reference's.
"""

from cpython.unicode cimport Py_UNICODE_ISALNUM
from libc.math cimport log1p
from libc.stdlib cimport free, malloc

_PUNCT = frozenset('«»“”"()-–—:')


cdef inline bint _is_word(Py_UCS4 c):
    """``re``'s ``\\w`` on a ``str`` pattern."""
    return Py_UNICODE_ISALNUM(c) or c == 95  # "_"


cdef inline bint _is_token_punct(Py_UCS4 c):
    # the one-character alternatives of mentions._TOKEN: «»“”"()-–—:
    return c == 0xAB or c == 0xBB or c == 0x201C or c == 0x201D or c == 34 or c == 40 or c == 41 or c == 45 or c == 0x2013 or c == 0x2014 or c == 58


def quote_regions(str text):
    """Port of ``newstag.text.mentions._quote_regions``."""
    cdef Py_ssize_t i, n = len(text), start = 0, depth = 0
    cdef bint straight = False
    cdef Py_UCS4 ch
    regions = []
    for i in range(n):
        ch = text[i]
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
        elif ch == 10 and (depth or straight) and i + 1 < n and text[i + 1] == 10:
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
    while i < n:
        ch = text[i]
        if _is_word(ch):
            j = i + 1
            while j < n and _is_word(text[j]):
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


def hit_windows(str lowered, list hits, int window):
    """Port of ``MentionFeaturizer._hit_windows``: ``hits`` are
    ``(start, end, actor)`` in the field's hit order; returns each hit's
    context feature keys in the reference's order."""
    cdef Py_ssize_t n_hits = len(hits), n_tok, k = 0, i, a, b, pos, m, lo, hi, s
    cdef Py_ssize_t *seq
    cdef Py_ssize_t *inside
    cdef Py_ssize_t *starts
    cdef Py_ssize_t *ends
    cdef Py_ssize_t n_inside, n_seq = 0, hs, he, hn, nl
    spans = sorted([(hits[i][0], hits[i][1], i) for i in range(n_hits)])
    actors = [h[2] for h in hits]
    at = [-1] * n_hits
    # seq: >= 0 a token index, < 0 the hit -1 - value
    seq = <Py_ssize_t *> malloc((len(lowered) + 1) * sizeof(Py_ssize_t))
    starts = <Py_ssize_t *> malloc((len(lowered) + 1) * sizeof(Py_ssize_t))
    ends = <Py_ssize_t *> malloc((len(lowered) + 1) * sizeof(Py_ssize_t))
    inside = <Py_ssize_t *> malloc(7 * sizeof(Py_ssize_t))
    try:
        n_tok = _tokens(lowered, starts, ends)
        for i in range(n_tok):
            s = starts[i]
            while k < n_hits and spans[k][1] <= s:
                k += 1
            n_inside = 0
            for m in range(k, min(k + 6, n_hits)):
                hs, he, hn = spans[m]
                if hs <= s < he:
                    inside[n_inside] = hn
                    n_inside += 1
            if n_inside == 0:
                seq[n_seq] = i
                n_seq += 1
                continue
            pos = 0
            if n_seq and seq[n_seq - 1] < 0:
                for m in range(n_inside):
                    if inside[m] == -1 - seq[n_seq - 1]:
                        pos = 1
                        break
            if not pos:
                seq[n_seq] = -1 - inside[0]
                n_seq += 1
            for m in range(n_inside):
                if at[inside[m]] < 0:
                    at[inside[m]] = n_seq - 1
        out = []
        for i in range(n_hits):
            a = at[i]
            if a < 0:
                out.append([])
                continue
            actor = actors[-1 - seq[a]]
            lo = a - window if a - window > 0 else 0
            hi = a + 1 + window if a + 1 + window < n_seq else n_seq
            left = []
            right = []
            for m in range(lo, a):
                left.append(_masked(lowered, starts, ends, actors, seq[m], actor))
            for m in range(a + 1, hi):
                right.append(_masked(lowered, starts, ends, actors, seq[m], actor))
            nl = len(left)  # no negative indexing: wraparound is off
            keys = ["l1=" + left[nl - 1] if nl else "l1=^", "r1=" + right[0] if right else "r1=$"]
            if nl >= 2:
                keys.append("l2=" + left[nl - 2] + " " + left[nl - 1])
            if len(right) >= 2:
                keys.append("r2=" + right[0] + " " + right[1])
            keys.extend(["w=" + t for t in {t for t in left + right if t not in _PUNCT}])
            out.append(keys)
        return out
    finally:
        free(seq)
        free(starts)
        free(ends)
        free(inside)


cdef inline str _masked(str lowered, Py_ssize_t *starts, Py_ssize_t *ends, list actors, Py_ssize_t v, object actor):
    if v >= 0:
        return lowered[starts[v]:ends[v]]
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


def aho_spans(automaton, str text):
    """Alias hits as ``AliasMatcher``'s regex finds them, from a
    pyahocorasick automaton whose values are ``(length, label indices)``.

    The regex ``(?<!\\w)(alias|...)(?!\\w)`` scans left to right; at each
    start it takes the longest alias with no word character on either side,
    and resumes after it. So: keep every bounded match, the longest per
    start, then sweep starts in order skipping those inside a taken hit.
    """
    cdef Py_ssize_t n = len(text), start, end, length, pos = 0
    best = {}
    for last, value in automaton.iter(text):
        length = value[0]
        end = last + 1
        start = end - length
        if start > 0 and _is_word(text[start - 1]):
            continue
        if end < n and _is_word(text[end]):
            continue
        prev = best.get(start)
        if prev is None or prev[0] < end:
            best[start] = (end, value[1])
    out = []
    for start in sorted(best):
        if start < pos:
            continue
        end, labels = best[start]
        for i in labels:
            out.append((start, end, i))
        pos = end
    return out


def candidates(featurizer, article):
    """Port of ``MentionFeaturizer.candidates`` (same dicts, same key order);
    ``featurizer`` supplies the fields, alias spans, alias kinds and window."""
    from newstag.text.mentions import _is_dateline, _paragraph_spans
    from newstag.text.preparation import fold_and_lower

    cdef Py_ssize_t s, e, n, n_hits, total = 0, start, top = 0, c, window = featurizer.window
    cdef bint body
    texts = dict(featurizer._fields(article))
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
        paragraphs = _paragraph_spans(text) if body else []
        lowered = matcher.lowered(text) if hasattr(matcher, "lowered") else fold_and_lower(text)[1]
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
            where = {name}
            for a, b in quotes:
                if a < start < b:
                    where.add("quote")
                    break
            if body:
                if _is_dateline(text, start, hits[n][1]):
                    where.add("dateline")
                if paragraphs and start < paragraphs[0][1] and not (len(paragraphs) == 1 and start > 400):
                    where.add("lede")
                if len(paragraphs) >= 3 and start >= paragraphs[len(paragraphs) - 1][0]:
                    where.add("last")
            positions[actor].append(where)
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
