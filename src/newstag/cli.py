"""``newstag``: predict, manage registered models, evaluate, compare runs.

Thin on purpose: parse arguments, call library code, map failures to exit
statuses. Heavy modules (scikit-learn, pandas) are imported only by the
commands that need them, so ``newstag --help`` and a one-article prediction
start fast.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED_RECORDS, EXIT_USAGE = 0, 1, 2

PREDICT_EPILOG = """\
inputs:
  .txt files (title / page counters / subtitle / body), folders of them
  (recursive), .jsonl, .csv and .parquet files with id/title/text columns
  (rename with --column text=body), and - for standard input (JSON Lines if
  it starts with '{', else one raw article).

--engine spark (Parquet / JSON Lines files, folders, globs; any Spark URI):
  writes a Parquet (or --format jsonl) dataset to --output DIR, one row per
  input record: id, source, <task> (labels, most probable first),
  <task>_probabilities (every label), models (task -> version), error (null,
  or why the record was not labelled; counted in the summary on stderr)

exit status:
  0  every article was labelled
  1  some records or inputs failed (each reported on stderr); the others
     were labelled
  2  usage error: bad arguments, unknown or unloadable model (missing,
     tampered, other scikit-learn version)

examples:
  newstag predict article.txt --format table --explain 5
  newstag predict archive.parquet --column text=body -o labels.jsonl
  newstag predict archive/ --engine spark --master 'local[*]' --output labels/
  cat article.txt | newstag predict - --model topics@production
"""


class UsageError(Exception):
    """Raised for problems the user fixes by changing the command (exit 2)."""


def _columns(pairs: Sequence[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        field, sep, name = pair.partition("=")
        if not sep or not field or not name:
            raise UsageError(f"--column expects FIELD=NAME (e.g. text=body), got {pair!r}")
        out[field] = name
    return out


def _load_labellers(args: argparse.Namespace):
    from newstag.registry import RegistryError
    from newstag.serve.predict import default_models, load

    refs = args.model or default_models(args.registry)
    labellers = []
    for ref in refs:
        try:
            labellers.append(load(ref, args.registry, args.allow_version_mismatch, engine=getattr(args, "engine", "auto")))
        except RegistryError as exc:
            raise UsageError(str(exc)) from exc
    tasks = [lab.task for lab in labellers]
    if len(set(tasks)) != len(tasks):
        raise UsageError(f"two models for the same task: {', '.join(lab.ref for lab in labellers)}")
    return labellers


class _Progress:
    """A one-line counter on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()
        self.count = 0
        self.engines = ""  # ", engine compiled": which engine scores

    def update(self, n: int) -> None:
        self.count += n
        if self.enabled:
            rate = self.count / max(time.perf_counter() - self.start, 1e-9)
            sys.stderr.write(f"\rlabelled {self.count:,} articles ({rate:,.0f}/s{self.engines})")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def cmd_predict_spark(args: argparse.Namespace) -> int:
    """``newstag predict --engine spark``: the same labels, written as a
    Parquet (or JSON Lines) dataset by a Spark job (see newstag.spark)."""
    try:
        from newstag.spark import SparkUsageError, predict
    except ImportError as exc:
        raise UsageError(f"--engine spark needs pyspark ({exc}); install the extra: pip install 'newstag[spark]'") from exc
    if not args.output:
        raise UsageError("--engine spark writes a dataset: give --output DIR")
    if args.explain or args.all_scores:
        raise UsageError("--explain and --all-scores are local options; the Spark output always has every label's probability (<task>_probabilities)")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    try:
        return predict(
            args.inputs,
            args.output,
            models=args.model,
            registry=args.registry,
            master=args.master,
            fmt=args.format or "parquet",
            columns=_columns(args.column),
            input_format=args.input_format,
            threshold=args.threshold,
            batch_size=args.batch_size,
            partitions=args.partitions,
            quiet=args.quiet,
        )
    except SparkUsageError as exc:
        raise UsageError(str(exc)) from exc


