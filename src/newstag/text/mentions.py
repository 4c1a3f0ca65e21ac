"""How each actor appears in an article: the evidence that tells an actor that
acts from a name that passes.

Alias counts say *that* Italy is named; they cannot say that "ROMA –" is a
dateline, that "the war in Ukraine" is backdrop, or that "Ankara said it would
host the next round" is an action in a single clause. For every actor with at
least one alias hit (a *candidate*) this module describes its mentions with
features shared by all actors, so that what is learned from one actor
("X said", "talks with X", "in X", "the war in X") helps the rare ones:

- ``l1=``/``r1=``/``l2=``/``r2=``/``w=``: the words around each hit with the
  name masked (``X`` for the candidate, ``A`` for any other actor's alias);
- ``in=``: where the hits stand (title, subtitle, lede, dateline, quote,
  closing paragraph, body) and ``only=dateline``/``only=quote`` when every hit
  does;
- ``hits``, ``share``, ``top``, ``alone``, ``candidates``: how often, and
  what share of the article's actor mentions;
- ``kind=``: the kind of alias (a person, an adjective, a name or an
  acronym), and ``actor=`` a per-actor prior.

Feature names are plain strings, readable in ``--explain`` and reports. Pure
Python over :class:`~newstag.text.aliases.AliasMatcher`; no scikit-learn.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from newstag.text.aliases import AliasMatcher
from newstag.text.preparation import fold_and_lower, lower_same_length

_TOKEN = re.compile(r"\w+|[«»“”\"()\-–—:]")
_PUNCT = frozenset('«»“”"()-–—:')
_OPEN, _CLOSE = frozenset("«“"), frozenset("»”")
_DASH = re.compile(r"[-–—]")
# what may stand before a dateline city: nothing, or an agency tag "(ANSA) - "
_DATELINE_PREFIX = re.compile(r"^\W*(?:\(?[A-Za-z][A-Za-z.]{1,15}\)?\s*[-–—:]\s*)?\W*$")
_SENTENCE_END = re.compile(r"[.!?]\s")


@dataclass(frozen=True)
class AliasKinds:
    """The kind of each alias key, for the ``kind=`` feature: ``person``
    (listed under ``people``), ``adjective`` (written lower-case in the
    schema: *russo*, *statunitense*), ``acronym`` (case-sensitive) or ``name``."""

    people: frozenset[str]
    adjectives: frozenset[str]
    acronyms: frozenset[str]

    def of(self, matched: str) -> str:
        folded = fold_and_lower(matched)[0]
        key = lower_same_length(folded)
        if key in self.people:
            return "person"
        if folded in self.acronyms:
            return "acronym"
        # "ucraina" is both the adjective and the country: the written case decides
        return "adjective" if key in self.adjectives and matched[:1].islower() else "name"


def alias_kinds(people: Iterable[str], loose: Iterable[str], exact: Iterable[str]) -> AliasKinds:
    """Build :class:`AliasKinds` from the schema's alias lists (as written)."""
    return AliasKinds(
        people=frozenset(AliasMatcher.key(a) for a in people),
        adjectives=frozenset(AliasMatcher.key(a) for a in loose if a[:1].islower()),
        acronyms=frozenset(AliasMatcher.key(a, case_sensitive=True) for a in exact),
    )


def _quote_regions(text: str) -> list[tuple[int, int]]:
    """Spans inside «», “” or straight double quotes (unbalanced ones close at
    the end of their paragraph)."""
    regions, start, depth, straight = [], 0, 0, False
    for i, ch in enumerate(text):
        if ch in _OPEN:
            if depth == 0 and not straight:
                start = i
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
            if depth == 0 and not straight:
                regions.append((start, i))
        elif ch == '"':
            if not straight and depth == 0:
                start, straight = i, True
            elif straight:
                regions.append((start, i))
                straight = False
        elif ch == "\n" and (depth or straight) and text[i + 1 : i + 2] == "\n":
            regions.append((start, i))
            depth, straight = 0, False
    if depth or straight:
        regions.append((start, len(text)))
    return regions


def _is_dateline(body: str, start: int, end: int) -> bool:
    """A hit that opens the body (after an optional agency tag) and is followed
    by a dash before the first sentence ends: "ROMA –", "Roma, 3 marzo –",
    "(ANSA) - BRUXELLES, 5 GIU -", "BERLIN (Reuters) -"."""
    if start > 40 or not _DATELINE_PREFIX.match(body[:start]):
        return False
    after = body[end : end + 45]
    stop = _SENTENCE_END.search(after)
    dash = _DASH.search(after)
    return dash is not None and (stop is None or dash.start() < stop.start())


