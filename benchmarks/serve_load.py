"""Load test of ``newstag serve`` on the loopback interface.

    python benchmarks/serve_load.py                                  # full: 20 s per rate, 30 batches, 1 and 2 workers
    python benchmarks/serve_load.py --seconds 5 --batches 8          # reduced (busy machine)

For each worker count it starts ``newstag serve --workers N`` on a free port
of 127.0.0.1 (registry watch off), warms it up, then

* single articles at each ``--rates`` (requests/s) with an **open-loop**
  schedule: request *i* is due at ``start + i / rate`` whatever the server
  does, and its latency is counted from that due time, so a server that falls
  behind shows the queueing delay (no coordinated omission). p50/p95/p99,
  achieved requests/s and failures are reported;
* ``--batches`` requests of ``--batch-size`` articles, ``N`` in flight at a
  time: articles/s;

and measures the CLI on the same articles: ``newstag predict`` end to end (a
process, model load included) and its labelling loop alone (models loaded,
``predict_batch`` over batches of 1000: the steady state the service is
compared with). Both throughputs are the best of three passes over the same
articles (one pass of a few seconds swings by a third on shared cores);
batch bodies are encoded before the clock starts and replies checked after
it stops. Every run is bounded in requests and time; the load
generator runs on the same 2 cores as the server, which the figures include.
Writes ``--out`` (Markdown, default ``benchmarks/SERVE.md``) and prints it.
Goals (issue 15): single-article p99 <= 20 ms at 200 req/s; batches >= 80 %
of the CLI's articles/s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import publish  # noqa: E402
from predict_speed import articles_1kb  # noqa: E402  # the same 1 KB articles as the CLI benchmark


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, registry: str | None) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    cmd = [str(BIN / "newstag"), *(["--registry", registry] if registry else []), "serve", "--port", str(port), "--workers", str(workers), "--poll", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"newstag serve exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    sys.exit("newstag serve not ready in 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


class _Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for the
    load: a client library (httpx) costs several milliseconds of CPU per
    request, which on 2 shared cores would measure the client, not the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> _Conn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def open_loop(url: str, articles: list[dict], rate: float, seconds: float, timeout: float) -> dict:
    """Single articles at ``rate`` req/s for ``seconds``; latency from each due time.

    Keep-alive connections are reused when idle and opened when none is, so a
    slow server gets more connections in flight, not a slower schedule."""
    host, port = url.removeprefix("http://").split(":")
    bodies = [json.dumps(a, ensure_ascii=False).encode() for a in articles]
    n = max(1, int(rate * seconds))
    latencies: list[float] = []
    failures = 0
    kinds: Counter[str] = Counter()
    idle: list[_Conn] = []

    async def one(i: int, due: float) -> None:
        nonlocal failures
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        conn = None
        body = bodies[i % len(bodies)]
        try:
            if idle:
                conn = idle.pop()
                try:
                    status, _ = await asyncio.wait_for(conn.post("/v1/label", body), timeout)
                except (ConnectionError, asyncio.IncompleteReadError, IndexError):
                    # the server closed this idle keep-alive connection (uvicorn's
                    # keep-alive timeout) before reading the request: like any
                    # HTTP client, send it again on a fresh connection
                    conn.close()
                    conn = None
            if conn is None:
                conn = await _Conn.open(host, int(port))
                status, _ = await asyncio.wait_for(conn.post("/v1/label", body), timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            failures += 1
            kinds[type(exc).__name__] += 1
            if conn is not None:
                conn.close()
            return
        idle.append(conn)
        if status == 200:
            latencies.append(time.perf_counter() - due)
        else:
            failures += 1
            kinds[f"HTTP {status}"] += 1

    start = time.perf_counter() + 0.2
    await asyncio.gather(*(one(i, start + i / rate) for i in range(n)))
    wall = time.perf_counter() - start
    for conn in idle:
        conn.close()
    return {
        "requests": n,
        "failures": failures,
        "failure_kinds": dict(kinds),
        "req_s": round(len(latencies) / wall, 1),
        "p50_ms": round(_pct(latencies, 0.50) * 1000, 1),
        "p95_ms": round(_pct(latencies, 0.95) * 1000, 1),
        "p99_ms": round(_pct(latencies, 0.99) * 1000, 1),
    }


async def batches(url: str, articles: list[dict], size: int, count: int, concurrency: int, timeout: float) -> dict:
    """``count`` requests of ``size`` articles, ``concurrency`` in flight.

    Bodies are encoded before the clock starts and responses checked after it
    stops, on the raw connections of :class:`_Conn`: with one request in
    flight, the client's JSON work (httpx encoding each body and decoding each reply)
    would otherwise be added to the server's time on every request."""
    host, port = url.removeprefix("http://").split(":")
    bodies = [
        json.dumps([{**articles[(k * size + j) % len(articles)], "id": f"b{k}-{j}"} for j in range(size)], ensure_ascii=False).encode() for k in range(count)
    ]
    queue = list(range(count))
    replies: list[tuple[int, bytes]] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        conn = await _Conn.open(host, int(port))
        try:
            while queue:
                k = queue.pop()
                try:
                    replies.append(await asyncio.wait_for(conn.post("/v1/label", bodies[k]), timeout))
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
                    failures += 1
                    conn.close()
                    conn = await _Conn.open(host, int(port))
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    done = 0
    for status, body in replies:
        if status == 200 and len(json.loads(body)["results"]) == size:
            done += size
        else:
            failures += 1
    return {"batches": count, "batch_size": size, "failures": failures, "articles_s": round(done / wall, 1)}


