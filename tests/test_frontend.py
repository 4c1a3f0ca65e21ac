"""The compiled front end (newstag.engine.frontend, _frontend.pyx) gives the
numpy engine's outputs: alias spans, mention features, probabilities,
explanations; and the numpy engine serves when the extension is off."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import BIN, CORPUS, ROOT, run_cli

frontend = pytest.importorskip("newstag.engine.frontend")
if not frontend.compiled_available():  # the fallback tests below still run in test_fallback_*
    pytestmark = pytest.mark.skip(reason=f"compiled front end not built here: {frontend._WHY}")

# Unicode edge cases the issue lists, plus the characters the front end treats specially
EDGE = [
    "\u0301",  # combining acute
    "e\u0301",
    "ς",  # final sigma
    "Σ",
    "ΟΔΟΣ",
    "İ",  # dotted capital I: lower-cases to two characters
    "ı",
    "\x00",
    "ß",
    "ﬁ",  # ligature (NFKC)
    "\u00a0",  # no-break space
    "_",
    "٣",  # a digit that is \w
    "²",
    "«",
    "»",
    "“",
    "”",
    '"',
    "'",
    "’",
    "-",
    "–",
    "—",
    ":",
    "(",
    ")",
    ".",
    ",",
    " ",
    "\n",
    "\n\n",
    "\t",
    "x" * 300,  # a very long word
    "😀",
]


@pytest.fixture(scope="module")
def registry(request):
    """The project's trained registry when present (whole-corpus check of the
    real defaults), else the small trained one."""
    own = ROOT / "experiments" / "registry"
    if (own / "topics").is_dir() and (own / "actors").is_dir():
        return own
    return request.getfixturevalue("trained_registry")


@pytest.fixture(scope="module")
def engines(registry):
    from newstag.serve.predict import load

    return {t: {e: load(t, registry, engine=e) for e in ("compiled", "numpy")} for t in ("topics", "actors")}


@pytest.fixture(scope="module")
def reference(engines):
    """The actor model's own mention featurizer (numpy engine: the reference)."""
    return engines["actors"]["numpy"].model.roles.featurizer


@pytest.fixture(scope="module")
def compiled(reference):
    return frontend.CompiledMentionFeaturizer(reference.matcher, reference.kinds, reference.window)


@pytest.fixture(scope="module")
def pieces(reference):
    """Aliases as the schema writes them and in other cases, for generated text."""
    keys = sorted(set(reference.matcher.loose) | set(reference.matcher.exact))
    return keys + [k.upper() for k in keys[:40]] + [k.title() for k in keys[:40]] + ["Ucraina", "USA", "Usa", "UE", "Erdoğan", "perché"]


def _text(pieces):
    return st.lists(st.one_of(st.sampled_from(pieces), st.sampled_from(EDGE), st.text(max_size=8)), max_size=30).map("".join)


def test_alias_spans_match_on_hand_picked_boundaries(reference, compiled):
    texts = [
        "Gli USA e gli Stati Uniti, l'UE; usa (verbo) e USAF e _USA e USA_ e 2USA",
        'Russia-Ucraina: «Mosca» e "Kiev"\n\nZelensky, Zelenskyy, Erdoğan, Erdogan',
        "",
        "\x00USA\x00",
        "İstanbul ΣΑΣ Ankara\u0301 Ankara",
    ]
    for text in texts:
        assert compiled.matcher.spans(text) == reference.matcher.spans(text), text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_alias_spans_match_on_generated_text(reference, compiled, pieces, data):
    text = data.draw(_text(pieces))
    assert compiled.matcher.spans(text) == reference.matcher.spans(text)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mention_features_match_on_generated_articles(reference, compiled, pieces, data):
    article = {"title": data.draw(_text(pieces)), "subtitle": data.draw(_text(pieces)), "text": data.draw(_text(pieces))}
    assert compiled.candidates(article) == reference.candidates(article)


def _article(pieces):
    """An article as users send them: any of title, subtitle and text
    missing, empty or not a string."""
    field = st.one_of(_text(pieces), _text(pieces), st.just(""), st.none(), st.integers())
    return st.one_of(
        _text(pieces),
        st.dictionaries(st.sampled_from(["title", "subtitle", "text"]), field),
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), title_separate=st.booleans(), sublinear=st.booleans())
def test_alias_counts_match_the_reference_matrix(reference, compiled, pieces, data, title_separate, sublinear):
    """The compiled alias-count block matches the title, subtitle and text
    apart; the reference matches the joined body: the same counts."""
    articles = data.draw(st.lists(_article(pieces), max_size=4))
    got = compiled.matcher.matrix(articles, title_separate, sublinear)
    assert np.array_equal(got, reference.matcher.matrix(articles, title_separate, sublinear))
    compiled.matcher.forget()


