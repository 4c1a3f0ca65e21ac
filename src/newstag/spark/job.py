"""The driver side of Spark labelling: the session, the models shipped to the
executors, the input reader, :func:`label_dataframe` and the job behind
``newstag predict --engine spark``.

The driver never hashes or loads the models: it reads each version's manifest
and the bytes of its compact form, broadcasts the bytes once, and the
executors check them against the manifest's sha256 before use
(:mod:`newstag.spark.executor`). A refusal there stops the job and comes back
to the driver as the same :class:`~newstag.registry.RegistryError` the local
loader raises.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newstag.registry import Registry, RegistryError
from newstag.spark.executor import ERROR_COL, FILE_COL, LINE_COL, ROW_COL, ShippedModel, Spec, label_frames, output_fields

PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".json.gz", ".ndjson.gz")
_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FIELDS = ("id", "lang", "title", "subtitle", "text")


class SparkUsageError(ValueError):
    """A problem the user fixes by changing the command (exit status 2)."""


def session(master: str | None = None, app_name: str = "newstag", conf: Mapping[str, str] | None = None):
    """The Spark session: the active one, else a new one on ``master``.

    Without ``master``: under ``spark-submit`` its ``--master`` and conf
    apply; otherwise ``local[*]``.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started the JVM and then this interpreter
    if not submitted and (master or "local").startswith("local"):
        # local workers: this interpreter (the venv with newstag), not the first python3 on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None or not submitted:
        builder = builder.master(master or "local[*]")
    for key, value in {"spark.sql.execution.arrow.pyspark.enabled": "true", **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# ----------------------------------------------------------------------- models


def _registry(registry: str | os.PathLike[str] | None) -> Registry:
    try:
        return Registry(registry)
    except FileNotFoundError:
        # outside a checkout (a cluster node with the wheel): model folders passed by path still resolve
        return Registry(Path.cwd() / "registry")


def ship_models(spark: Any, refs: Sequence[str], registry: str | os.PathLike[str] | None = None) -> list[ShippedModel]:
    """Resolve each reference (``topics@production``, a model folder...),
    read its compact form and broadcast it; the executors verify it.

    Raises :class:`~newstag.registry.RegistryError` for an unknown model, two
    models of one task, or a model without a compact form (the executors run
    without scikit-learn, so the pickled pipeline cannot be used there).
    """
    reg = _registry(registry)
    shipped = []
    for ref in refs:
        target = reg.resolve(ref)
        manifest = reg.manifest(target)
        info = manifest.get("compact") or {}
        if not info.get("file"):
            why = info.get("unsupported", "registered before compact models existed") if isinstance(info, dict) else info
            raise RegistryError(
                f"{target} has no compact form ({why}); the Spark engine serves the compact form only (executors have no scikit-learn). "
                "Use a model the compact engine supports (see `newstag models show`) or label locally with --engine sklearn"
            )
        path = target.path / info["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RegistryError(f"{path}: cannot read ({exc.strerror})") from exc
        payload = spark.sparkContext.broadcast(data)
        shipped.append(ShippedModel(str(target), manifest.get("task", target.task), str(path), str(info.get("sha256")), payload))
    tasks = [m.task for m in shipped]
    if len(set(tasks)) != len(tasks):
        raise RegistryError(f"two models for the same task: {', '.join(m.ref for m in shipped)}")
    return shipped


def default_refs(registry: str | os.PathLike[str] | None = None, tasks: Sequence[str] = ("topics", "actors")) -> list[str]:
    reg = _registry(registry)
    return [reg.default_ref(t) for t in tasks]


# ----------------------------------------------------------------------- labelling


def _schema_ddl(fields: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in fields)


def _registry_error(exc: BaseException) -> RegistryError | None:
    """A model refused on an executor reaches the driver as a Python
    traceback inside a Spark exception: find our message in it."""
    match = re.search(r"RegistryError: (.+)", str(exc))
    return RegistryError(match.group(1).strip()) if match else None


def label_dataframe(
    df: Any,
    models: Sequence[ShippedModel],
    *,
    columns: Mapping[str, str] | None = None,
    threshold: float | None = None,
    batch_size: int = 1000,
) -> Any:
    """``df`` with labels: for each task, ``<task>`` (the predicted labels,
    most probable first) and ``<task>_probabilities`` (every label's
    probability), then ``models`` (task -> version) and ``error`` (null, or
    why the row could not be labelled: no text, a wrong type...).

    ``df`` needs a ``text`` column; ``title``, ``subtitle``, ``id`` and ``lang``
    are used when present (``columns`` renames them, e.g. ``{"text": "body"}``).
    Runs through ``mapInPandas`` over the compact engine; lazy like any
    DataFrame transformation.
    """
    spec = Spec(tuple(models), dict(columns or {}), threshold, batch_size, keep_input=True)
    clash = {n for n, _ in output_fields(spec.tasks)} & set(df.columns)
    if clash:
        raise SparkUsageError(f"the input already has column(s) {', '.join(sorted(clash))}; rename or drop them first")
    inputs = _schema_ddl([(f.name, f.dataType.simpleString()) for f in df.schema.fields])
    schema = ", ".join(s for s in (inputs, _schema_ddl(output_fields(spec.tasks))) if s)
    return df.mapInPandas(lambda frames: label_frames(frames, spec), schema)


def _label_for_output(df: Any, spec: Spec) -> Any:
    """The command's columns only: id, source, the label columns."""
    schema = _schema_ddl([("id", "string"), ("source", "string"), *output_fields(spec.tasks)])
    return df.mapInPandas(lambda frames: label_frames(frames, spec), schema)


# ----------------------------------------------------------------------- inputs


def _is_remote(path: str) -> bool:
    return bool(_REMOTE.match(path)) and not path.startswith("file://")


def input_format(path: str, forced: str = "auto") -> str:
    """``parquet`` or ``jsonl`` for a file, folder or glob (by its name; a
    local folder by the files in it)."""
    if forced != "auto":
        return forced
    lower = path.lower().rstrip("/")
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    local = Path(path.removeprefix("file://"))
    if not _is_remote(path) and local.is_dir():
        files = [p for p in local.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]
        kinds = {input_format(str(p)) for p in files if str(p).lower().endswith(PARQUET_SUFFIXES + JSONL_SUFFIXES)}
        if len(kinds) == 1:
            return kinds.pop()
        if not kinds:
            raise SparkUsageError(f"{path}: no .parquet or .jsonl files in this folder (the Spark engine reads Parquet and JSON Lines)")
        raise SparkUsageError(f"{path}: holds both Parquet and JSON Lines files; pass them as separate inputs")
    raise SparkUsageError(
        f"{path}: cannot tell its format from the name; the Spark engine reads Parquet and JSON Lines: pass --input-format parquet|jsonl"
        + (" (or use the local engine for .txt and .csv)" if lower.endswith((".txt", ".csv")) else "")
    )


def _exists(path: str) -> bool:
    if _is_remote(path) or any(ch in path for ch in "*?["):
        return True  # Spark resolves it (and says so if nothing matches)
    return Path(path.removeprefix("file://")).exists()


@dataclass
class Inputs:
    frame: Any  # DataFrame with the input fields and the location columns, or None
    missing: list[str] = field(default_factory=list)  # inputs that do not exist


def read_inputs(spark: Any, paths: Sequence[str], columns: Mapping[str, str] | None = None, forced_format: str = "auto") -> Inputs:
    """One DataFrame over every input: Parquet rows keep their file and row
    number, JSON Lines are read as text lines and parsed on the executors
    (so malformed lines and wrong types are reported per record)."""
    from pyspark.sql import functions as F

    wanted = [(columns or {}).get(f, f) for f in _FIELDS]
    frames, missing = [], []
    for path in paths:
        if not _exists(path):
            missing.append(path)
            continue
        fmt = input_format(path, forced_format)
        if fmt == "parquet":
            df = spark.read.parquet(path)
            present = [c for c in wanted if c in df.columns]
            df = df.select(
                *[F.col(f"`{c}`") for c in present],
                F.col("_metadata.file_path").alias(FILE_COL),
                (F.col("_metadata.row_index") + 1).alias(ROW_COL),
            )
        elif fmt == "jsonl":
            df = spark.read.text(path).where(F.trim(F.col("value")) != "")
            df = df.select(F.col("value").alias(LINE_COL), F.col("_metadata.file_path").alias(FILE_COL))
        else:
            raise SparkUsageError(f"--input-format must be parquet or jsonl, got {fmt!r}")
        frames.append(df)
    frame = None
    for df in frames:
        frame = df if frame is None else frame.unionByName(df, allowMissingColumns=True)
    if frame is not None:
        for col, kind in ((LINE_COL, "string"), (ROW_COL, "bigint")):
            if col not in frame.columns:
                frame = frame.withColumn(col, F.lit(None).cast(kind))
        frame = frame.withColumn(FILE_COL, F.regexp_replace(FILE_COL, "^file:(//)?", ""))
    return Inputs(frame, missing)


# ----------------------------------------------------------------------- the command


@dataclass
class Summary:
    labelled: int
    failed: int
    errors: list[str]  # the first few, for the terminal


def _local_target(output: str) -> Path | None:
    if _is_remote(output):
        return None
    return Path(output.removeprefix("file://")).expanduser().resolve()


def write_output(df: Any, output: str, fmt: str) -> None:
    """Write the dataset; on a local filesystem into a hidden sibling first,
    renamed into place when complete, so ``output`` is whole or absent."""
    target = _local_target(output)
    if target is None:
        getattr(df.write.mode("errorifexists"), "parquet" if fmt == "parquet" else "json")(output)
        return
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        writer = df.write.mode("errorifexists")
        writer.parquet(str(tmp)) if fmt == "parquet" else writer.json(str(tmp))
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def summarize(spark: Any, output: str, fmt: str, show: int = 20) -> Summary:
    """Counts from the written dataset (exact even when tasks were retried)."""
    from pyspark.sql import functions as F

    # only the two columns: Parquet prunes the rest, and JSON needs no schema inference pass
    reader = spark.read.schema(f"id string, {ERROR_COL} string")
    df = reader.parquet(output) if fmt == "parquet" else reader.json(output)
    counts = df.agg(F.count(F.when(F.col(ERROR_COL).isNull(), 1)).alias("ok"), F.count(F.col(ERROR_COL)).alias("bad")).first()
    bad = df.where(F.col(ERROR_COL).isNotNull()).select("id", ERROR_COL).limit(show).collect()
    errors = [r[ERROR_COL] + (f" [id {r['id']}]" if r["id"] else "") for r in bad]
    return Summary(int(counts["ok"]), int(counts["bad"]), errors)


def predict(
    inputs: Sequence[str],
    output: str,
    *,
    models: Sequence[str] | None = None,
    registry: str | os.PathLike[str] | None = None,
    master: str | None = None,
    fmt: str = "parquet",
    columns: Mapping[str, str] | None = None,
    input_format: str = "auto",
    threshold: float | None = None,
    batch_size: int = 1000,
    partitions: int | None = None,
    quiet: bool = False,
) -> int:
    """``newstag predict --engine spark``: label ``inputs`` into the dataset
    ``output``; print the summary on stderr; return the exit status
    (0 all labelled, 1 some records or inputs failed, 2 raised as
    :class:`SparkUsageError` / :class:`~newstag.registry.RegistryError`)."""
    if fmt not in ("parquet", "jsonl"):
        raise SparkUsageError(f"--format {fmt} is not available with --engine spark: use parquet (default) or jsonl")
    target = _local_target(output)
    if target is not None and target.exists():
        raise SparkUsageError(f"{output} already exists; choose a new --output folder or remove it (Spark output is a folder of part files)")
    spark = session(master, conf={"spark.ui.showConsoleProgress": "false"} if quiet else None)
    spark.sparkContext.setLogLevel("ERROR")  # failures reach the user through our summary and exit status
    shipped = ship_models(spark, list(models or default_refs(registry)), registry)
    read = read_inputs(spark, inputs, columns, input_format)
    for path in read.missing:
        print(f"newstag predict: {path}: no such file or folder", file=sys.stderr)
    if read.frame is None:
        print(f"newstag predict: nothing to label; 0 article(s) labelled, {len(read.missing)} input(s) failed", file=sys.stderr)
        return 1
    frame = read.frame.repartition(partitions) if partitions else read.frame
    spec = Spec(tuple(shipped), dict(columns or {}), threshold, batch_size)
    try:
        write_output(_label_for_output(frame, spec), output, fmt)
    except Exception as exc:
        refused = _registry_error(exc)
        if refused is not None:
            raise refused from None
        raise
    summary = summarize(spark, output, fmt)
    for error in summary.errors:
        print(f"newstag predict: {error}", file=sys.stderr)
    if summary.failed > len(summary.errors):
        print(f"newstag predict: ... and {summary.failed - len(summary.errors)} more (the `error` column of {output})", file=sys.stderr)
    failed = summary.failed + len(read.missing)
    detail = f" ({summary.failed} record(s) with an `error`, {len(read.missing)} missing input(s))" if failed else ""
    print(f"newstag predict: {summary.labelled} article(s) labelled, {failed} failed{detail} -> {output}", file=sys.stderr)
    return 1 if failed else 0


__all__ = ["Inputs", "SparkUsageError", "Summary", "label_dataframe", "predict", "read_inputs", "session", "ship_models"]
