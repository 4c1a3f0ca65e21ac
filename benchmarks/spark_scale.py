"""Labelling throughput on Spark against the local CLI, and what 100 million
articles would take.

    python benchmarks/spark_scale.py --n 200000          # the issue's size
    python benchmarks/spark_scale.py --n 20000 --files 4 # a quick run

The articles are SYNTHETIC (ids ``synthetic-*``): corpus articles with light
perturbation (sentence order shuffled, some sentences and words dropped), the
same generator as ``benchmarks/scale.py``, written as Parquet files. Three
runs label them with both tasks (the registered default models):

- ``cli-1core``: ``newstag predict FILES -o out.jsonl``, pinned to one core;
- ``spark-local1``: ``newstag predict DIR --engine spark --master local[1]``,
  pinned to one core (the JVM's reader and writer threads share it);
- ``spark-local2``: the same with ``local[2]`` on two cores.

Each is a fresh process, timed end to end (wall clock, start-up included),
and once more on ``--small`` articles: the difference is the time per
article without the fixed start-up (JVM, session, model broadcast). Goals
(issue 12): 2-core speed-up >= 1.7x, Spark's overhead per article <= 15 %
against the CLI on one core. Writes ``benchmarks/SPARK_SCALE.md`` (``--md``)
and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import publish  # noqa: E402

_SENT = re.compile(r"(?<=[.!?»])\s+")
TARGET = 100_000_000


def synthetic(n: int, seed: int = 0) -> list[dict]:
    """``n`` perturbed copies of corpus articles, marked synthetic in their id."""
    base = [json.loads(line) for line in (ROOT / "data" / "corpus" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = base[rng.randrange(len(base))]
        sentences = _SENT.split(r.get("text") or "")
        rng.shuffle(sentences)
        sentences = [s for s in sentences if rng.random() > 0.15] or sentences[:1]
        words = [w for w in " ".join(sentences).split() if rng.random() > 0.05]
        out.append({"id": f"synthetic-{i:09d}", "title": r.get("title", ""), "text": " ".join(words)})
    return out


def write_parquet(rows: list[dict], folder: Path, files: int) -> list[Path]:
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(rows) // files)
    paths = []
    for k in range(files):
        chunk = rows[k * size : (k + 1) * size]
        if chunk:
            path = folder / f"part-{k:04d}.parquet"
            pd.DataFrame(chunk).to_parquet(path, index=False)
            paths.append(path)
    return paths


def _pin(cores: int):
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []

    def pin() -> None:
        if available:
            os.sched_setaffinity(0, set(available[:cores]))

    return pin


REPEATS = 1


def timed(cmd: list[str], cores: int, expect: int, cleanup: Path | None = None) -> float:
    """Best wall time of ``REPEATS`` runs (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(REPEATS):
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_pin(cores), env={**os.environ, "PYSPARK_PYTHON": sys.executable})
        best = min(best, time.perf_counter() - t0)
        if proc.returncode != expect:
            sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return best


def _fmt(value: float, spec: str) -> str:
    return "n/a" if value != value or value in (float("inf"), float("-inf")) else format(value, spec)


def _duration(hours: float) -> str:
    """Hours, or minutes under an hour (a big cluster's wall time is not "0.0 h")."""
    return f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"


