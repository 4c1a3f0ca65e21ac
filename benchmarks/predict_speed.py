"""Prediction speed and memory: cold start, throughput, streaming memory.

    python benchmarks/predict_speed.py                   # all three, default sizes
    python benchmarks/predict_speed.py --stream-sizes 50000 500000

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
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run([str(BIN / "newstag"), "predict", "-q", str(SAMPLE)], capture_output=True)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            sys.exit(f"predict failed: {proc.stderr.decode()[-500:]}")
    return {"cold_start_s_median": round(statistics.median(times), 3), "cold_start_s_min": round(min(times), 3), "repeats": repeats}


def throughput(n: int) -> dict:
    import newstag
    from newstag.data import Record
    from newstag.serve.predict import predict_batch

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    models = [newstag.load(t) for t in ("topics", "actors")]
    docs = [Record(id=d["id"], title=d["title"], text=d["text"]) for d in articles_1kb(n)]
    predict_batch(docs[:200], models)  # warm up
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        predict_batch(docs[start : start + 1000], models)
    seconds = time.perf_counter() - t0
    return {
        "throughput_articles_per_s": round(n / seconds, 1),
        "throughput_n": n,
        "mean_article_bytes": round(statistics.mean(len(d.title) + len(d.text) for d in docs)),
    }


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
    args = parser.parse_args()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "date": time.strftime("%Y-%m-%d")}
    results.update(cold_start(args.repeats))
    print(f"cold start (shell -> first prediction, 1 article, both tasks): median {results['cold_start_s_median']} s, min {results['cold_start_s_min']} s")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results["streaming"] = []
        for size in args.stream_sizes:
            row = stream_memory(size, workdir)
            results["streaming"].append(row)
            print(f"streaming {row['records']:,} records ({row['file_mb']} MB JSONL): peak RSS {row['peak_rss_mb']} MB in {row['seconds']} s")
    # last: it pins this process to one core
    results.update(throughput(args.throughput_n))
    print(f"throughput on one core, both tasks, ~{results['mean_article_bytes']} B articles: {results['throughput_articles_per_s']} articles/s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