def test_alias_counts_join_fields_only_when_no_alias_holds_a_line_break():
    """An alias with a line break could match across the join of subtitle
    and text: such a matcher counts on the joined body, as the reference."""
    from newstag.text.aliases import AliasMatcher

    reference = AliasMatcher(["x", "y"], {"fine a": [0], "b": [1]}, {})
    broken = AliasMatcher(["x", "y"], {"fine\n\na": [0], "b": [1]}, {})
    article = {"title": "b", "subtitle": "una fine", "text": "a capo b"}
    assert frontend.CompiledAliasMatcher.like(reference).index.joinable
    compiled = frontend.CompiledAliasMatcher.like(broken)
    assert not compiled.index.joinable
    assert np.array_equal(compiled.matrix([article]), broken.matrix([article]))
    assert compiled.matrix([article], sublinear=False).tolist() == [[0.0, 1.0, 1.0, 1.0]]


_ALIAS_CHARS = [*list("abAB ü-.'_1"), "İ", "ς", "́"]


@settings(max_examples=200, deadline=None)
@given(
    aliases=st.dictionaries(st.text(alphabet=st.sampled_from(_ALIAS_CHARS), max_size=5), st.lists(st.integers(0, 4), min_size=1, max_size=2), max_size=8),
    pieces=st.lists(st.text(alphabet=st.sampled_from([*_ALIAS_CHARS, "\n", "\x00", "«"]), max_size=4), max_size=20),
)
def test_alias_trie_finds_what_the_regex_finds(aliases, pieces):
    """Any alias set (prefixes of one another, non-word characters at either
    end, Unicode edge cases, the empty alias) on text made of those aliases
    and their pieces: the trie's hits are the reference regex's."""
    from newstag.engine import _frontend  # type: ignore[attr-defined]
    from newstag.text.aliases import _compile

    keys = [k for k in aliases if k]
    text = "".join(pieces) + " ".join(keys) + "".join(reversed(pieces))
    got = _frontend.AliasTrie(aliases).spans(text)
    for boundary_after_first in (False, True):  # the loose and the exact pass's regex
        pattern = _compile(keys, boundary_after_first)
        assert got == ([(m.start(), m.end(), i) for m in pattern.finditer(text) for i in aliases[m.group(1)]] if pattern else [])


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('«»“”"ab \n')), max_size=60))
def test_quote_regions_match(text):
    from newstag.engine import _frontend  # type: ignore[attr-defined]
    from newstag.text.mentions import _quote_regions

    assert _frontend.quote_regions(text) == _quote_regions(text)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \n\t\u00a0\u2028")), max_size=40))
def test_paragraph_spans_match(text):
    from newstag.engine import _frontend  # type: ignore[attr-defined]
    from newstag.text.mentions import _paragraph_spans

    assert _frontend.paragraph_spans(text) == _paragraph_spans(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mention_fields_match(reference, pieces, data):
    from newstag.data import Record
    from newstag.engine import _frontend  # type: ignore[attr-defined]

    article = data.draw(_article(pieces))
    assert _frontend.mention_fields(article) == dict(reference._fields(article))
    if isinstance(article, dict):
        as_record = Record(id="r", title=str(article.get("title") or ""), subtitle=str(article.get("subtitle") or ""), text=str(article.get("text") or ""))
        assert _frontend.mention_fields(as_record) == dict(reference._fields(as_record))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(st.sampled_from(["la", "russia", "usa", "e", "«", "—", ":", "kiev", "x" * 12]), max_size=25),
    spans=st.lists(st.tuples(st.integers(0, 120), st.integers(1, 12), st.integers(0, 3)), max_size=6),
)
def test_hit_windows_match_for_hits_in_any_order(reference, compiled, words, spans):
    """Hits sorted (as ``spans`` gives them) take the compiled fast path;
    any other order (overlaps, repeats) is sorted first: both as the reference."""
    from newstag.text.mentions import _Hit

    lowered = " ".join(words)
    hits = [_Hit(actor, "body", start, min(start + size, len(lowered)), "") for start, size, actor in spans if start < len(lowered)]
    for order in (hits, sorted(hits, key=lambda h: (h.start, h.end))):
        assert compiled._hit_windows(lowered, order) == reference._hit_windows(lowered, order)


