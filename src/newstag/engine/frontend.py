"""Which engine scores articles, and the compiled front end's pieces.

Two engines serve a compact model: ``numpy`` (pure Python and numpy, the
reference) and ``compiled`` (the same model with its hot loops in the Cython
extension :mod:`newstag.engine._frontend`, alias matching included). Both
give the same probabilities, explanations and alias offsets: each compiled
piece replaces a hook of the reference (:class:`~newstag.text.aliases.AliasMatcher`'s
``_hits``, :class:`~newstag.text.mentions.MentionFeaturizer`'s
``_hit_windows`` / ``_quotes`` / ``_kind``, the role scorer; in
:mod:`newstag.engine.compact`, the word cache's ``split``, the TF-IDF
blocks' ``_char_wb`` / ``_tokens`` / ``_word`` and text preparation's
accent folding) with a port of it.

The extension is optional: it is built at install time when a C compiler is
there (``setup.py``). ``auto`` picks ``compiled`` when it imports, else
``numpy``. Setting ``NEWSTAG_ENGINE=numpy`` in the environment turns the
extension off for ``auto`` (for comparisons, or to rule it out when
debugging).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from newstag.text.aliases import AliasMatcher
from newstag.text.mentions import AliasKinds, MentionFeaturizer
from newstag.text.preparation import _FOLD, _LOWER

ENGINES = ("auto", "compiled", "numpy")
ENV = "NEWSTAG_ENGINE"


class EngineUnavailable(RuntimeError):
    """The compiled engine was asked for and cannot run here."""


def _load() -> tuple[ModuleType | None, str]:
    """The extension, or why not."""
    try:
        from newstag.engine import _frontend  # type: ignore[attr-defined]  # built by setup.py
    except ImportError as exc:
        return None, f"the compiled extension is not built ({exc}); reinstall with a C compiler (pip install -e .)"
    return _frontend, ""


_FRONTEND, _WHY = _load()


def compiled_available() -> bool:
    return _FRONTEND is not None


def resolve(engine: str = "auto") -> str:
    """``compiled`` or ``numpy`` for a requested engine. ``auto`` follows
    ``NEWSTAG_ENGINE`` when set, else takes ``compiled`` when it imports.
    Asking for ``compiled`` where it cannot run raises
    :class:`EngineUnavailable` with the reason."""
    if engine == "auto":
        engine = os.environ.get(ENV, "auto").strip().lower() or "auto"
        if engine not in ENGINES:
            raise ValueError(f"{ENV}={engine!r}: expected one of {', '.join(ENGINES)}")
        if engine == "auto":
            return "compiled" if compiled_available() else "numpy"
    if engine not in ("compiled", "numpy"):
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "compiled" and not compiled_available():
        raise EngineUnavailable(_WHY)
    return engine


class CompiledAliasMatcher(AliasMatcher):
    """:class:`AliasMatcher` with both regex passes done by compiled tries
    (``_frontend.AliasIndex``): the same hits (word boundaries, longest alias
    first, no overlaps within a pass, ``exact`` case-sensitive), memoised
    for a batch, and the alias-count matrix built in the extension."""

    def __init__(self, labels: Sequence[str], loose: Mapping[str, Sequence[int]], exact: Mapping[str, Sequence[int]]):
        super().__init__(labels, loose, exact)
        if _FRONTEND is None:
            raise EngineUnavailable(_WHY)
        self.index = _FRONTEND.AliasIndex(self.loose, self.exact, _FOLD, _LOWER, _MEMO)

    @classmethod
    def like(cls, matcher: AliasMatcher) -> CompiledAliasMatcher:
        """The compiled matcher with ``matcher``'s aliases: one shared
        instance per alias set, so the alias-count block and the role
        stacker of a model (same schema) share its memo of recent texts."""
        key = json.dumps([matcher.labels, sorted(matcher.loose.items()), sorted(matcher.exact.items())], ensure_ascii=False)
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = cls(matcher.labels, matcher.loose, matcher.exact)
        return shared

    def _hits(self, text: str) -> set[tuple[int, int, int]]:
        return set(self.index.match(text)[0])

    def spans(self, text: str) -> list[tuple[int, int, int]]:
        return list(self.index.match(text)[0])

    def forget(self) -> None:
        """Drop the memo (the model calls it after each batch: memory stays
        that of one batch)."""
        self.index.forget()

    def lowered(self, text: str) -> str:
        """``fold_and_lower(text)[1]``, memoised with the hits (the mention
        featurizer reads it right after matching)."""
        return self.index.match(text)[1]

    def matrix(self, articles: Sequence[object], title_separate: bool = True, sublinear: bool = True) -> np.ndarray:
        """:meth:`AliasMatcher.matrix` in one compiled pass that matches
        the title, subtitle and text apart (the fields the mention features
        match next, so they find them memoised)."""
        if not self.index.joinable:  # an alias with a line break could cross the joins
            return super().matrix(articles, title_separate, sublinear)
        return self.index.counts(list(articles), title_separate, sublinear, len(self.labels))


_SHARED: dict[str, CompiledAliasMatcher] = {}
_MEMO = 8192


class CompiledMentionFeaturizer(MentionFeaturizer):
    """:class:`MentionFeaturizer` with :meth:`candidates` and its per-token
    loops compiled (ports with the same output) and the alias kinds memoised
    (a few hundred distinct aliases occur)."""

    def __init__(self, matcher: AliasMatcher, kinds: AliasKinds, window: int = 6):
        if _FRONTEND is None:
            raise EngineUnavailable(_WHY)
        super().__init__(matcher if isinstance(matcher, CompiledAliasMatcher) else CompiledAliasMatcher.like(matcher), kinds, window)
        self._kinds: dict[str, str] = {}

    def candidates(self, article: Any) -> dict[int, dict[str, float]]:
        assert _FRONTEND is not None
        return _FRONTEND.candidates(self, article)

    def _hit_windows(self, lowered: str, hits: Sequence[Any]) -> list[list[str]]:
        assert _FRONTEND is not None
        return _FRONTEND.hit_windows(lowered, [(h.start, h.end, h.actor) for h in hits], self.window)

    def _quotes(self, text: str) -> list[tuple[int, int]]:
        assert _FRONTEND is not None
        return _FRONTEND.quote_regions(text)

    def _kind(self, matched: str) -> str:
        kind = self._kinds.get(matched)
        if kind is None:
            if len(self._kinds) > 10_000:  # bounded on endless streams
                self._kinds.clear()
            kind = self._kinds[matched] = self.kinds.of(matched)
        return kind


def fold_and_lower(text: str) -> tuple[str, str]:
    """Compiled :func:`newstag.text.preparation.fold_and_lower` (one pass
    over the text, the same fold and lower-case tables)."""
    assert _FRONTEND is not None
    return _FRONTEND.fold_and_lower(text, _FOLD, _LOWER)


def fold_accents(text: str) -> str:
    """Compiled :func:`newstag.text.preparation.fold_accents`."""
    assert _FRONTEND is not None
    return _FRONTEND.fold_and_lower(text, _FOLD, None)


def kernels() -> ModuleType:
    """The extension module, whose TF-IDF ports (``word_tokens``,
    ``char_wb_columns``, ``word_columns``) :class:`~newstag.engine.compact._Tfidf`
    calls when the compiled engine serves."""
    if _FRONTEND is None:
        raise EngineUnavailable(_WHY)
    return _FRONTEND


def role_score(feats: dict[str, float], vocab: dict[str, int], coef: Any, intercept: float) -> float:
    """The candidate classifier's margin (compiled port of the sum in
    :meth:`newstag.engine.roles.CompactRoles._score`)."""
    assert _FRONTEND is not None
    return float(_FRONTEND.score(feats, vocab, coef, intercept))


def role_margins(featurizer: MentionFeaturizer, vocabulary: Sequence[str], coef: Any, intercept: float) -> Any:
    """``article -> {actor: margin}``: the candidate classifier's margins in
    one compiled pass (``_frontend.role_margins``), the same as scoring
    :meth:`MentionFeaturizer.candidates`' dicts to rounding; ``None`` when
    the vocabulary holds a feature that pass does not compute."""
    assert _FRONTEND is not None
    try:
        tables = _FRONTEND.RoleTables(list(vocabulary), list(featurizer.matcher.labels))
    except _FRONTEND.UnknownFeature:
        return None
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    margins = _FRONTEND.role_margins
    return lambda article: margins(featurizer, article, tables, coef, intercept)
