"""Text preparation: the fast paths give exactly what the reference
character-by-character definitions give (models depend on it)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from newstag.text.preparation import _FOLD, _LOWER, fold_accents, fold_and_lower, lower_same_length, normalize

# news-like text: accented Latin, typographic quotes, Greek (final sigma),
# Turkish dotted I (lower-cases to two characters), Cyrillic, NULs and spaces
ALPHABET = st.sampled_from(list("aAzZ `'’‘“”«»àèéìòùÀÉÈçÇğĞşŞıİöÖüÜßΣσςΟΔΛКиїЁё—…€\x00\u00a0\t\n ﬁ²"))
NEWSY = st.text(alphabet=ALPHABET, max_size=80)


@settings(max_examples=400)
@given(st.one_of(NEWSY, st.text(max_size=80)))
def test_fold_and_lower_match_the_per_character_tables(text):
    assert fold_accents(text) == text.translate(_FOLD)
    assert lower_same_length(text) == text.translate(_LOWER)
    assert len(fold_accents(text)) == len(lower_same_length(text)) == len(text)


@settings(max_examples=200)
@given(st.one_of(NEWSY, st.text(max_size=80)))
def test_normalize_collapses_whitespace_like_the_regex(text):
    spaces = re.compile(r"\s+")
    expected = spaces.sub(" ", text.translate(_FOLD).lower()).strip()
    assert normalize(text, unicode_form=None) == expected


def test_examples():
    assert fold_accents("Erdoğan, perché l’Ucraina") == "Erdogan, perche l'Ucraina"
    assert lower_same_length("İSTANBUL ΟΔΟΣ") == "İstanbul οδοσ"  # one character for one
    assert normalize("  Perché\u00a0la  NATO\n") == "perche la nato"


@settings(max_examples=400)
@given(st.one_of(NEWSY, st.text(max_size=80)))
def test_fold_and_lower_is_both_in_one(text):
    folded, lowered = fold_and_lower(text)
    assert folded == text.translate(_FOLD)
    assert lowered == folded.translate(_LOWER)