def cmd_predict(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        return cmd_predict_spark(args)
    if args.format == "parquet":
        raise UsageError("--format parquet writes a dataset folder: use it with --engine spark")
    args.format = args.format or "jsonl"
    from newstag.data import Problem, Record
    from newstag.serve.output import make_writer
    from newstag.serve.predict import InputError, batches, iter_inputs, predict_batch

    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.explain < 0:
        raise UsageError("--explain must be a positive number of features")
    columns = _columns(args.column)
    labellers = _load_labellers(args)
    _resume_collector()
    tasks = [lab.task for lab in labellers]

    out_path = Path(args.output) if args.output else None
    out: TextIO
    if out_path is not None:
        import tempfile

        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; the output is an ordinary file
        out = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in the finally below, after the atomic rename
    else:
        out = sys.stdout
    writer = make_writer(args.format, out, tasks)
    failures = 0
    progress = _Progress(not args.quiet)
    progress.engines = ", engine " + ", ".join(sorted({lab.engine for lab in labellers}))

    def report(item) -> None:
        nonlocal failures
        failures += 1
        print(f"newstag predict: {item}", file=sys.stderr)

    def records():
        for item in iter_inputs(args.inputs, columns):
            if isinstance(item, Record):
                yield item
            elif isinstance(item, (Problem, InputError)):
                report(item)

    try:
        for batch in batches(records(), args.batch_size):
            for rec in predict_batch(batch, labellers, threshold=args.threshold, all_scores=args.all_scores, explain=args.explain):
                writer.write(rec)
            progress.update(len(batch))
        writer.close()
        if out_path is not None:
            out.close()
            os.replace(tmp_name, out_path)
    except BaseException:
        if out_path is not None:
            out.close()
            Path(tmp_name).unlink(missing_ok=True)
        raise
    finally:
        progress.close()
    if failures:
        print(f"newstag predict: {progress.count} article(s) labelled, {failures} failed (see above)", file=sys.stderr)
        return EXIT_FAILED_RECORDS
    return EXIT_OK


# ------------------------------------------------------------------- models


def _registry(args: argparse.Namespace):
    from newstag.registry import Registry

    return Registry(args.registry)


def cmd_models_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    tasks = reg.tasks()
    if not tasks:
        print(f"no models in {reg.root}; train some with `newstag-train`")
        return EXIT_OK
    print(f"{'model':<16} {'created':<26} {'micro-F1':>8} {'macro-F1':>8}  aliases")
    for task in tasks:
        aliases = reg.aliases(task)
        latest = reg.versions(task)[-1].version
        for ref in reg.versions(task):
            m = reg.manifest(ref)
            s = m.get("metrics", {}).get("test", {}).get("summary", {})
            tags = sorted([a for a, v in aliases.items() if v == ref.version] + (["latest"] if ref.version == latest else []))
            fmt = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) else "-"  # noqa: E731
            print(f"{ref!s:<16} {m.get('created_at', ''):<26} {fmt(s.get('micro_f1')):>8} {fmt(s.get('macro_f1')):>8}  {', '.join(tags)}")
    return EXIT_OK


def cmd_models_show(args: argparse.Namespace) -> int:
    manifest = _registry(args).manifest(args.ref)
    if not args.full:
        manifest = {k: v for k, v in manifest.items() if k != "config"}
    manifest["serving_engine"] = _serving_engine(manifest)
    print(json.dumps(manifest, indent=2, ensure_ascii=False))
    return EXIT_OK


def _serving_engine(manifest: dict) -> str:
    """The engine ``newstag predict --engine auto`` would score this model with."""
    if not (manifest.get("compact") or {}).get("file"):
        return "sklearn"
    from newstag.engine.frontend import resolve

    return resolve("auto")


def cmd_models_promote(args: argparse.Namespace) -> int:
    ref = _registry(args).promote(args.ref, args.alias)
    print(f"{ref.task}@{args.alias} -> {ref.version}")
    return EXIT_OK


def cmd_models_verify(args: argparse.Namespace) -> int:
    reg = _registry(args)
    ref = reg.resolve(args.ref)
    manifest = reg.verify(ref, args.allow_version_mismatch)
    print(f"{ref}: OK (sha256 {manifest['sha256'][:16]}..., scikit-learn {manifest['versions']['scikit-learn']})")
    return EXIT_OK


# -------------------------------------------------------------------- serve