def test_mention_features_match_on_the_corpus(reference, compiled, corpus_test):
    for article in corpus_test:
        assert compiled.candidates(article) == reference.candidates(article), article.id


# ------------------------------------------------------------ role margins


@pytest.fixture(scope="module")
def roles(engines):
    """The actor model's candidate classifier (numpy engine: its dict path)."""
    return engines["actors"]["numpy"].model.roles


def _margins_agree(roles, reference, compiled, article):
    """The fused compiled margins are the dict path's, actor by actor."""
    from newstag.engine.frontend import role_margins

    fused = role_margins(compiled, roles.names, roles.coef, roles.intercept)
    want = {actor: roles._score(feats)[0] for actor, feats in reference.candidates(article).items()}
    got = fused(article)
    assert got.keys() == want.keys()
    for actor, margin in want.items():
        assert got[actor] == pytest.approx(margin, rel=1e-12, abs=1e-12)


def test_role_margins_match_the_dict_path_on_the_corpus(roles, reference, compiled, corpus_test):
    for article in corpus_test:
        _margins_agree(roles, reference, compiled, article)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), window=st.sampled_from([1, 2, 6, 9]))
def test_role_margins_match_the_dict_path_on_generated_articles(roles, reference, pieces, data, window):
    """Any window width (the fused pass keeps ``2 * window`` ids per hit)."""
    from newstag.text.mentions import MentionFeaturizer

    article = {"title": data.draw(_text(pieces)), "subtitle": data.draw(_text(pieces)), "text": data.draw(_text(pieces))}
    if data.draw(st.booleans()):  # a dateline, a quote, paragraphs
        article["text"] = "ROMA – " + article["text"] + "\n\n«" + data.draw(_text(pieces)) + "»\n\nUcraina."
    wide = MentionFeaturizer(reference.matcher, reference.kinds, window)
    _margins_agree(roles, wide, frontend.CompiledMentionFeaturizer(reference.matcher, reference.kinds, window), article)


def test_role_margins_decline_a_vocabulary_they_cannot_compute(roles, compiled):
    """A feature family the fused pass does not know: no fused scorer, so the
    model keeps the dict path (which scores any name)."""
    from newstag.engine.frontend import role_margins

    assert role_margins(compiled, [*roles.names, "sentiment=positive"], np.r_[roles.coef, 1.0], roles.intercept) is None
    assert role_margins(compiled, [*roles.names, "l2=lonely"], np.r_[roles.coef, 1.0], roles.intercept) is None
    assert role_margins(compiled, roles.names, roles.coef, roles.intercept) is not None


def test_compiled_actor_model_scores_with_the_fused_pass(engines):
    assert engines["actors"]["compiled"].model.roles._margins is not None
    assert engines["actors"]["numpy"].model.roles._margins is None


# --------------------------------------------------------- text preparation


def test_fold_and_lower_match_on_every_code_point():
    """Each code point (in runs of 256, between context that lower-cases
    with rules: final sigma, dotted I) folds and lower-cases as the
    reference does."""
    from newstag.text.preparation import fold_accents, fold_and_lower

    for start in range(0, 0x110000, 256):
        text = "ΟΔΟΣ İ`" + "".join(map(chr, range(start, min(start + 256, 0x110000)))) + "Σ x"
        assert frontend.fold_and_lower(text) == fold_and_lower(text), hex(start)
        assert frontend.fold_accents(text) == fold_accents(text), hex(start)


