"""Text preparation shared by training and prediction.

Functions here end up inside pickled pipelines (trap 4 of the style guide):
keep their names and behaviour stable; a change in output is a versioned
change of every model trained before it.

An *article* is what every transformer receives: a ``str`` (a body without a
title), a mapping with ``title`` / ``subtitle`` / ``text`` keys, or any object
with those attributes (:class:`newstag.data.Record`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'", "“": '"', "”": '"', "«": '"', "»": '"'})


class _FoldTable(dict):
    """``str.translate`` table that maps every character to exactly one
    character: its base letter without diacritics, or itself.

    One-to-one mapping keeps character offsets valid, so an alias found in
    the folded text points at the same span of the original.
    """

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if code in _APOSTROPHES:  # ´ would otherwise decompose to a space
            self[code] = _APOSTROPHES[code]
            return self[code]
        base = unicodedata.normalize("NFKD", char)
        out = char
        for c in base:
            if not unicodedata.combining(c):
                out = c
                break
        out = out.translate(_APOSTROPHES)
        self[code] = out
        return out


class _LowerTable(dict):
    """Lower-case one character into one character (length-preserving)."""

    def __missing__(self, code: int) -> str:
        low = chr(code).lower()
        out = low if len(low) == 1 else chr(code)
        self[code] = out
        return out


_FOLD = _FoldTable()
_LOWER = _LowerTable()


def _replace_each(text: str, table: dict, ascii_changes: str = "") -> str | None:
    """``text.translate(table)`` as one ``str.replace`` per distinct
    non-ASCII character: a few C passes instead of a dictionary lookup per
    character (5-10x faster on news text, which has a handful of distinct
    accented letters). ``None`` when a replacement would itself be replaced
    again (then only ``translate`` maps each character exactly once).
    Of the ASCII characters only ``ascii_changes`` are looked at."""
    return _replace_pairs(text, [(ch, table[ord(ch)]) for ch in set(text) if ch > "\x7f" or ch in ascii_changes])


def _replace_pairs(text: str, pairs: list[tuple[str, str]]) -> str | None:
    """Apply one-character ``(old, new)`` replacements; ``None`` when one
    replacement's output is another's input (see :func:`_replace_each`)."""
    pairs = [(a, b) for a, b in pairs if a != b]
    sources = {a for a, _ in pairs}
    if any(b in sources for _, b in pairs):
        return None
    for a, b in pairs:
        text = text.replace(a, b)
    return text


def fold_and_lower(text: str) -> tuple[str, str]:
    """``fold_accents(text)`` and ``lower_same_length`` of it: what alias
    matching needs (case-sensitive and case-insensitive). The characters of
    the text are collected once for both."""
    if text.isascii() and "`" not in text:
        return text, text.lower()
    chars = {c for c in set(text) if c > "\x7f" or c == "`"}
    folded = _replace_pairs(text, [(c, _FOLD[ord(c)]) for c in chars])
    if folded is None:
        folded = text.translate(_FOLD)
        return folded, lower_same_length(folded)
    # the non-ASCII characters of the folded text are the folded characters
    return folded, _lower_rest(_replace_pairs(folded, [(c, _LOWER[ord(c)]) for c in {_FOLD[ord(c)] for c in chars} if c > "\x7f"]), folded)


def _lower_rest(replaced: str | None, original: str) -> str:
    """Finish ``lower_same_length(original)`` from ``replaced``, the text with
    its non-ASCII characters already lower-cased one for one: ``str.lower``
    now changes only ASCII letters, unless a character lower-cases to two
    (the length tells; then ``translate`` does it character by character)."""
    if replaced is not None:
        low = replaced.lower()
        if len(low) == len(replaced):
            return low
    return original.translate(_LOWER)


def fold_accents(text: str) -> str:
    """Strip diacritics and unify apostrophes, one character for one."""
    if text.isascii() and "`" not in text:  # the one ASCII character folding changes
        return text
    out = _replace_each(text, _FOLD, "`")
    return text.translate(_FOLD) if out is None else out


def lower_same_length(text: str) -> str:
    """Lower-case without changing the length of the string."""
    return _lower_rest(text if text.isascii() else _replace_each(text, _LOWER), text)


@dataclass(frozen=True)
class Fields:
    """The parts of an article that features look at."""

    title: str
    body: str  # subtitle and text, separated by a blank line


def _get(article: Any, key: str) -> str:
    if isinstance(article, (dict, Mapping)):  # dict first: a C check, where Mapping's is an ABC lookup
        value = article.get(key, "")
    else:
        value = getattr(article, key, "")
    return value if isinstance(value, str) else ""


def fields(article: Any) -> Fields:
    """Split an article (str, mapping or record) into title and body."""
    if isinstance(article, str):
        return Fields("", article)
    subtitle, text = _get(article, "subtitle"), _get(article, "text")
    body = f"{subtitle}\n\n{text}" if subtitle and text else (subtitle or text)
    return Fields(_get(article, "title"), body)


def normalize(
    text: str,
    *,
    unicode_form: str | None = "NFKC",
    lowercase: bool = True,
    strip_accents: bool = True,
    fold: Callable[[str], str] | None = None,
    squeeze: bool = True,
) -> str:
    """Canonical form of a text before vectorizing.

    NFKC first (ligatures, full-width forms, non-breaking spaces), then
    lower-case and accent folding: Italian news writes *perché*/*perche'*,
    *Erdoğan*/*Erdogan*, *Zelensky*/*Zelenskyy*; folding lets them share
    features. ``fold`` replaces :func:`fold_accents` with a function of the
    same output (the compiled engine's port).
    """
    if unicode_form:
        text = unicodedata.normalize(unicode_form, text)  # type: ignore[arg-type]  # validated by the caller's config
    # folding also unifies apostrophes: one pass over the text instead of two
    text = (fold or fold_accents)(text) if strip_accents else text.translate(_APOSTROPHES)
    if lowercase:
        text = text.lower()
    # str.split and re's \s agree on what is a space
    return " ".join(text.split()) if squeeze else text


def compose(article: Any, title_weight: int = 2) -> str:
    """One string per article: the title repeated ``title_weight`` times, then
    the body. Repetition is how a single bag-of-words vectorizer gives the
    headline more say; headline-only items keep working because the title is
    always there."""
    f = fields(article)
    parts = [f.title] * max(0, title_weight) + [f.body]
    return "\n".join(p for p in parts if p)


def prepare(
    articles: Any,
    field: str = "all",
    title_weight: int = 2,
    unicode_form: str | None = "NFKC",
    lowercase: bool = True,
    strip_accents: bool = True,
    fold: Callable[[str], str] | None = None,
    squeeze: bool = True,
) -> list[str]:
    """Articles -> the strings a vectorizer sees (``field``: all, title or body).

    Shared by the ``TextField`` transformer and the compact predictor, so the
    two always prepare text the same way (``fold``: see :func:`normalize`).
    ``squeeze=False`` leaves runs of spaces as they are: the same words for
    ``str.split()``, for a caller that splits anyway (the compiled engine).
    """
    kw = {"unicode_form": unicode_form, "lowercase": lowercase, "strip_accents": strip_accents, "fold": fold, "squeeze": squeeze}
    if field == "all":
        return [normalize(compose(a, title_weight), **kw) for a in articles]  # type: ignore[arg-type]
    return [normalize(getattr(fields(a), field), **kw) for a in articles]  # type: ignore[arg-type]
