"""Alias matching without scikit-learn: shared by the ``AliasCounter``
transformer (training) and the compact predictor (fast loading).

Matching is accent- and case-insensitive on word boundaries, in one regex
pass shaped as a trie; ``exact`` aliases (acronyms such as ``US``/``UN``)
are case-sensitive. Offsets always index the original text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from newstag.text.preparation import fields, fold_accents, fold_and_lower, lower_same_length


def trie_pattern(words: Sequence[str], boundary_after_first: bool = False) -> str:
    """A regex alternation shaped as a trie: one pass over the text, longest
    alias first, whatever the number of aliases.

    ``boundary_after_first`` puts the "no word character before" check
    after each alias's first letter instead of before it, so the pattern
    starts with a set of letters and the regex engine skips in C to the
    next one. That pays when aliases start with letters rare in the text
    (the capitals of case-sensitive aliases: 4x faster); for lower-case
    aliases it is slower, because nearly every letter is a candidate.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict, top: bool = False) -> str:
        ends = "" in node
        check = top and boundary_after_first
        branches = [re.escape(ch) + (rf"(?<!\w{re.escape(ch)})" if check else "") + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(trie, top=True)


def _compile(keys: Sequence[str], boundary_after_first: bool = False) -> re.Pattern | None:
    """Aliases with no word character just before or after them."""
    if not keys:
        return None
    if boundary_after_first:
        return re.compile("(" + trie_pattern(sorted(keys), True) + r")(?!\w)")
    return re.compile(r"(?<!\w)(" + trie_pattern(sorted(keys)) + r")(?!\w)")


class AliasMatcher:
    """Find the aliases of ``labels`` in text.

    ``loose`` maps folded, lower-cased aliases to label indices; ``exact``
    maps folded, case-preserved aliases to label indices.
    """

    def __init__(self, labels: Sequence[str], loose: Mapping[str, Sequence[int]], exact: Mapping[str, Sequence[int]]):
        self.labels = list(labels)
        self.loose = {k: list(v) for k, v in loose.items()}
        self.exact = {k: list(v) for k, v in exact.items()}
        self._patterns: tuple[re.Pattern | None, re.Pattern | None] | None = None  # compiled on first use

    def patterns(self) -> tuple[re.Pattern | None, re.Pattern | None]:
        """The loose and exact regexes, compiled when first needed: building
        them costs ~0.1 s of a cold start, and the compiled engine's matcher
        (compiled tries) never uses them."""
        if getattr(self, "_patterns", None) is None:  # also a matcher pickled before this attribute existed
            self._patterns = (_compile(list(self.loose)), _compile(list(self.exact), boundary_after_first=True))
        assert self._patterns is not None
        return self._patterns

    @staticmethod
    def key(alias: str, case_sensitive: bool = False) -> str:
        folded = fold_accents(alias)
        return folded if case_sensitive else lower_same_length(folded)

    def _hits(self, text: str) -> set[tuple[int, int, int]]:
        folded, lowered = fold_and_lower(text)
        loose, exact = self.loose, self.exact
        loose_re, exact_re = self.patterns()
        # a set: an alias in both lists counts once
        hits = {(m.start(), m.end(), i) for m in loose_re.finditer(lowered) for i in loose[m.group(1)]} if loose_re else set()
        if exact_re is not None:
            hits.update((m.start(), m.end(), i) for m in exact_re.finditer(folded) for i in exact[m.group(1)])
        return hits

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """Sorted unique ``(start, end, label index)`` hits."""
        return sorted(self._hits(text))

    def find(self, text: str) -> list[tuple[str, int, int, str]]:
        """Hits as ``(label, start, end, matched text)``."""
        return [(self.labels[i], s, e, text[s:e]) for s, e, i in self.spans(text)]

    def matrix(self, articles: Sequence[object], title_separate: bool = True, sublinear: bool = True) -> np.ndarray:
        """Alias counts per article: title and body columns apart (or one
        block), ``log1p`` when ``sublinear``. Dense: one row per article."""
        articles = list(articles)
        k = len(self.labels)
        out = np.zeros((len(articles), k * (2 if title_separate else 1)))
        for row, article in enumerate(articles):
            f = fields(article)
            texts = ((0, f.title), (k, f.body)) if title_separate else ((0, f"{f.title}\n{f.body}"),)
            for offset, text in texts:
                for _, _, i in self._hits(text):
                    out[row, offset + i] += 1
        return np.log1p(out) if sublinear else out