def test_fold_and_lower_match_on_one_byte_strings():
    """Strings stored one byte per character take the Latin-1 tables (µ
    lower-cases out of Latin-1: the general pass then serves); the results
    are canonical strings (they find the reference's as dict keys)."""
    from newstag.text.preparation import fold_accents, fold_and_lower

    latin1 = "".join(map(chr, range(256)))
    for text in [latin1, "Perché l'Unione `ÀÈÌÒÙ` àèìòù ÿ", "plain ascii", "MAIUSCOLE", "", *latin1]:
        got, want = frontend.fold_and_lower(text), fold_and_lower(text)
        assert got == want, repr(text)
        assert {want[0]: 1, want[1]: 2}[got[0]] and {want[1]: 2}[got[1]] == 2
        assert frontend.fold_accents(text) == fold_accents(text), repr(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fold_and_lower_match_on_generated_text(pieces, data):
    from newstag.text.preparation import fold_accents, fold_and_lower

    text = data.draw(_text(pieces))
    assert frontend.fold_and_lower(text) == fold_and_lower(text)
    assert frontend.fold_accents(text) == fold_accents(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_prepared_text_matches_with_compiled_folding(pieces, data):
    from newstag.text.preparation import prepare

    articles = data.draw(st.lists(st.fixed_dictionaries({"title": _text(pieces), "subtitle": _text(pieces), "text": _text(pieces)}), max_size=3))
    for options in ({}, {"field": "title", "lowercase": False}, {"unicode_form": None, "title_weight": 0}):
        assert prepare(articles, **options, fold=frontend.fold_accents) == prepare(articles, **options)


# ------------------------------------------------------------ TF-IDF blocks


@pytest.fixture(scope="module")
def tfidf_blocks(engines):
    """The topic model's word and char_wb blocks under each engine."""
    from newstag.engine.compact import _Tfidf

    def blocks(engine):
        found = {b.meta["analyzer"]: b for b, _, _ in engines["topics"][engine].model.blocks if isinstance(b, _Tfidf)}
        assert set(found) == {"word", "char_wb"}
        return found

    return {e: blocks(e) for e in ("compiled", "numpy")}


def _words(pieces):
    """Whitespace-free words, as ``_WordCache.split`` gives them."""
    return st.lists(_text(pieces), max_size=6).map(lambda texts: [w for t in texts for w in t.split()])


def _split(block, docs):
    """A fresh word cache's words for ``docs`` and the reference's token rows."""
    from newstag.engine.compact import _WordCache

    cache = _WordCache()
    words = cache.split(block.prep(docs))
    rows = cache.rows_of(block)
    rows.append(*block._tokens(cache.words), len(cache.words))
    return cache, words, rows


def _same_pairs(compiled, reference):
    """Same (row, column) pairs in the same order, ``reference`` as
    ``_Rows.append`` orders it (stable by row)."""
    order = np.argsort(reference[0], kind="stable")
    for got, want in zip(compiled, reference):
        assert got.dtype == np.int64
        assert got.tolist() == want[order].tolist()


def test_tfidf_blocks_serve_compiled_kernels_only_under_compiled(engines, tfidf_blocks):
    assert all(b.compiled is not None and b.prep.fold is frontend.fold_accents for b in tfidf_blocks["compiled"].values())
    assert all(b.compiled is None and b.prep.fold is None for b in tfidf_blocks["numpy"].values())
    assert engines["topics"]["compiled"].model._cache.compiled is not None
    assert engines["topics"]["numpy"].model._cache.compiled is None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_char_wb_columns_match_on_generated_words(tfidf_blocks, pieces, data):
    block = tfidf_blocks["compiled"]["char_wb"]
    words = data.draw(_words(pieces))
    got = block.compiled.char_wb_columns(words, block.lo, block.hi, block._probes(block.tables))
    _same_pairs(got, block._char_wb(words))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_word_tokens_match_on_generated_words(tfidf_blocks, pieces, data):
    block = tfidf_blocks["compiled"]["word"]
    words = data.draw(_words(pieces))
    _same_pairs(block.compiled.word_tokens(words, block.token_ids), block._tokens(words))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_word_columns_match_on_generated_documents(tfidf_blocks, pieces, data):
    """Documents mixing vocabulary words, stop words, unknown words, edge
    characters and empty fields: the same (document, column) pairs."""
    block = tfidf_blocks["compiled"]["word"]
    vocabulary = [t for t in block.terms.tolist()[:300:3]] + ["della", "the", "di", "zzqx"]
    part = st.one_of(_text(pieces), st.lists(st.sampled_from(vocabulary), max_size=12).map(" ".join))
    docs = data.draw(st.lists(st.fixed_dictionaries({"title": part, "text": part}), min_size=1, max_size=4))
    _, words, rows = _split(block, docs)
    got, want = block._word_compiled(words, rows), block._word(words, rows)
    assert [a.tolist() for a in got] == [a.tolist() for a in want]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_word_cache_split_matches_over_batches(pieces, data):
    """Two batches through a word cache (the second meets known and new
    words): the same ids, lengths and numbering of new words. The compiled
    split reads text as the compiled engine prepares it (runs of spaces
    left as they are), the reference the squeezed text."""
    from newstag.engine import _frontend  # type: ignore[attr-defined]
    from newstag.engine.compact import _WordCache

    batches = data.draw(st.lists(st.lists(_text(pieces), max_size=4), min_size=2, max_size=2))
    compiled, reference = _WordCache(), _WordCache()
    compiled.compiled = _frontend
    for docs in batches:
        got, want = compiled.split(docs), reference.split([" ".join(d.split()) for d in docs])
        assert got.ids.dtype == want.ids.dtype and got.ids.tolist() == want.ids.tolist()
        assert got.lengths.tolist() == want.lengths.tolist() and got.doc.tolist() == want.doc.tolist()
        assert got.size == want.size
        assert compiled.words == reference.words == list(reference.index)


def test_word_table_numbers_every_word_once_while_it_grows():
    """Thousands of near-identical words, overlapping between documents: the
    table grows from 4,096 slots several times, each word keeps one id, and
    every id maps back to the word that stood there."""
    from newstag.engine import _frontend  # type: ignore[attr-defined]

    words: list[str] = []
    docs = [" ".join(f"w{i}" for i in range(k, k + 3000)) for k in range(0, 9000, 1500)]
    ids, lengths = _frontend.WordTable().split(docs, words)
    assert len(words) == len(set(words)) == 10500
    assert [words[i] for i in ids.tolist()] == [w for d in docs for w in d.split()]
    assert lengths.tolist() == [3000] * 6


def test_tfidf_kernels_match_on_the_corpus(tfidf_blocks, corpus_test):
    """Every word of the test split through each kernel, and each block's
    matrix bit for bit (same values, same entry order) under both engines."""
    from newstag.engine.compact import _WordCache

    word, char = tfidf_blocks["compiled"]["word"], tfidf_blocks["compiled"]["char_wb"]
    cache, words, rows = _split(word, corpus_test)
    assert len(cache.words) > 5000
    _same_pairs(word.compiled.word_tokens(cache.words, word.token_ids), word._tokens(cache.words))
    _same_pairs(char.compiled.char_wb_columns(cache.words, char.lo, char.hi, char._probes(char.tables)), char._char_wb(cache.words))
    assert [a.tolist() for a in word._word_compiled(words, rows)] == [a.tolist() for a in word._word(words, rows)]
    for analyzer in ("word", "char_wb"):
        X, Y = (tfidf_blocks[e][analyzer].transform(corpus_test, _WordCache()) for e in ("compiled", "numpy"))
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(X, part), getattr(Y, part)), (analyzer, part)


@st.composite
def _sparse(draw, max_rows: int = 6, max_cols: int = 9) -> np.ndarray:
    """A small dense matrix, mostly zeros, float32 values (as TF-IDF blocks)."""
    rows, cols = draw(st.integers(0, max_rows)), draw(st.integers(1, max_cols))
    values = st.one_of(st.just(0.0), st.just(0.0), st.floats(-3, 3, width=32, allow_subnormal=False))
    return np.array(draw(st.lists(values, min_size=rows * cols, max_size=rows * cols)), dtype=np.float32).reshape(rows, cols)


@settings(max_examples=80, deadline=None)
@given(dense=_sparse(), units=st.integers(1, 40), seed=st.integers(0, 1000), weight=st.sampled_from([1.0, 0.5, 2.5]))
def test_sparse_kernels_do_scipys_arithmetic(dense, units, seed, weight):
    """The compiled engine's CSR arrays and product give scipy's matrices
    and scipy's products bit for bit (same entries, same order, same sums),
    float32 heads as scipy's product with them widened to float64 (up to
    40 units: the vector loop's full lanes and its remainder)."""
    import scipy.sparse as sp

    from newstag.engine.compact import _Csr

    kernels = frontend.kernels()
    X, Y = _Csr.of_dense(dense, kernels), sp.csr_matrix(dense)
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(X, part), getattr(Y, part)), part
    W = np.random.default_rng(seed).normal(size=(dense.shape[1], units))
    assert np.array_equal((X * weight) @ W, np.asarray((Y * weight) @ W))
    W32 = W.astype(np.float32)
    assert np.array_equal((X * weight) @ W32, np.asarray((Y * weight) @ W32.astype(np.float64)))
    rows, cols = np.nonzero(dense)  # pairs with repeats, out of order: counts
    pairs = np.concatenate([rows, rows[::-1]]), np.concatenate([cols, cols[::-1]])
    got, want = _Csr.of_pairs(*pairs, dense.shape, kernels), sp.coo_matrix((np.ones(len(pairs[0])), pairs), shape=dense.shape).tocsr()
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(got, part), getattr(want, part)), part