SERVE_EPILOG = """\
endpoints:
  POST /v1/label    one article (JSON object) or a list; the objects `newstag predict`
                    prints; ?explain=N&all_scores=true&threshold=T&model=topics
  GET  /v1/models   served versions, thresholds, test metrics
  POST /v1/reload   reload now (header 'Authorization: Bearer $NEWSTAG_RELOAD_TOKEN')
  GET  /healthz /readyz /metrics (Prometheus)   GET /docs, /openapi.json

models are re-resolved every --poll seconds: `newstag models promote` or a new
latest version is verified (sha256, format, a probe article) and swapped in
without downtime; a tampered or incompatible one is refused and logged, the old
one keeps serving. With --workers N each worker reloads on its own.

exit status: 0 stopped (SIGTERM/SIGINT, after requests in flight finish);
  2 usage error: bad arguments, unknown or unloadable model, serve extra missing
"""


def cmd_serve(args: argparse.Namespace) -> int:
    if args.workers < 1 or not 0 < args.port < 65536 or args.max_articles < 1 or args.max_bytes < 1 or args.poll < 0:
        raise UsageError("--workers, --max-articles and --max-bytes must be >= 1, --port in 1-65535, --poll >= 0")
    try:
        from newstag.service.app import Settings
        from newstag.service.server import serve
    except ImportError as exc:
        raise UsageError(f"newstag serve needs the 'serve' extra: pip install 'newstag[serve]' ({exc})") from exc
    settings = Settings(
        models=args.model or [],
        registry=str(Path(args.registry).resolve()) if args.registry else None,
        max_articles=args.max_articles,
        max_bytes=args.max_bytes,
        poll_seconds=args.poll,
        allow_version_mismatch=args.allow_version_mismatch,
    )
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


# ------------------------------------------------------------------ reports


