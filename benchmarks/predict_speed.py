"""Prediction speed and memory: cold start, throughput, streaming memory.

    python benchmarks/predict_speed.py                   # all three, default sizes
    python benchmarks/predict_speed.py --stream-sizes 50000 500000
    python benchmarks/predict_speed.py --repeats 3 --throughput-n 2000 --skip-stream   # quick: engines vs fastText

Needs registered models for both tasks (``make run`` or ``newstag-train``).
Goals (issue "Prediction CLI and Python API"): cold start <= 1.0 s, >= 3,000
articles/s on one core for both tasks together, streaming peak memory under
400 MB and flat with input size. Prints the figures; ``--json FILE`` saves them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLE = ROOT / "data" / "raw" / "emirati-scambio-prigionieri.txt"


def articles_1kb(n: int) -> list[dict]:
    """``n`` articles of about 1 KB, cut from the corpus bodies."""
    from newstag.data import load_labelled

    texts = [r for r in load_labelled(ROOT / "data" / "corpus" / "train.jsonl") if len(r.text) > 200]
    out = []
    i = 0
    while len(out) < n:
        r = texts[i % len(texts)]
        body = (r.text + " " + texts[(i + 7) % len(texts)].text)[:1000].rsplit(" ", 1)[0]
        out.append({"id": f"a{len(out)}", "title": r.title, "text": body})
        i += 1
    return out


def cold_start(repeats: int) -> dict:
    """A new process each time, as a user's shell starts one: Python's
    bytecode cache on (an untimed first run fills it, as the first use after
    an install does), whatever this shell's ``PYTHONDONTWRITEBYTECODE``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [str(BIN / "newstag"), "predict", "-q", str(SAMPLE)]
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, env=env)
        if i:
            times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            sys.exit(f"predict failed: {proc.stderr.decode()[-500:]}")
    return {"cold_start_s_median": round(statistics.median(times), 3), "cold_start_s_min": round(min(times), 3), "repeats": repeats}


def throughput(n: int, engines: list[str], repeats: int = 2) -> dict:
    """Articles/s on one core for each engine of the registered models: each
    task alone and both tasks in one pass (``predict_batch``, shared text
    preparation), best of ``repeats`` passes with the word cache emptied
    before each; fastText (trained here on the train split) on the same
    articles when it is installed."""
    import newstag
    from newstag.data import Record
    from newstag.serve.predict import predict_batch

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    models = [newstag.load(t) for t in ("topics", "actors")]
    docs = [Record(id=d["id"], title=d["title"], text=d["text"]) for d in articles_1kb(n)]

    def rate(run) -> float:
        best = 0.0
        for _ in range(repeats):
            for m in models:
                m.model._cache.clear()
            run(docs[:200])  # warm up
            t0 = time.perf_counter()
            for start in range(0, n, 1000):
                run(docs[start : start + 1000])
            best = max(best, n / (time.perf_counter() - t0))
        return round(best, 1)

    by_engine = {}
    for engine in engines:
        for m in models:
            m.model.set_engine(engine)
        by_engine[engine] = {
            **{m.task: rate(lambda batch, m=m: predict_batch(batch, [m])) for m in models},
            "both": rate(lambda batch: predict_batch(batch, models)),
        }
    out = {"throughput_n": n, "mean_article_bytes": round(statistics.mean(len(d.title) + len(d.text) for d in docs)), "engines": by_engine}
    out["throughput_articles_per_s"] = by_engine[engines[0]]["both"]
    fasttext = fasttext_rates(docs, repeats)
    if fasttext:
        out["fasttext"] = fasttext
    return out


def fasttext_rates(docs: list, repeats: int) -> dict:
    """fastText's articles/s per task on ``docs`` (compare_peers' recipe, batches of 1000)."""
    try:
        import fasttext  # noqa: F401
    except ImportError:
        return {}
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from compare_peers import run_fasttext
    from newstag.data import load_labelled
    from newstag.schema import binarize
    from newstag.schema.labels import load_schema

    train = load_labelled(ROOT / "data" / "corpus" / "train.jsonl")
    out = {}
    for task in ("topics", "actors"):
        labels = load_schema().ids(task)
        with tempfile.TemporaryDirectory() as tmp:
            proba, _, _ = run_fasttext(task, train, binarize(train, task, labels), labels, Path(tmp))
        best = 0.0
        for _ in range(repeats):
            proba(docs[:200])
            t0 = time.perf_counter()
            for start in range(0, len(docs), 1000):
                proba(docs[start : start + 1000])
            best = max(best, len(docs) / (time.perf_counter() - t0))
        out[task] = round(best, 1)
    return out


def stream_memory(size: int, workdir: Path) -> dict:
    src = workdir / f"stream-{size}.jsonl"
    if not src.exists():
        docs = articles_1kb(5000)
        with open(src, "w", encoding="utf-8") as fh:
            for i in range(size):
                d = docs[i % len(docs)]
                fh.write(json.dumps({"id": f"r{i}", "title": d["title"], "text": d["text"]}, ensure_ascii=False) + "\n")
    code = (
        "import resource, sys\n"
        "from newstag.cli import main\n"
        f"rc = main(['predict', '-q', {str(src)!r}, '-o', {str(workdir / 'out.jsonl')!r}])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"streaming run failed: {proc.stderr[-800:]}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return {"records": size, "file_mb": round(src.stat().st_size / 1e6, 1), "peak_rss_mb": round(peak_kb / 1024, 1), "seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--throughput-n", type=int, default=5000)
    parser.add_argument("--stream-sizes", type=int, nargs="*", default=[50_000, 500_000])
    parser.add_argument("--workdir", default=None, help="where to write the streaming inputs (default: a temp dir)")
    parser.add_argument("--json", help="also save the figures here")
    parser.add_argument("--engines", nargs="+", default=None, choices=("compiled", "numpy"), help="engines to time (default: compiled when built, and numpy)")
    parser.add_argument("--skip-stream", action="store_true", help="no streaming-memory runs (quick throughput figures)")
    args = parser.parse_args()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "date": time.strftime("%Y-%m-%d")}
    results.update(cold_start(args.repeats))
    print(f"cold start (shell -> first prediction, 1 article, both tasks): median {results['cold_start_s_median']} s, min {results['cold_start_s_min']} s")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results["streaming"] = []
        for size in [] if args.skip_stream else args.stream_sizes:
            row = stream_memory(size, workdir)
            results["streaming"].append(row)
            print(f"streaming {row['records']:,} records ({row['file_mb']} MB JSONL): peak RSS {row['peak_rss_mb']} MB in {row['seconds']} s")
    # last: it pins this process to one core
    from newstag.engine.frontend import compiled_available

    engines = args.engines or (["compiled", "numpy"] if compiled_available() else ["numpy"])
    results.update(throughput(args.throughput_n, engines))
    print(f"throughput on one core, {args.throughput_n} articles of ~{results['mean_article_bytes']} B (articles/s):")
    print(f"| {'engine':<10} | {'topics':>8} | {'actors':>8} | {'both':>8} | both / fastText's faster task |")
    print("|---|---|---|---|---|")
    ft = results.get("fasttext", {})
    for engine, r in results["engines"].items():
        ratio = f"{r['both'] / max(ft.values()):.2f}x" if ft else "n/a"
        print(f"| {engine:<10} | {r['topics']:>8} | {r['actors']:>8} | {r['both']:>8} | {ratio} |")
    if ft:
        print(f"| {'fastText':<10} | {ft['topics']:>8} | {ft['actors']:>8} | {'':>8} | (one model per task) |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