@settings(max_examples=80, deadline=None)
@given(
    occurrences=st.lists(st.lists(st.integers(0, 7), max_size=40), max_size=6),
    patterns=st.lists(st.lists(st.one_of(st.integers(0, 10), st.integers(0, 2**16)), max_size=30), min_size=8, max_size=8),
)
def test_occurrence_counts_is_scipys_product(occurrences, patterns):
    """documents x words @ words x columns, entry order included (scipy's
    product emits a row's columns last-seen-first; the TF-IDF norms sum in
    that order); columns near and far apart, long documents."""
    import scipy.sparse as sp

    lengths = np.array([len(d) for d in occurrences], dtype=np.int64)
    ids = np.array([w for d in occurrences for w in d], dtype=np.int32)
    cols = [sorted(set(p)) for p in patterns]
    b_indptr = np.concatenate([[0], np.cumsum([len(c) for c in cols])]).astype(np.int32)
    b_indices = np.array([c for p in cols for c in p], dtype=np.int32)
    A = sp.csr_matrix((np.ones(len(ids)), ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)), shape=(len(lengths), 8))
    B = sp.csr_matrix((np.ones(len(b_indices)), b_indices, b_indptr), shape=(8, 2**16 + 1))
    want = (A @ B).tocsr()
    scratch = np.zeros((2**16 + 1, 2), dtype=np.int32)
    scratch[:, 0] = -1
    for _ in range(2):  # the scratch comes back clean: a second call gives the same
        got = frontend.kernels().occurrence_counts(lengths, ids, b_indptr, b_indices, scratch)
        for part, array in zip(("indptr", "indices", "data"), got):
            assert np.array_equal(array, getattr(want, part)), part
    assert (scratch[:, 0] == -1).all() and (scratch[:, 1] == 0).all()


