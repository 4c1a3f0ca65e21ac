"""Read and validate article files into :class:`~newstag.data.records.Record`.

One record type whatever the file format: JSON Lines, CSV (label lists as
``;``-separated cells), Parquet, or raw ``.txt`` articles (a file or a
directory of them). Column names are configurable.

Validation never loses a record silently: every problem names the file, the
line (or row) and the field, and says how to fix it. ``strict=True`` raises
:class:`DataError` listing *all* problems; ``strict=False`` skips the bad
records and returns each problem in :attr:`LoadResult.problems`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newstag.data.raw import parse_article
from newstag.data.records import FIELDS, DataError, LoadResult, Problem, Record
from newstag.schema.labels import KINDS, LabelSchema, load_schema

FORMATS = ("jsonl", "csv", "parquet", "txt")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".txt": "txt"}

# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class _Row:
    file: str
    line: int
    values: dict[str, Any]
    problems: tuple[Problem, ...] = ()  # problems found while reading (decoding...)


def _iter_jsonl(path: Path) -> Iterator[_Row]:
    with open(path, "rb") as fh:
        yield from iter_jsonl_stream(fh, path)


def iter_jsonl_stream(fh: Iterable[bytes], path: str | Path, start: int = 1) -> Iterator[_Row]:
    """Rows of a JSON Lines byte stream (a file, or standard input)."""
    for n, raw in enumerate(fh, start):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _Row(str(path), n, {}, (Problem(str(path), n, None, f"non-UTF-8 bytes at column {exc.start + 1}", "save the file as UTF-8"),))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _Row(
                str(path), n, {}, (Problem(str(path), n, None, f"malformed JSON: {exc.msg} at column {exc.colno}", "each line must be one JSON object"),)
            )
            continue
        if not isinstance(value, dict):
            yield _Row(str(path), n, {}, (Problem(str(path), n, None, f"expected a JSON object, got {type(value).__name__}"),))
            continue
        yield _Row(str(path), n, value)


def _iter_csv(path: Path) -> Iterator[_Row]:
    data = path.read_bytes().decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(data, newline=""))
    for values in reader:
        line = reader.line_num
        bad = [k for k, v in values.items() if isinstance(v, str) and any("\udc80" <= c <= "\udcff" for c in v)]
        if bad:
            probs = tuple(Problem(str(path), line, k, "non-UTF-8 bytes", "save the file as UTF-8") for k in bad)
            yield _Row(str(path), line, {}, probs)
            continue
        if None in values:  # more cells than header columns
            yield _Row(str(path), line, {}, (Problem(str(path), line, None, "more cells than header columns", "quote cells that contain commas"),))
            continue
        yield _Row(str(path), line, {k: v for k, v in values.items() if k is not None})


def _iter_parquet(path: Path) -> Iterator[_Row]:
    import pyarrow.parquet as pq  # heavy: only when a Parquet file is read

    pf = pq.ParquetFile(path)
    row = 1
    for batch in pf.iter_batches(batch_size=10_000):
        for values in batch.to_pylist():
            row += 1  # row numbers count a header line, like CSV
            yield _Row(str(path), row, values)


def _iter_txt(path: Path, root: Path) -> Iterator[_Row]:
    try:
        content = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        yield _Row(str(path), line, {}, (Problem(str(path), line, None, "non-UTF-8 bytes", "save the file as UTF-8"),))
        return
    art = parse_article(content)
    rel = path.relative_to(root) if path != root else Path(path.name)
    values: dict[str, Any] = {"id": rel.with_suffix("").as_posix(), "title": art.title, "subtitle": art.subtitle, "text": art.body}
    sidecar = path.with_name(path.stem + ".labels.json")
    if sidecar.is_file():
        try:
            labels = json.loads(sidecar.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield _Row(str(sidecar), 1, {}, (Problem(str(sidecar), 1, None, f"unreadable labels file: {exc}"),))
            return
        if isinstance(labels, dict):
            values.update({k: labels[k] for k in KINDS if k in labels})
    yield _Row(str(path), 1, values)


def _txt_files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*.txt") if p.is_file())


def detect_format(path: str | Path) -> str:
    p = Path(path)
    if p.is_dir():
        return "txt"
    fmt = _SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise ValueError(f"{p}: unknown file type '{p.suffix}'; use one of {', '.join(sorted(_SUFFIXES))} or a directory of .txt files")
    return fmt


def iter_rows(path: str | Path, fmt: str | None = None) -> Iterator[_Row]:
    """Yield raw rows of one file or directory, streaming where the format allows."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or directory")
    fmt = fmt or detect_format(p)
    if fmt == "jsonl":
        yield from _iter_jsonl(p)
    elif fmt == "csv":
        yield from _iter_csv(p)
    elif fmt == "parquet":
        yield from _iter_parquet(p)
    elif fmt == "txt":
        files = _txt_files(p) if p.is_dir() else [p]
        for f in files:
            yield from _iter_txt(f, p if p.is_dir() else f.parent)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


# --------------------------------------------------------------------- validation


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # NaN from pandas