def run_all(folder: Path, files: list[Path], work: Path, n: int, registry: str | None) -> dict[str, float]:
    reg = ["--registry", registry] if registry else []
    out: dict[str, float] = {}
    out["cli-1core"] = timed([str(BIN / "newstag"), *reg, "predict", "-q", *map(str, files), "-o", str(work / "cli.jsonl")], 1, 0)
    for k in (1, 2):
        target = work / f"spark{k}"
        cmd = [str(BIN / "newstag"), *reg, "predict", "-q", str(folder), "--engine", "spark", "--master", f"local[{k}]", "--output", str(target)]
        cmd += ["--partitions", str(max(2 * k, len(files)))]
        out[f"spark-local{k}"] = timed(cmd, k, 0, cleanup=target)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="synthetic articles (default 200,000)")
    ap.add_argument("--small", type=int, default=500, help="articles of the start-up run (default 500)")
    ap.add_argument("--files", type=int, default=8, help="Parquet files the articles are split into")
    ap.add_argument("--registry", help="model registry (default: experiments/registry)")
    ap.add_argument("--md", default=str(ROOT / "benchmarks" / "SPARK_SCALE.md"), help="markdown output ('' to skip)")
    ap.add_argument("--readme", default=str(ROOT / "README.md"), help="README whose spark-scale block gets the figures ('' to skip)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each command; the best wall time counts (default 1)")
    args = ap.parse_args(argv)
    global REPEATS
    REPEATS = max(1, args.repeats)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(prefix="newstag-spark-bench-") as tmp:
        work = Path(tmp)
        rows = synthetic(args.n)
        big = write_parquet(rows, work / "big", args.files)
        small = write_parquet(rows[: args.small], work / "small", 1)
        fixed = run_all(work / "small", small, work / "s", args.small, args.registry)
        full = run_all(work / "big", big, work / "b", args.n, args.registry)

    rows_out = []
    for name in full:
        per_article = (full[name] - fixed[name]) / max(args.n - args.small, 1)
        rows_out.append(
            {
                "run": name,
                "wall_s": full[name],
                "rate": args.n / full[name],
                "startup_s": fixed[name],
                # n/a when noise made the small run as slow as the large one (a busy machine, too small --n)
                "marginal_rate": 1 / per_article if per_article > 0 else float("nan"),
            }
        )
    by = {r["run"]: r for r in rows_out}
    speedup = by["spark-local2"]["rate"] / by["spark-local1"]["rate"]
    speedup_marginal = by["spark-local2"]["marginal_rate"] / by["spark-local1"]["marginal_rate"]
    overhead = by["cli-1core"]["rate"] / by["spark-local1"]["rate"] - 1
    overhead_marginal = by["cli-1core"]["marginal_rate"] / by["spark-local1"]["marginal_rate"] - 1
    per_core = by["spark-local2"]["marginal_rate"] / 2
    if per_core != per_core:  # no marginal rate: the end-to-end one (start-up included, pessimistic)
        per_core = by["spark-local2"]["rate"] / 2

    lines = [
        "# Labelling on Spark: throughput and the 100-million-article estimate",
        "",
        f"Generated by `python benchmarks/spark_scale.py --n {args.n} --files {args.files} --small {args.small} --repeats {REPEATS}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')} — {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        f"{args.n:,} SYNTHETIC articles (perturbed corpus articles, ids `synthetic-*`) in {args.files} Parquet files, both tasks, "
        "the registered default models. "
        f"Load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.1f} "
        "(figures taken while other work used the cores are lower than on a quiet machine, and the 2-core speed-up cannot show).",
        "",
        "| run | wall s | articles/s (end to end) | start-up s (a " + f"{args.small}-article run) | articles/s without start-up |",
        "|---|---|---|---|---|",
    ]
    for r in rows_out:
        lines.append(f"| {r['run']} | {r['wall_s']:.1f} | {r['rate']:,.0f} | {r['startup_s']:.1f} | {_fmt(r['marginal_rate'], ',.0f')} |")
    lines += [
        "",
        f"- 2-core speed-up, Spark `local[2]` / `local[1]`: **{speedup:.2f}x** end to end, {_fmt(speedup_marginal, '.2f')}x without start-up (goal >= 1.7x).",
        f"- Spark's overhead per article against the CLI on one core: **{overhead:+.0%}** end to end, {_fmt(overhead_marginal, '+.0%')} without start-up (goal <= 15 %).",
        "",
        "## 100 million articles",
        "",
        f"From the measured rate per core on Spark ({per_core:,.0f} articles/s, `local[2]` / 2, without start-up when measurable), assuming the rate holds per "
        "core on a cluster (executors do not talk to each other; reading Parquet from object storage can be slower than a local disk):",
        "",
        "| executors x cores | cores | wall time |",
        "|---|---|---|",
    ]
    for executors, cores in ((4, 4), (16, 4), (32, 8), (64, 8)):
        total = executors * cores
        hours = TARGET / (per_core * total) / 3600
        lines.append(f"| {executors} x {cores} | {total} | {_duration(hours)} |")
    cores_for_hour = TARGET / (per_core * 3600)
    lines += ["", f"One hour needs about **{cores_for_hour:,.0f} cores** (e.g. {-(-cores_for_hour // 8):.0f} executors of 8 cores).", ""]
    text = "\n".join(lines)
    print(text)
    if args.md:
        from newstag.core.files import atomic_write_text

        atomic_write_text(Path(args.md), text)
        print(f"written: {args.md}", file=sys.stderr)
    figures = text.split("\n", 2)[2].replace("\n## 100 million articles", "\n**100 million articles.**")
    if args.readme and not publish(Path(args.readme), "spark-scale", figures):
        print(f"{args.readme}: no <!-- spark-scale:start --> ... <!-- spark-scale:end --> block; not updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
