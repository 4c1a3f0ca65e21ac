"""Agreement between two labellings of the same articles.

Used for the corpus datasheet (a second, blind labelling of a sample against
the first) and by ``newstag data agree`` for teams that double-label their own
data before training on it. Scores treat the first labelling as reference:
micro-F1 of the second against it, which is symmetric in the counts that
matter (labels both gave, labels only one gave).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newstag.schema.labels import KINDS


@dataclass
class Agreement:
    """Counts of one task: per label ``[both, only_first, only_second]``."""

    kind: str
    articles: int = 0
    exact: int = 0
    per_label: dict[str, list[int]] = field(default_factory=dict)

    @staticmethod
    def _f1(both: int, only_a: int, only_b: int) -> float | None:
        total = 2 * both + only_a + only_b
        return 2 * both / total if total else None

    @property
    def micro_f1(self) -> float | None:
        sums = [sum(c[k] for c in self.per_label.values()) for k in range(3)]
        return self._f1(*sums)

    def label_f1(self, label: str) -> float | None:
        return self._f1(*self.per_label.get(label, [0, 0, 0]))

    @property
    def disagreements(self) -> int:
        return sum(c[1] + c[2] for c in self.per_label.values())


def read_labels(path: str | Path) -> dict[str, dict[str, Any]]:
    """``id -> record`` from a JSON Lines file of ``{"id", "topics", "actors"}``."""
    out: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                    out[str(row["id"])] = row
                except (ValueError, KeyError) as exc:
                    raise ValueError(f"{path}:{n}: expected a JSON object with an 'id' ({exc})") from exc
    return out


def compare(first: Mapping[str, Mapping[str, Any]], second: Mapping[str, Mapping[str, Any]], kinds: Sequence[str] = KINDS) -> dict[str, Agreement]:
    """Agreement per task over the articles both labellings cover."""
    shared = sorted(set(first) & set(second))
    out = {}
    for kind in kinds:
        agr = Agreement(kind, articles=len(shared))
        for i in shared:
            a, b = set(first[i].get(kind) or []), set(second[i].get(kind) or [])
            agr.exact += a == b
            for label, k in [*((x, 0) for x in a & b), *((x, 1) for x in a - b), *((x, 2) for x in b - a)]:
                agr.per_label.setdefault(label, [0, 0, 0])[k] += 1
        out[kind] = agr
    return out
