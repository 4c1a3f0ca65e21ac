"""What runs on the Spark executors: rows in, labels out, with the compact engine.

Executors may have no scikit-learn and never unpickle anything: the model
arrives as the bytes of its compact form (``model.compact.npz``), is checked
against the manifest's sha256 *here*, with the message the local loader gives
(:func:`newstag.registry.store.check_compact_bytes`), once per shipment and
process, and is loaded once per executor (Python worker) process:
:data:`_MODELS` is a module-level cache keyed by the hash, which outlives the
tasks because Spark reuses its Python workers.

Each row goes through the local CLI's own validation
(:class:`newstag.data.loading.Validator`) and scoring
(:meth:`newstag.serve.predict.Labeller.probabilities` and its decision rule), so a row that fails locally
fails here with the same message and a row labelled locally gets the same
labels. Nothing here imports pyspark: the function handed to ``mapInPandas``
works on pandas frames, and tests call it directly.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newstag.data.loading import Validator, _Row
from newstag.data.records import Problem, Record
from newstag.engine import compact
from newstag.registry.store import check_compact_bytes
from newstag.serve.predict import Labeller

#: columns the reader adds for the command line path (see :mod:`newstag.spark.job`)
FILE_COL, ROW_COL, LINE_COL = "_newstag_file", "_newstag_row", "_newstag_line"
META_COLS = (FILE_COL, ROW_COL, LINE_COL)
ERROR_COL, MODELS_COL = "error", "models"

_NO_LINE: Any = None  # JSON Lines read in splits have no line numbers (Problem prints none)
_MODELS: dict[str, Labeller] = {}  # sha256 -> loaded model, one per worker process
_CHECKED: set[tuple[int, str]] = set()  # (broadcast id, sha256) whose bytes this process has verified
LOADS: Counter[str] = Counter()  # sha256 -> times loaded in this process (tests check it stays 1)


@dataclass(frozen=True)
class ShippedModel:
    """A model as the executors receive it: its compact bytes (or a Spark
    ``Broadcast`` of them) and what the manifest says they must hash to."""

    ref: str  # "topics@v3", the version written in the output
    task: str
    path: str  # the compact file on the driver, named in error messages
    sha256: str
    payload: Any  # bytes, or a Broadcast whose .value is the bytes

    def data(self) -> bytes:
        return self.payload.value if hasattr(self.payload, "value") else self.payload


def labeller(model: ShippedModel) -> Labeller:
    """The verified, loaded model.

    The bytes of every shipment (broadcast) are hashed once per process, so
    tampered bytes are refused even when this worker already holds the genuine
    model; the model is then loaded once per process, keyed by its hash.
    """
    bid = getattr(model.payload, "id", None)  # a Broadcast's id; raw bytes are checked on every call
    if bid is None or (bid, model.sha256) not in _CHECKED:
        check_compact_bytes(model.data(), model.sha256, model.path)
        if bid is not None:
            _CHECKED.add((bid, model.sha256))
    cached = _MODELS.get(model.sha256)
    if cached is None:
        cached = Labeller(compact.load_bytes(model.data()), {"task": model.task}, model.ref)
        _MODELS[model.sha256] = cached
        LOADS[model.sha256] += 1
    return cached


@dataclass(frozen=True)
class Spec:
    """Everything the executor function needs, shipped with it (small: the
    model bytes travel as broadcasts inside ``models``)."""

    models: tuple[ShippedModel, ...]
    columns: Mapping[str, str] = field(default_factory=dict)  # FIELD -> input column name
    threshold: float | None = None
    batch_size: int = 1000
    keep_input: bool = False  # label_dataframe: the input columns stay in the output

    @property
    def tasks(self) -> list[str]:
        return [m.task for m in self.models]


def output_fields(tasks: Sequence[str]) -> list[tuple[str, str]]:
    """The label columns as (name, Spark SQL type): see :func:`newstag.spark.job.label_dataframe`."""
    out = []
    for task in tasks:
        out += [(task, "array<string>"), (f"{task}_probabilities", "map<string,double>")]
    return [*out, (MODELS_COL, "map<string,string>"), (ERROR_COL, "string")]


def _clean(value: Any) -> Any:
    """pandas/Arrow scalars -> plain Python (numpy ints and floats, pandas NA)."""
    if value is None or (isinstance(value, float) and value != value):  # NaN: a null in a pandas column
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is always there with mapInPandas
        pass
    return value


def _row(values: dict[str, Any], spec: Spec) -> _Row:
    """One input row as the local reader would produce it: a JSON Lines line
    is parsed here (so wrong types stay wrong types), a table row is taken as is."""
    file = values.pop(FILE_COL, None) or "<dataframe>"
    row_no = values.pop(ROW_COL, None)
    line = values.pop(LINE_COL, None)
    if line is not None:  # a JSON Lines record, read as text
        id_col = spec.columns.get("id", "id")
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = Problem(file, _NO_LINE, None, f"malformed JSON ({exc.msg} at column {exc.colno}): {line[:60]!r}", "fix or remove the line")
            return _Row(file, _NO_LINE, {}, (problem,))
        if not isinstance(parsed, dict):
            return _Row(file, _NO_LINE, {}, (Problem(file, _NO_LINE, None, f"expected a JSON object, got {type(parsed).__name__}", "one object per line"),))
        if parsed.get(id_col) in (None, ""):
            # no line numbers in a split file: a content hash names the record, the same on every run
            parsed[id_col] = f"{file}#{hashlib.sha1(line.encode('utf-8')).hexdigest()[:12]}"
        return _Row(file, _NO_LINE, parsed)
    return _Row(file, int(row_no) if row_no is not None else _NO_LINE, values)


def _source(row: _Row) -> str:
    return row.file if row.line is None else f"{row.file}:{row.line}"


def label_rows(rows: Sequence[dict[str, Any]], spec: Spec) -> list[dict[str, Any]]:
    """Label plain row dicts; one output dict per row, in order (the output
    columns of :func:`output_fields`, plus ``id`` and ``source``)."""
    labellers = [labeller(m) for m in spec.models]
    validator = Validator(None, dict(spec.columns), read_labels=False, unique_ids=False, require_id=False)
    out: list[dict[str, Any]] = []
    pending: list[tuple[int, Record]] = []
    for values in rows:
        parsed = _row({k: _clean(v) for k, v in values.items()}, spec)
        record, problems = validator.check(parsed)
        raw_id = parsed.values.get(validator.columns["id"])
        o: dict[str, Any] = {"id": None if raw_id is None else str(raw_id), "source": _source(parsed), MODELS_COL: None, ERROR_COL: None}
        for task in spec.tasks:
            o[task] = o[f"{task}_probabilities"] = None
        if record is None:
            o[ERROR_COL] = "; ".join(str(p) for p in problems)
        else:
            o["id"] = record.id
            pending.append((len(out), record))
        out.append(o)
    for start in range(0, len(pending), spec.batch_size):
        chunk = pending[start : start + spec.batch_size]
        records = [r for _, r in chunk]
        prepared: dict = {}  # one text preparation for every model, as in predict_batch
        for lab in labellers:
            P = lab.probabilities(records, prepared)
            # the local CLI's decision (thresholds, order: most probable first)
            for (i, _), row, preds in zip(chunk, P, lab._decide(P, spec.threshold)):
                out[i][lab.task] = [p["label"] for p in preds]
                out[i][f"{lab.task}_probabilities"] = {label: float(p) for label, p in zip(lab.labels, row)}
        for i, _ in chunk:
            out[i][MODELS_COL] = {lab.task: lab.ref for lab in labellers}
    return out


def label_frames(frames: Iterator[Any], spec: Spec) -> Iterator[Any]:
    """The ``mapInPandas`` function: each pandas batch of input rows becomes a
    batch of output rows (the input columns first when ``spec.keep_input``)."""
    import pandas as pd

    names = [n for n, _ in output_fields(spec.tasks)]
    for frame in frames:
        inputs = [c for c in frame.columns if c not in META_COLS]
        results = label_rows(frame.to_dict("records"), spec)
        if spec.keep_input:
            cols = {c: frame[c].to_numpy() for c in inputs}
            cols.update({n: [r[n] for r in results] for n in names})
        else:
            cols = {n: [r[n] for r in results] for n in ("id", "source", *names)}
        yield pd.DataFrame(cols)