def test_compiled_prediction_needs_no_scipy(registry):
    """A cold start's share: the compiled engine predicts without importing
    scipy (0.4 s) or YAML, and without compiling the alias regexes."""
    code = (
        "import sys, json\n"
        "from newstag.cli import main\n"
        f"code = main(['--registry', {str(registry)!r}, 'predict', '-q', {str(ROOT / 'data' / 'raw')!r}, '-o', '/dev/null'])\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'yaml', 'sklearn'))]))\n"
    )
    proc = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [0, []]


def test_shared_blocks_share_their_lookup_tables(engines):
    """Topics and actors hold the same TF-IDF blocks: their tables are built
    once per process."""
    topics, actors = (engines[task]["compiled"].model for task in ("topics", "actors"))
    shared = [(a, b) for (a, _, _), (b, _, _) in zip(topics.blocks, actors.blocks) if getattr(a, "fingerprint", None) == getattr(b, "fingerprint", 0)]
    assert shared
    for a, b in shared:
        assert a is not b and a._index is b._index and a.tables is b.tables and a.token_ids is b.token_ids


def test_blocks_share_an_index_exactly_when_their_arrays_are_equal():
    """Sharing is decided by the arrays' values, not only their settings and
    shapes: a block differing in one value gets its own tables and its own
    fingerprint (else its matrix would be taken from the other's)."""
    from newstag.engine import compact

    meta = {"analyzer": "char_wb", "ngram_range": [3, 3], "test": "share"}
    keys = np.arange(10, dtype=np.uint64) * np.uint64(7919)
    arrays = {"h3": keys, "c3": np.arange(10, dtype=np.int64), "idf": np.ones(10)}
    first, new_first = compact._shared_index(meta, arrays)
    same, new_same = compact._shared_index(meta, {k: v.copy() for k, v in arrays.items()})
    changed = {**arrays, "idf": np.r_[np.ones(9), 2.0]}
    other, new_other = compact._shared_index(meta, changed)
    assert new_first and not new_same and same is first
    assert new_other and other is not first and other.key != first.key
    assert compact._shared_index(meta, changed)[0] is other


