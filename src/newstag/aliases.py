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

from newstag.text import fields, fold_accents, lower_same_length


def trie_pattern(words: Sequence[str]) -> str:
    """A regex alternation shaped as a trie: one pass over the text, longest
    alias first, whatever the number of aliases."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(trie)


def _compile(keys: Sequence[str]) -> re.Pattern | None:
    return re.compile(r"(?<!\w)(" + trie_pattern(sorted(keys)) + r")(?!\w)") if keys else None


class AliasMatcher:
    """Find the aliases of ``labels`` in text.

    ``loose`` maps folded, lower-cased aliases to label indices; ``exact``
    maps folded, case-preserved aliases to label indices.
    """

    def __init__(self, labels: Sequence[str], loose: Mapping[str, Sequence[int]], exact: Mapping[str, Sequence[int]]):
        self.labels = list(labels)
        self.loose = {k: list(v) for k, v in loose.items()}
        self.exact = {k: list(v) for k, v in exact.items()}
        self._loose_re = _compile(list(self.loose))
        self._exact_re = _compile(list(self.exact))

    @staticmethod
    def key(alias: str, case_sensitive: bool = False) -> str:
        folded = fold_accents(alias)
        return folded if case_sensitive else lower_same_length(folded)

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        """Sorted unique ``(start, end, label index)`` hits."""
        folded = fold_accents(text)
        hits: set[tuple[int, int, int]] = set()  # an alias in both lists counts once
        if self._loose_re is not None:
            for m in self._loose_re.finditer(lower_same_length(folded)):
                hits.update((m.start(), m.end(), i) for i in self.loose[m.group(1)])
        if self._exact_re is not None:
            for m in self._exact_re.finditer(folded):
                hits.update((m.start(), m.end(), i) for i in self.exact[m.group(1)])
        return sorted(hits)

    def find(self, text: str) -> list[tuple[str, int, int, str]]:
        """Hits as ``(label, start, end, matched text)``."""
        return [(self.labels[i], s, e, text[s:e]) for s, e, i in self.spans(text)]

    def counts(self, text: str) -> np.ndarray:
        out = np.zeros(len(self.labels))
        for _, _, i in self.spans(text):
            out[i] += 1
        return out

    def matrix(self, articles: Sequence[object], title_separate: bool = True, sublinear: bool = True) -> np.ndarray:
        """Alias counts per article: title and body columns apart (or one
        block), ``log1p`` when ``sublinear``. Dense: one row per article."""
        width = len(self.labels) * (2 if title_separate else 1)
        rows = []
        for article in articles:
            f = fields(article)
            if title_separate:
                rows.append(np.concatenate([self.counts(f.title), self.counts(f.body)]))
            else:
                rows.append(self.counts(f"{f.title}\n{f.body}"))
        out = np.vstack(rows) if rows else np.zeros((0, width))
        return np.log1p(out) if sublinear else out