def _as_label_list(value: Any, sep: str) -> list[str] | None:
    """Labels as a list: JSON/Parquet lists, or ``;``-separated CSV cells."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(sep) if part.strip()]
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        items = list(value)
        if all(isinstance(x, str) for x in items):
            return [x.strip() for x in items]
    return None


class Validator:
    """Turn raw rows into records, collecting problems instead of failing fast."""

    def __init__(
        self,
        schema: LabelSchema | None,
        columns: Mapping[str, str] | None = None,
        require_labels: bool = False,
        label_sep: str = ";",
        read_labels: bool = True,
        unique_ids: bool = True,
        require_id: bool = True,
    ):
        self.schema = schema
        self.read_labels = read_labels or require_labels
        self.unique_ids = unique_ids  # off for streaming prediction: memory stays flat
        self.require_id = require_id  # off for prediction: the source location names the record
        self.columns = {f: (columns or {}).get(f, f) for f in FIELDS}
        self.require_labels = require_labels
        self.label_sep = label_sep
        self._seen: dict[str, str] = {}  # id -> first source

    def check(self, row: _Row) -> tuple[Record | None, list[Problem]]:
        if row.problems:
            return None, list(row.problems)
        probs: list[Problem] = []
        v = row.values

        def problem(fld: str | None, msg: str, hint: str = "") -> None:
            probs.append(Problem(row.file, row.line, fld, msg, hint))

        strings: dict[str, str] = {}
        for f in ("id", "lang", "title", "subtitle", "text"):
            col = self.columns[f]
            value = v.get(col)
            if _is_missing(value):
                if f == "text" and col not in v:
                    problem(col, "missing field", f"the record needs a '{col}' field (set the text column name if yours differs)")
                strings[f] = ""
            elif f == "id" and isinstance(value, int) and not isinstance(value, bool):
                strings[f] = str(value)
            elif not isinstance(value, str):
                problem(col, f"expected a string, got {type(value).__name__} {value!r:.40}")
                strings[f] = ""
            else:
                strings[f] = value
        if not strings["id"].strip() and not self.require_id:
            strings["id"] = f"{row.file}:{row.line}"
        if not strings["id"].strip() and not any(p.field == self.columns["id"] for p in probs):
            problem(self.columns["id"], "missing or empty id", "give every record a unique id")
        if not (strings["title"].strip() or strings["subtitle"].strip() or strings["text"].strip()) and not any(p.field == self.columns["text"] for p in probs):
            problem(self.columns["text"], "empty text: the record has neither a title nor a body", "remove the record or fill its text")

        labels: dict[str, tuple[str, ...] | None] = dict.fromkeys(KINDS)
        if self.read_labels and self.schema is not None:  # prediction input: labels, if any, are not our business
            for kind in KINDS:
                labels[kind] = self._labels(kind, v, problem)

        rid = strings["id"]
        if rid and not probs and self.unique_ids:
            first = self._seen.get(rid)
            if first is not None:
                problem(self.columns["id"], f"duplicate id {rid!r} (first seen at {first})", "ids must be unique")
            else:
                self._seen[rid] = f"{row.file}:{row.line}"
        if probs:
            return None, probs
        return Record(
            id=rid,
            title=strings["title"].strip(),
            subtitle=strings["subtitle"].strip(),
            text=strings["text"].strip(),
            lang=strings["lang"].strip(),
            topics=labels["topics"],
            actors=labels["actors"],
            source=f"{row.file}:{row.line}",
        ), []

    def _labels(self, kind: str, values: Mapping[str, Any], problem) -> tuple[str, ...] | None:
        col = self.columns[kind]
        raw = values.get(col)
        if _is_missing(raw):
            if self.require_labels:
                problem(col, "missing label list", f"labelled data needs a '{col}' field (an empty list is fine)")
            return None
        items = _as_label_list(raw, self.label_sep)
        if items is None:
            problem(col, f"expected a list of label ids, got {type(raw).__name__} {raw!r:.40}")
            return None
        assert self.schema is not None  # labels are read only with a schema (see check)
        known = set(self.schema.ids(kind))
        for item in items:
            if item not in known:
                guess = self.schema.suggest(kind, item)
                problem(col, f"unknown {kind[:-1]} id {item!r}", f"did you mean {guess!r}?" if guess else f"known ids: {', '.join(sorted(known))}")
        dupes = sorted({i for i in items if items.count(i) > 1})
        if dupes:
            problem(col, f"label(s) listed more than once: {', '.join(dupes)}", "list each label once")
        return tuple(items)


def load_records(
    paths: str | Path | Iterable[str | Path],
    *,
    schema: LabelSchema | str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    strict: bool = True,
    require_labels: bool = False,
    fmt: str | None = None,
) -> LoadResult:
    """Read and validate one or more files (or directories of ``.txt``).

    Ids must be unique across all the files given together.
    """
    schema = schema if isinstance(schema, LabelSchema) else load_schema(schema)
    if isinstance(paths, (str, Path)):
        paths = [paths]
    validator = Validator(schema, columns, require_labels)
    records: list[Record] = []
    problems: list[Problem] = []
    for path in paths:
        for row in iter_rows(path, fmt):
            record, probs = validator.check(row)
            if record is not None:
                records.append(record)
            problems.extend(probs)
    if strict and problems:
        raise DataError(problems)
    return LoadResult(records, problems)


def load_labelled(paths: str | Path | Iterable[str | Path], **kwargs: Any) -> list[Record]:
    """Strictly load labelled records (training and evaluation data)."""
    kwargs.setdefault("strict", True)
    return load_records(paths, require_labels=True, **kwargs).records