@settings(max_examples=80, deadline=None)
@given(st.sets(st.integers(0, 2**64 - 1), max_size=400), st.lists(st.integers(0, 2**64 - 1), max_size=100), st.integers(0, 2**20))
def test_lookup_tables_built_by_the_extension_answer_as_numpys(keys, others, crowd):
    """``fill_table`` (load time) places keys differently from the numpy
    rounds only where homes collide; every query gets the same column.
    ``crowd``: keys that differ in their low bits only share a home, so
    long probe chains are exercised."""
    from newstag.engine.compact import _Lookup

    keys = sorted(keys | {crowd + i for i in range(40)})
    stored = np.array(keys, dtype=np.uint64)
    values = np.arange(len(keys), dtype=np.int64)[::-1].copy()
    by_numpy, by_kernel = _Lookup(stored, values), _Lookup(stored, values, frontend.kernels())
    queries = np.array(keys + others, dtype=np.uint64)
    assert by_kernel(queries).tolist() == by_numpy(queries).tolist()
    assert by_kernel.rounds >= 1 and (by_kernel.values >= 0).sum() == len(keys)
    probe = by_kernel.probe(frontend.kernels())
    assert probe is not None


def _built(terms, stop_words, kernels):
    """An index's word tables, or the refusal (colliding n-gram keys)."""
    from newstag.engine.compact import Unsupported, _Index

    index = _Index("test", {})
    try:
        index.word({"token_pattern": r"(?u)\b\w\w+\b"}, terms, stop_words, kernels)
    except Unsupported as exc:
        return str(exc)
    return index


def _same_word_index(terms, stop_words):
    numpy_built, kernel_built = _built(terms, stop_words, None), _built(terms, stop_words, frontend.kernels())
    if isinstance(numpy_built, str):
        assert kernel_built == numpy_built
        return
    assert list(kernel_built.token_ids.items()) == list(numpy_built.token_ids.items())  # same ids, same order
    assert kernel_built.base == numpy_built.base
    assert kernel_built.word_tables.keys() == numpy_built.word_tables.keys()
    for n, table in numpy_built.word_tables.items():
        stored = table.keys[table.values >= 0]
        assert kernel_built.word_tables[n](stored).tolist() == table(stored).tolist()


def test_word_index_built_by_the_extension_matches_on_the_models_vocabulary(tfidf_blocks):
    block = tfidf_blocks["numpy"]["word"]
    _same_word_index(block.terms.tolist(), block.meta["stop_words"] or ())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_word_index_built_by_the_extension_matches_on_generated_vocabularies(pieces, data):
    """Repeated tokens, empty ones (two spaces), Unicode edge cases, stop
    words inside and outside the vocabulary."""
    token = st.one_of(st.sampled_from(pieces), st.sampled_from(EDGE).map(str.strip), st.text(alphabet=st.characters(blacklist_characters=" "), max_size=5))
    terms = data.draw(st.lists(st.lists(token, min_size=1, max_size=3).map(" ".join), max_size=40, unique=True))
    stop_words = data.draw(st.lists(st.one_of(st.sampled_from(terms or ["x"]), token), max_size=5))
    _same_word_index(terms, stop_words)


# ------------------------------------------------------------------- models


def test_engines_are_what_was_asked(engines):
    for by_engine in engines.values():
        assert {e: lab.engine for e, lab in by_engine.items()} == {"compiled": "compiled", "numpy": "numpy"}


def test_same_probabilities_on_the_whole_corpus(engines):
    from newstag.data import load_labelled

    articles = [r for f in sorted(CORPUS.glob("*.jsonl")) for r in load_labelled(f)]
    assert len(articles) > 1000
    for task, by_engine in engines.items():
        assert np.abs(by_engine["compiled"].probabilities(articles) - by_engine["numpy"].probabilities(articles)).max() < 1e-6, task


def test_same_probabilities_as_scikit_learn(registry, engines, corpus_test):
    """On a slice: scikit-learn's analyzers are slow (test_compact covers the numpy engine on more)."""
    from newstag.serve.predict import load

    articles = corpus_test[::8]
    for task, by_engine in engines.items():
        sk = load(task, registry, engine="sklearn")
        assert sk.engine == "sklearn"
        assert np.abs(by_engine["compiled"].probabilities(articles) - sk.probabilities(articles)).max() < 1e-6, task


