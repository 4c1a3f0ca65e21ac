"""The label schema: topic and actor ids, names and aliases.

Everything that needs a label id or an alias reads it from a schema file
(``data/labels.yaml`` by default, or one the user gives); nothing else in the
code base spells a label.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from newstag.core import paths

KINDS = ("topics", "actors")


@dataclass(frozen=True)
class Label:
    id: str
    it: str
    en: str
    definition: str
    aliases: tuple[str, ...] = ()  # matched case-insensitively
    exact: tuple[str, ...] = ()  # matched case-sensitively (acronyms)
    people: tuple[str, ...] = ()  # the subset of ``aliases`` that name persons


@dataclass(frozen=True)
class LabelSchema:
    topics: tuple[Label, ...]
    actors: tuple[Label, ...]
    source: str = ""
    _index: dict[str, dict[str, Label]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for kind in KINDS:
            labels = getattr(self, kind)
            ids = [lab.id for lab in labels]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{self.source}: duplicate {kind} ids {dupes}")
            self._index[kind] = {lab.id: lab for lab in labels}

    def ids(self, kind: str) -> list[str]:
        """Label ids of ``kind`` ("topics" or "actors") in schema order."""
        return [lab.id for lab in self._labels(kind)]

    def get(self, kind: str, label_id: str) -> Label:
        return self._index[self._check_kind(kind)][label_id]

    def suggest(self, kind: str, unknown: str) -> str | None:
        """The known id closest to ``unknown``, for "did you mean" messages."""
        lowered = unknown.strip().lower().replace("-", "_").replace(" ", "_")
        if lowered in self._index[self._check_kind(kind)]:
            return lowered
        by_name = {name.lower(): lab.id for lab in self._labels(kind) for name in (lab.it, lab.en, *lab.aliases)}
        if unknown.strip().lower() in by_name:
            return by_name[unknown.strip().lower()]
        containing = [i for i in self.ids(kind) if lowered in i]
        if len(containing) == 1 and len(lowered) >= 3:
            return containing[0]
        match = difflib.get_close_matches(lowered, self.ids(kind), n=1, cutoff=0.75)
        if match:
            return match[0]
        match = difflib.get_close_matches(unknown.strip().lower(), list(by_name), n=1, cutoff=0.8)
        return by_name[match[0]] if match else None

    def _check_kind(self, kind: str) -> str:
        if kind not in KINDS:
            raise KeyError(f"unknown label kind {kind!r}; expected one of {KINDS}")
        return kind

    def _labels(self, kind: str) -> tuple[Label, ...]:
        return getattr(self, self._check_kind(kind))


def _as_label(entry: dict, source: str, kind: str, n: int) -> Label:
    missing = [k for k in ("id", "it", "en", "definition") if not entry.get(k)]
    if missing:
        raise ValueError(f"{source}: {kind}[{n}] lacks {', '.join(missing)}")
    raw = entry.get("aliases") or {}
    loose: list[str] = []
    for key in ("people", "it", "en"):
        loose.extend(str(a) for a in raw.get(key) or [])
    exact = [str(a) for a in raw.get("exact") or []]
    dedupe = lambda xs: tuple(dict.fromkeys(x.strip() for x in xs if x.strip()))  # noqa: E731
    return Label(
        id=str(entry["id"]),
        it=str(entry["it"]),
        en=str(entry["en"]),
        definition=str(entry["definition"]),
        aliases=dedupe(loose),
        exact=dedupe(exact),
        people=dedupe(str(a) for a in raw.get("people") or []),
    )


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> LabelSchema:
    import yaml  # here, not at import time: predicting never reads YAML (~25 ms of a cold start)

    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    parts = {}
    for kind in KINDS:
        entries = doc.get(kind)
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{path}: the schema needs a non-empty '{kind}' list")
        parts[kind] = tuple(_as_label(e, path, kind, n) for n, e in enumerate(entries))
    return LabelSchema(topics=parts["topics"], actors=parts["actors"], source=path)


def load_schema(path: str | Path | None = None) -> LabelSchema:
    """Load a label schema (default: the bundled ``data/labels.yaml``)."""
    resolved = paths.resolve(path) if path else paths.default_schema()
    if not resolved.is_file():
        raise FileNotFoundError(f"label schema not found: {resolved}")
    return _load_cached(str(resolved), resolved.stat().st_mtime)


def binarize(records: Sequence[Any], kind: str, labels: Sequence[str]) -> np.ndarray:
    """Label matrix (records x labels) of one task."""
    index = {label: j for j, label in enumerate(labels)}
    Y = np.zeros((len(records), len(labels)), dtype=int)
    for i, r in enumerate(records):
        for label in r.labels(kind):
            Y[i, index[label]] = 1
    return Y
