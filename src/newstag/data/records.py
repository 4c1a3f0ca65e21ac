"""Article records: the one record type every format is read into, the
validation problem types, and what is derived from records (JSON Lines
output, the format-independent fingerprint, the article's shape).

Reading and validating files is :mod:`newstag.data.loading`.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newstag.schema.labels import KINDS

FIELDS = ("id", "lang", "title", "subtitle", "text", "topics", "actors")


@dataclass(frozen=True)
class Record:
    """One article. ``topics``/``actors`` are ``None`` when the source has no
    labels (prediction input) and a tuple when it has them (maybe empty)."""

    id: str
    title: str = ""
    text: str = ""
    subtitle: str = ""
    lang: str = ""
    topics: tuple[str, ...] | None = None
    actors: tuple[str, ...] | None = None
    source: str = field(default="", compare=False)  # "file:line", for messages

    def labels(self, kind: str) -> tuple[str, ...]:
        value = getattr(self, kind)
        return value if value is not None else ()

    def canonical(self) -> dict[str, Any]:
        """Format-independent content, the basis of the fingerprint."""
        out: dict[str, Any] = {k: unicodedata.normalize("NFC", getattr(self, k)) for k in ("id", "lang", "title", "subtitle", "text")}
        for kind in KINDS:
            value = getattr(self, kind)
            out[kind] = sorted(value) if value is not None else None
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "lang": self.lang, "title": self.title}
        if self.subtitle:
            out["subtitle"] = self.subtitle
        out["text"] = self.text
        for kind in KINDS:
            if getattr(self, kind) is not None:
                out[kind] = list(getattr(self, kind))
        return out


@dataclass(frozen=True)
class Problem:
    """A validation problem, located precisely enough to fix it."""

    file: str
    line: int | None  # 1-based line (JSONL, txt) or row (CSV, Parquet: data row + header)
    field: str | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        what = f" field '{self.field}':" if self.field else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}:{what} {self.message}{hint}"


class DataError(ValueError):
    """Raised in strict mode; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        head = f"{len(self.problems)} problem(s) in the input:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


@dataclass
class LoadResult:
    records: list[Record]
    problems: list[Problem]  # the records skipped (lenient mode) and why


# ------------------------------------------------------------- writing, fingerprint


def write_jsonl(records: Iterable[Record], path: str | Path) -> Path:
    from newstag.core.files import atomic_write_text

    lines = (json.dumps(r.to_json(), ensure_ascii=False) for r in records)
    return atomic_write_text(path, "".join(line + "\n" for line in lines))


def to_frame(records: Sequence[Record], label_sep: str | None = None):
    """Records as a pandas DataFrame (labels as lists, or joined by ``label_sep``)."""
    import pandas as pd

    rows = []
    for r in records:
        row = r.to_json()
        row.setdefault("subtitle", "")
        if label_sep is not None:
            for kind in KINDS:
                if kind in row:
                    row[kind] = label_sep.join(row[kind])
        rows.append(row)
    return pd.DataFrame(rows)


def fingerprint(records: Iterable[Record]) -> str:
    """sha256 over the canonical records, independent of file format, key
    order and record order (records are sorted by id)."""
    digest = hashlib.sha256()
    for canon in sorted((r.canonical() for r in records), key=lambda c: c["id"]):
        digest.update(json.dumps(canon, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def shape(record: Record) -> str:
    """``headline`` (title only), ``full`` (body of 250+ words) or ``lede``."""
    words = len(record.subtitle.split()) + len(record.text.split())
    if words == 0:
        return "headline"
    return "full" if len(record.text.split()) >= 250 else "lede"