def test_models_with_the_same_block_share_its_matrix(engines, corpus_test):
    """Topics and actors share their TF-IDF blocks within a batch: same
    probabilities as each model alone, one computation per block."""
    articles = corpus_test[:60]
    for engine in ("compiled", "numpy"):
        topics, actors = engines["topics"][engine], engines["actors"][engine]
        prepared: dict = {}
        together = [topics.probabilities(articles, prepared), actors.probabilities(articles, prepared)]
        assert np.array_equal(together[0], topics.probabilities(articles))
        assert np.array_equal(together[1], actors.probabilities(articles))
        shared = {k[1] for k in prepared if isinstance(k, tuple) and k[0] == "block"}
        own = {getattr(b, "fingerprint", id(b)) for m in (topics, actors) for b, _, _ in m.model.blocks}
        assert shared == own


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_same_probabilities_on_generated_articles(engines, pieces, data):
    articles = data.draw(st.lists(_article(pieces), min_size=1, max_size=3))
    for by_engine in engines.values():
        assert np.abs(by_engine["compiled"].probabilities(articles) - by_engine["numpy"].probabilities(articles)).max() < 1e-6


def test_same_explanations_and_alias_offsets(engines, corpus_test):
    for by_engine in engines.values():
        for article in corpus_test[:15]:
            assert by_engine["compiled"].explain(article, 5) == by_engine["numpy"].explain(article, 5)


# ---------------------------------------------------------------------- CLI


def _predict(registry: Path, *extra: str, env: dict | None = None) -> list[dict]:
    proc = run_cli("--registry", str(registry), "predict", "-q", "--explain", "3", "--all-scores", str(ROOT / "data" / "raw"), *extra, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


def test_cli_engines_give_the_same_output(registry):
    assert _predict(registry, "--engine", "compiled") == _predict(registry, "--engine", "numpy")


def test_models_show_names_the_engine(registry):
    shown = json.loads(run_cli("--registry", str(registry), "models", "show", "actors").stdout)
    assert shown["serving_engine"] == "compiled"
    off = json.loads(run_cli("--registry", str(registry), "models", "show", "actors", env={"NEWSTAG_ENGINE": "numpy"}).stdout)
    assert off["serving_engine"] == "numpy"


def _without_extension(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python where the extension cannot be imported, as
    after an install without a C compiler."""
    block = "import sys; sys.modules['newstag.engine._frontend'] = None\n"
    return subprocess.run([str(BIN / "python"), "-c", block + code], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_fallback_when_the_extension_is_missing(registry, tmp_path):
    out = tmp_path / "out.jsonl"
    code = (
        "from newstag.cli import main\n"
        "from newstag.engine import frontend\n"
        "import newstag\n"
        "assert not frontend.compiled_available()\n"
        f"assert newstag.load('actors', {str(registry)!r}).engine == 'numpy'\n"
        f"sys.exit(main(['--registry', {str(registry)!r}, 'predict', '-q', '--explain', '3', '--all-scores', {str(ROOT / 'data' / 'raw')!r}, '-o', {str(out)!r}]))\n"
    )
    proc = _without_extension(code)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == _predict(registry, "--engine", "compiled")
    asked = _without_extension(
        f"from newstag.cli import main\nsys.exit(main(['--registry', {str(registry)!r}, 'predict', '-q', '--engine', 'compiled', '-']))\n"
    )
    assert asked.returncode == 2 and "compiled cannot run here" in asked.stderr and "C compiler" in asked.stderr


def test_environment_variable_turns_the_extension_off(monkeypatch, registry):
    from newstag.serve.predict import load

    monkeypatch.setenv("NEWSTAG_ENGINE", "numpy")
    assert load("topics", registry).engine == "numpy"
    monkeypatch.setenv("NEWSTAG_ENGINE", "fast")
    with pytest.raises(ValueError, match="NEWSTAG_ENGINE"):
        frontend.resolve("auto")


def test_generated_files_are_not_tracked():
    tracked = subprocess.run(["git", "ls-files", "src/newstag/engine"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert "src/newstag/engine/_frontend.pyx" in tracked
    assert not [f for f in tracked if f.endswith((".c", ".so"))]