PASSES = 3  # best of: one pass of a few seconds swings by a third on shared cores


def cli_speed(articles: list[dict], registry: str | None) -> dict:
    """``newstag predict`` on the articles as a process, and its labelling loop alone."""
    from newstag.data import Record
    from newstag.serve.predict import batches as chunks
    from newstag.serve.predict import default_models, load, predict_batch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "articles.jsonl"
        path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(BIN / "newstag"), *(["--registry", registry] if registry else []), "predict", "-q", str(path), "-o", str(Path(tmp) / "out.jsonl")]
        )
        process_wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit("newstag predict failed")
    records = [Record(id=a["id"], title=a["title"], text=a["text"]) for a in articles]
    labellers = [load(ref, registry) for ref in default_models(registry)]
    predict_batch(records[:50], labellers)
    loop_wall = float("inf")
    for _ in range(PASSES):  # steady state, as the server's best pass
        t0 = time.perf_counter()
        for chunk in chunks(records, 1000):
            predict_batch(chunk, labellers)
        loop_wall = min(loop_wall, time.perf_counter() - t0)
    return {"articles": len(articles), "process_articles_s": round(len(articles) / process_wall, 1), "loop_articles_s": round(len(articles) / loop_wall, 1)}


def to_markdown(rows: list[dict], cli: dict, args: argparse.Namespace, command: str) -> str:
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# `newstag serve` under load",
        "",
        f"Generated by `{command}` on {when} — {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load:.2f} at the end. Loopback, the load generator on the same cores. 1 KB articles from the corpus "
        "(as `predict_speed.py`). Single articles: open-loop schedule, latency from each request's due time. "
        f"Batches: {args.batches} requests of {args.batch_size} articles, as many in flight as workers, best of {PASSES} passes (failures: all passes).",
        "",
        "| workers | load | requests | failures | achieved req/s | p50 ms | p95 ms | p99 ms | articles/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "single":
            lines.append(
                f"| {r['workers']} | {r['rate']:g} req/s, 1 article | {r['requests']} | {r['failures']} | {r['req_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | |"
            )
        else:
            lines.append(f"| {r['workers']} | batches of {r['batch_size']} | {r['batches']} | {r['failures']} | | | | | {r['articles_s']} |")
    kinds = [f"{r['workers']} worker(s) at {r['rate']:g} req/s: {r['failure_kinds']}" for r in rows if r.get("failure_kinds")]
    if kinds:
        lines += ["", "Failures by kind (a time-out counts as one): " + "; ".join(kinds) + "."]
    lines += [
        "",
        f"CLI on the same {cli['articles']} articles: `newstag predict` process {cli['process_articles_s']} articles/s (model load included); "
        f"its labelling loop alone {cli['loop_articles_s']} articles/s (best of {PASSES} passes).",
        "",
        "| goal | measured | met |",
        "|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "single" and r["rate"] == 200:
            lines.append(f"| single-article p99 <= 20 ms at 200 req/s, {r['workers']} worker(s) | {r['p99_ms']} ms | {'yes' if r['p99_ms'] <= 20 else 'no'} |")
        if r["kind"] == "batch":
            ratio = r["articles_s"] / cli["loop_articles_s"]
            lines.append(f"| batches >= 80 % of the CLI's articles/s, {r['workers']} worker(s) | {ratio:.0%} | {'yes' if ratio >= 0.8 else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", type=float, nargs="+", default=[50, 200], help="single-article request rates (req/s)")
    p.add_argument("--seconds", type=float, default=20, help="duration of each rate")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--batches", type=int, default=30, help="number of batch requests")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--timeout", type=float, default=30, help="per-request timeout (s); a timed-out request counts as a failure")
    p.add_argument("--registry", help="model registry (default: the project's)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "SERVE.md"))
    p.add_argument("--json", help="also write the raw figures here")
    p.add_argument("--readme", nargs="?", const=str(ROOT / "README.md"), help="also put the tables between the serve-load markers of this README")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.batches < 1 or args.batch_size < 1 or any(r <= 0 for r in args.rates) or any(w < 1 for w in args.workers):
        p.error("rates, seconds, batches, batch size and workers must be positive")
    articles = articles_1kb(max(2000, args.batch_size * args.batches))
    rows = []
    for workers in args.workers:
        proc, url = start_server(workers, args.registry)
        try:
            asyncio.run(batches(url, articles, 20, 4 * workers, workers, args.timeout))  # warm-up: every worker's word cache
            for rate in args.rates:
                r = asyncio.run(open_loop(url, articles, rate, args.seconds, args.timeout))
                rows.append({"kind": "single", "workers": workers, "rate": rate, **r})
                print(rows[-1], flush=True)
            passes = [asyncio.run(batches(url, articles, args.batch_size, args.batches, workers, args.timeout)) for _ in range(PASSES)]
            r = max(passes, key=lambda p: p["articles_s"])
            r["failures"] = sum(p["failures"] for p in passes)
            rows.append({"kind": "batch", "workers": workers, **r})
            print(rows[-1], flush=True)
        finally:
            stop_server(proc)
    cli = cli_speed(articles[: args.batch_size * args.batches], args.registry)
    print(cli, flush=True)
    command = "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = to_markdown(rows, cli, args, command.strip())
    Path(args.out).write_text(md, encoding="utf-8")
    if args.readme and not publish(Path(args.readme), "serve-load", md.split("\n", 2)[2]):
        sys.exit(f"{args.readme}: no <!-- serve-load:start --> ... <!-- serve-load:end --> block")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "cli": cli}, indent=2) + "\n", encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