def _paragraph_spans(body: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for part in body.split("\n\n"):
        if part.strip():
            spans.append((pos, pos + len(part)))
        pos += len(part) + 2
    return spans


@dataclass
class _Hit:
    actor: int
    field: str
    start: int
    end: int
    matched: str


class MentionFeaturizer:
    """Articles -> per-candidate feature dicts (see the module docstring).

    Parameters
    ----------
    matcher : AliasMatcher
        The schema's aliases (from a fitted ``AliasCounter``).
    kinds : AliasKinds
        Alias kinds for the ``kind=`` feature.
    window : int
        Words on each side of a hit that count as its context.
    """

    def __init__(self, matcher: AliasMatcher, kinds: AliasKinds, window: int = 6):
        self.matcher = matcher
        self.kinds = kinds
        self.window = window

    # ------------------------------------------------------------------ parts

    def _fields(self, article: Any) -> list[tuple[str, str]]:
        if isinstance(article, str):
            return [("body", article)]
        get = article.get if isinstance(article, (dict, Mapping)) else (lambda k, d="": getattr(article, k, d))
        return [(name, str(get(key, "") or "")) for name, key in (("title", "title"), ("subtitle", "subtitle"), ("body", "text"))]

    @staticmethod
    def _masked(tokens: list[tuple[int, int, str]], hits: Sequence[_Hit]) -> tuple[list[str | int], list[int]]:
        """The field's tokens with each hit collapsed into one hit number, and
        where each hit stands in that sequence (-1: on no token). Overlapping
        hits ("Casa Bianca", "Bianca") share the first one's place."""
        spans = sorted((h.start, h.end, n) for n, h in enumerate(hits))
        seq: list[str | int] = []
        at = [-1] * len(hits)
        k = 0
        for s, _, tok in tokens:
            while k < len(spans) and spans[k][1] <= s:
                k += 1
            inside = [n for hs, he, n in spans[k : k + 6] if hs <= s < he]
            if not inside:
                seq.append(tok)
                continue
            if not (seq and not isinstance(seq[-1], str) and seq[-1] in inside):
                seq.append(inside[0])
            for n in inside:
                if at[n] < 0:
                    at[n] = len(seq) - 1
        return seq, at

    def _window_keys(self, seq: list[str | int], at: int, hits: Sequence[_Hit]) -> list[str]:
        """The context features of the hit placed at ``seq[at]``, in the order
        they are counted (none when the hit is on no token)."""
        if at < 0:
            return []
        actor = hits[int(seq[at])].actor
        masked = lambda t: t if isinstance(t, str) else ("X" if hits[t].actor == actor else "A")  # noqa: E731
        left = [masked(t) for t in seq[max(0, at - self.window) : at]]
        right = [masked(t) for t in seq[at + 1 : at + 1 + self.window]]
        keys = [f"l1={left[-1]}" if left else "l1=^", f"r1={right[0]}" if right else "r1=$"]
        if len(left) >= 2:
            keys.append(f"l2={left[-2]} {left[-1]}")
        if len(right) >= 2:
            keys.append(f"r2={right[0]} {right[1]}")
        keys.extend(f"w={t}" for t in {t for t in left + right if t not in _PUNCT})
        return keys

    def _hit_windows(self, lowered: str, hits: Sequence[_Hit]) -> list[list[str]]:
        """Context features of each hit of one field (``lowered``: the field
        folded and lower-cased, same length). A hook: the compiled front end
        (:mod:`newstag.engine.frontend`) replaces it, with the same output."""
        seq, at = self._masked([(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(lowered)], hits)
        return [self._window_keys(seq, at[n], hits) for n in range(len(hits))]

    def _quotes(self, text: str) -> list[tuple[int, int]]:
        """Quoted spans of a field (a hook, as :meth:`_hit_windows`)."""
        return _quote_regions(text)

    def _kind(self, matched: str) -> str:
        """The ``kind=`` of a matched alias (a hook, as :meth:`_hit_windows`)."""
        return self.kinds.of(matched)

    # ------------------------------------------------------------------- main

    def candidates(self, article: Any) -> dict[int, dict[str, float]]:
        """Feature dicts of every actor with at least one hit, keyed by the
        actor's index in ``matcher.labels``."""
        hits_by_field: dict[str, list[_Hit]] = {}
        texts = dict(self._fields(article))
        for name, text in texts.items():
            if text:
                hits_by_field[name] = [_Hit(i, name, s, e, text[s:e]) for s, e, i in self.matcher.spans(text)]
        all_hits = [h for hs in hits_by_field.values() for h in hs]
        if not all_hits:
            return {}
        counts = Counter(h.actor for h in all_hits)
        top = max(counts.values())
        feats: dict[int, Counter] = defaultdict(Counter)
        positions: dict[int, list[set[str]]] = defaultdict(list)
        for name, hits in hits_by_field.items():
            text = texts[name]
            quotes = self._quotes(text)
            paragraphs = _paragraph_spans(text) if name == "body" else []
            windows = self._hit_windows(fold_and_lower(text)[1], hits)
            for n, h in enumerate(hits):
                f = feats[h.actor]
                for key in windows[n]:
                    f[key] += 1
                where = {name}
                if any(a < h.start < b for a, b in quotes):
                    where.add("quote")
                if name == "body":
                    if _is_dateline(text, h.start, h.end):
                        where.add("dateline")
                    if paragraphs and h.start < paragraphs[0][1] and not (len(paragraphs) == 1 and h.start > 400):
                        where.add("lede")
                    if len(paragraphs) >= 3 and h.start >= paragraphs[-1][0]:
                        where.add("last")
                positions[h.actor].append(where)
                f[f"kind={self._kind(h.matched)}"] += 1
        total = len(all_hits)
        out: dict[int, dict[str, float]] = {}
        for actor, f in feats.items():
            row = {k: math.log1p(v) for k, v in f.items()}
            wheres = positions[actor]
            for place in set().union(*wheres):
                row[f"in={place}"] = 1.0
            for only in ("dateline", "quote", "title"):
                if all(only in w for w in wheres):
                    row[f"only={only}"] = 1.0
            row["hits"] = math.log1p(counts[actor])
            row["share"] = counts[actor] / total
            row["top"] = float(counts[actor] == top)
            row["alone"] = float(len(counts) == 1)
            row["candidates"] = math.log1p(len(counts))
            row["headline_only"] = float(not texts.get("body") and not texts.get("subtitle"))
            row[f"actor={self.matcher.labels[actor]}"] = 1.0
            out[actor] = row
        return out