def _default_out(kind: str) -> Path:
    from newstag.core import paths

    return paths.project_root() / "experiments" / "reports" / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{kind}"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from newstag.data import DataError
    from newstag.reports import evaluate_dataset

    if len(args.items) < 2:
        raise UsageError("give at least one model and a dataset: newstag evaluate topics actors data/corpus/test.jsonl")
    *refs, data = args.items
    out = Path(args.out) if args.out else _default_out("evaluate")
    try:
        html = evaluate_dataset(
            refs, data, out, registry=args.registry, columns=_columns(args.column), schema=args.schema, allow_version_mismatch=args.allow_version_mismatch
        )
    except (DataError, FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    print(f"report: {html}\nmarkdown: {html.with_name('report.md')}\nmetrics: {html.with_name('metrics.json')}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from newstag.core import paths
    from newstag.core.files import atomic_write_text
    from newstag.registry import Registry
    from newstag.reports.compare import collect, rank, to_html, to_markdown

    root = paths.project_root()
    sources = args.paths or [p for p in (root / "experiments" / "runs", root / "experiments" / "sweeps") if p.is_dir()]
    try:
        rows = rank(collect(sources, None if args.no_registry else Registry(args.registry).root), args.metric)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if not rows:
        print("nothing to compare: train some runs first (newstag-train)")
        return EXIT_OK
    md = to_markdown(rows, args.metric)
    out = Path(args.out) if args.out else root / "experiments" / "reports" / "leaderboard"
    atomic_write_text(out / "leaderboard.md", md)
    atomic_write_text(out / "leaderboard.html", to_html(rows, args.metric))
    print(md)
    print(f"written: {out / 'leaderboard.md'}, {out / 'leaderboard.html'}")
    return EXIT_OK


# ------------------------------------------------------ active learning


def cmd_suggest(args: argparse.Namespace) -> int:
    from newstag.active.suggest import suggest, summary, write
    from newstag.core.files import atomic_write_text
    from newstag.data import DataError, Problem, Record, load_records
    from newstag.serve.predict import InputError, iter_inputs

    if args.n < 1:
        raise UsageError(f"--n must be at least 1, got {args.n}")
    if args.model is None:
        from newstag.serve.predict import default_models

        args.model = default_models(args.registry, ("topics", "actors") if args.task == "both" else (args.task,))
    labellers = _load_labellers(args)
    pool, failures = [], 0
    for item in iter_inputs(args.inputs, _columns(args.column)):
        if isinstance(item, Record):
            pool.append(item)
        elif isinstance(item, (Problem, InputError)):
            failures += 1
            print(f"newstag suggest: {item}", file=sys.stderr)
    labelled = []
    if args.labelled:
        try:
            labelled = load_records(args.labelled, strict=False).records
        except (DataError, FileNotFoundError, ValueError) as exc:
            raise UsageError(f"--labelled: {exc}") from exc
    try:
        result = suggest(pool, labellers, args.n, strategy=args.strategy, labelled=labelled, diversity=args.diversity, seed=args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    text = write(result, args.format)
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    print(f"newstag suggest: {summary(result)}", file=sys.stderr)
    if failures:
        print(f"newstag suggest: {failures} input record(s) failed (see above); the others were ranked", file=sys.stderr)
        return EXIT_FAILED_RECORDS
    return EXIT_OK


def cmd_labelstudio_config(args: argparse.Namespace) -> int:
    from newstag.core.files import atomic_write_text
    from newstag.data.labelstudio import interface_config
    from newstag.schema.labels import load_schema

    try:
        xml = interface_config(load_schema(args.schema), args.lang)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if args.output:
        atomic_write_text(Path(args.output), xml)
        print(f"written: {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(xml)
    return EXIT_OK


SUGGEST_EPILOG = """\
strategies (scores against each label's tuned threshold; see benchmarks/ACTIVE.md):
  uncertainty-max  the single closest call (default: the best over both tasks)
  uncertainty      labels in doubt, summed over labels
  hybrid           labels in doubt (summed) + likely rare labels
  rare             likely to carry labels with few training examples
  random           the baseline

The batch is diversified with MMR over TF-IDF (--diversity, 1 = off);
near-duplicates of --labelled articles and of articles already picked are
skipped. Default --labelled: none (pass your training files).

exit status: 0 ok; 1 some input records failed (reported, the rest ranked);
2 usage error.

examples:
  newstag suggest archive.jsonl --n 50 --labelled data/corpus/train.jsonl -o next.jsonl
  newstag suggest archive/ --format labelstudio -o tasks.json
"""


# ------------------------------------------------------------------- parser

MAIN_EPILOG = """\
training and evaluation are Hydra applications (config in conf/):
  newstag-train      train both tasks from conf/train.yaml, register the models
                     (newstag-train --help lists the config groups; -m sweeps)
  newstag-evaluate   evaluate registered models on a labelled set, write a report

see docs/architecture.md for the layers and the path of an article through them
"""


def _add_predict(sub: Any, help_text: str) -> None:
    p = sub.add_parser("predict", help=help_text, epilog=PREDICT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="files, folders, or - for standard input")
    p.add_argument(
        "-m",
        "--model",
        action="append",
        help="model reference (topics, topics@v3, topics@production, a folder); repeatable. Default: each task at production, else latest",
    )
    p.add_argument("-f", "--format", choices=("jsonl", "json", "csv", "table", "parquet"), default=None, help="default jsonl (parquet with --engine spark)")
    p.add_argument("-o", "--output", help="write here (atomically) instead of standard output")
    p.add_argument("--all-scores", action="store_true", help="add every label's probability")
    p.add_argument("--threshold", type=float, help="one threshold for every label instead of the tuned ones")
    p.add_argument("--explain", type=int, default=0, metavar="N", help="top N contributing features (and alias hits) per predicted label")
    p.add_argument("--column", action="append", metavar="FIELD=NAME", help="input column names, e.g. text=body title=headline id=url")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--allow-version-mismatch", action="store_true", help="load models saved by another scikit-learn minor version")
    p.add_argument(
        "--engine",
        choices=("auto", "compiled", "numpy", "sklearn", "spark"),
        default="auto",
        help="auto: the compact form when the model has one (fast start, no pickle), compiled front end when built, else numpy "
        "(NEWSTAG_ENGINE=numpy turns the compiled one off); compiled / numpy: that engine of the compact form; sklearn: the pickled pipeline; "
        "spark: a Spark job over Parquet / JSON Lines inputs, writing a dataset to --output DIR (needs the spark extra)",
    )
    p.add_argument("--master", help="with --engine spark: the Spark master (local[*], local[2], spark://host:7077...; default: spark-submit's, else local[*])")
    p.add_argument("--input-format", choices=("auto", "parquet", "jsonl"), default="auto", help="with --engine spark: for inputs whose name does not say")
    p.add_argument("--partitions", type=int, help="with --engine spark: repartition the input into N partitions (default: as read)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_predict)


def _add_models(sub: Any, help_text: str) -> None:
    models = sub.add_parser("models", help=help_text)
    msub = models.add_subparsers(dest="models_command", required=True)
    m = msub.add_parser("list", help="every version of every task")
    m.set_defaults(func=cmd_models_list)
    m = msub.add_parser("show", help="a model's manifest")
    m.add_argument("ref")
    m.add_argument("--full", action="store_true", help="include the resolved training config")
    m.set_defaults(func=cmd_models_show)
    m = msub.add_parser("promote", help="point an alias (e.g. production) at a version")
    m.add_argument("ref")
    m.add_argument("alias")
    m.set_defaults(func=cmd_models_promote)
    m = msub.add_parser("verify", help="check a model file against its manifest (hash, versions)")
    m.add_argument("ref")
    m.add_argument("--allow-version-mismatch", action="store_true")
    m.set_defaults(func=cmd_models_verify)


def _add_evaluate(sub: Any, help_text: str) -> None:
    p = sub.add_parser("evaluate", help=help_text)
    p.add_argument("items", nargs="+", metavar="MODEL... DATA", help="model references, then the labelled data file or folder")
    p.add_argument("-o", "--out", help="report folder (default: experiments/reports/<time>_evaluate)")
    p.add_argument("--column", action="append", metavar="FIELD=NAME", help="column names of the data, e.g. text=body")
    p.add_argument("--schema", help="label schema of the data (default: data/labels.yaml)")
    p.add_argument("--allow-version-mismatch", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def _add_report(sub: Any, help_text: str) -> None:
    report = sub.add_parser("report", help=help_text)
    rsub = report.add_subparsers(dest="report_command", required=True)
    r = rsub.add_parser("compare", help="a leaderboard (Markdown and HTML) ranked by a metric")
    r.add_argument("paths", nargs="*", help="run or sweep folders (default: experiments/runs and experiments/sweeps)")
    r.add_argument("--metric", default="test.micro_f1", choices=("cv.micro_f1", "cv.macro_f1", "test.micro_f1", "test.macro_f1"))
    r.add_argument("-o", "--out", help="output folder (default: experiments/reports/leaderboard)")
    r.add_argument("--no-registry", action="store_true", help="leave registered versions out")
    r.set_defaults(func=cmd_compare)


def _add_serve(sub: Any, help_text: str) -> None:
    p = sub.add_parser("serve", help=help_text, epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; put a reverse proxy in front for other machines)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (each loads and reloads its own models)")
    p.add_argument("-m", "--model", action="append", help="model reference to serve; repeatable. Default: each task at production, else latest")
    p.add_argument("--max-articles", type=int, default=1000, help="most articles in one request (more: 413)")
    p.add_argument("--max-bytes", type=int, default=10 * 1024 * 1024, help="largest request body in bytes (more: 413)")
    p.add_argument("--poll", type=float, default=2.0, metavar="SECONDS", help="registry watch interval; 0 turns the watch off (POST /v1/reload only)")
    p.add_argument("--allow-version-mismatch", action="store_true", help="serve models saved by another scikit-learn minor version")
    p.set_defaults(func=cmd_serve)


def _add_suggest(sub: Any, help_text: str) -> None:
    p = sub.add_parser("suggest", help=help_text, epilog=SUGGEST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="the unlabelled pool: files, folders, or - (every format predict reads)")
    p.add_argument("--n", type=int, default=50, help="how many suggestions (default 50)")
    p.add_argument("--task", choices=("topics", "actors", "both"), default="both")
    p.add_argument("--strategy", choices=("uncertainty-max", "uncertainty", "hybrid", "rare", "random"), default="uncertainty-max")
    p.add_argument("-m", "--model", action="append", help="model reference(s), as for predict (default: the task's default versions)")
    p.add_argument(
        "--labelled", action="append", metavar="FILE", help="articles already labelled: their near-duplicates are skipped, their labels count for rarity"
    )
    p.add_argument("--diversity", type=float, default=0.7, help="MMR lambda: 1 ranks by score alone, lower favours variety (default 0.7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random strategy")
    p.add_argument("-f", "--format", choices=("jsonl", "labelstudio"), default="jsonl", help="jsonl: newstag records; labelstudio: tasks with pre-annotations")
    p.add_argument("-o", "--output", help="write here (atomically) instead of standard output")
    p.add_argument("--column", action="append", metavar="FIELD=NAME", help="input column names, e.g. text=body")
    p.add_argument("--allow-version-mismatch", action="store_true")
    p.set_defaults(func=cmd_suggest)


def _add_labelstudio(sub: Any, help_text: str) -> None:
    ls = sub.add_parser("labelstudio", help=help_text)
    lsub = ls.add_subparsers(dest="labelstudio_command", required=True)
    p = lsub.add_parser("config", help="the labelling interface (XML) from the label schema")
    p.add_argument("--lang", choices=("it", "en"), default="it", help="language of the label names shown (default it)")
    p.add_argument("--schema", help="label schema (default: data/labels.yaml)")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.set_defaults(func=cmd_labelstudio_config)


# every command: its help line and what adds its parser (build_parser builds
# only the one a command line asks for: argparse costs ~15 ms for all of them)
_COMMANDS: dict[str, tuple[str, Callable[[Any, str], None]]] = {
    "predict": ("label articles", _add_predict),
    "models": ("list, show, promote and verify registered models", _add_models),
    "evaluate": ("evaluate registered models on a labelled dataset and write a report", _add_evaluate),
    "report": ("compare runs, sweeps and registered models", _add_report),
    "serve": ("label articles over HTTP (FastAPI; the serve extra)", _add_serve),
    "suggest": ("which unlabelled articles to label next (active learning)", _add_suggest),
    "labelstudio": ("Label Studio: the labelling interface (import exports with `newstag data import`)", _add_labelstudio),
}


def _command_of(argv: Sequence[str]) -> str | None:
    """The command a command line names (after the global options), if any."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--registry":
            skip = True
        elif not token.startswith("-"):
            return token if token in _COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with ``command``, that command's options only (the
    others are listed by name)."""
    parser = argparse.ArgumentParser(
        prog="newstag",
        description="Label news articles by topic and actor; manage the models.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--registry", default=None, help="model registry folder (default: experiments/registry, or $NEWSTAG_REGISTRY)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add) in _COMMANDS.items():
        if command in (None, name):
            add(sub, help_text)
        else:  # listed in the usage, its options left unbuilt
            sub.add_parser(name, help=help_text, add_help=False)
    # listed for --help; main() hands `newstag data ...` to newstag.data.datasheet, imported only then
    sub.add_parser("data", help="corpus tools: validate files, corpus stats and datasheet, the train/test split", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["data"]:  # its own parser (and --help), see newstag.data.datasheet
        _resume_collector()
        from newstag.data.datasheet import main as data_main

        return data_main(argv[1:], prog="newstag data")
    parser = build_parser(_command_of(argv))
    args = parser.parse_args(argv)
    if args.func is not cmd_predict:  # predict resumes it once its models are loaded
        _resume_collector()
    from newstag.registry import RegistryError

    try:
        return args.func(args)
    except (UsageError, RegistryError) as exc:
        print(f"newstag: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `newstag predict ... | head`
        return EXIT_OK


_COLLECTOR_PAUSED = False


def run() -> None:
    """The ``newstag`` console command: :func:`main` with Python's cyclic
    garbage collector paused while the process starts.

    Why: start-up creates a few hundred thousand long-lived objects (numpy's
    modules, the models' tables) and no garbage cycles; the collector's
    passes over them, and the interpreter's final ones at exit, cost about
    45 ms of a 0.35 s cold start. :func:`_resume_collector` turns it back
    on once the command has loaded what it keeps (``predict``: its models),
    after moving those objects out of its sight (:func:`gc.freeze`); at
    exit the objects still alive are left for the OS to free."""
    global _COLLECTOR_PAUSED
    gc.disable()
    _COLLECTOR_PAUSED = True
    code = main()
    gc.freeze()
    sys.exit(code)


def _resume_collector() -> None:
    """End :func:`run`'s pause (nothing to do when ``main`` is called as a
    library function: the caller's collector is left as it is)."""
    global _COLLECTOR_PAUSED
    if _COLLECTOR_PAUSED:
        _COLLECTOR_PAUSED = False
        gc.freeze()
        gc.enable()


if __name__ == "__main__":
    run()
