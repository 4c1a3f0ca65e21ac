"""``newstag serve``: the real server, started as a subprocess on 127.0.0.1.

One server for the module, on a copy of the session's trained registry with
extra topics versions: v1 is ``production`` (served at start), v2 is promoted
during a burst of requests, v3 is tampered with and v4 has an incompatible
compact format (both must be refused while the old model keeps serving).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance

from conftest import BIN, shared_or_skip, write_jsonl

pytestmark = pytest.mark.xdist_group("service")  # one worker starts the module's servers (make test runs -n 2)

TOKEN = "test-reload-token"
MAX_ARTICLES, MAX_BYTES = 50, 400_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_version(reg: Path, task: str, version: str) -> None:
    """Another version of ``task``: v1's files under the next version folder,
    its manifest naming the new version (what :meth:`Registry.register` would
    write for the same model, minus the ten seconds of export and dump)."""
    src, dst = reg / task / "v1", reg / task / version
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = version
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@pytest.fixture(scope="module")
def service_registry(trained_registry, tmp_path_factory):
    reg = tmp_path_factory.mktemp("service") / "registry"
    shutil.copytree(trained_registry, reg)
    for version in ("v2", "v3", "v4"):
        _copy_version(reg, "topics", version)
    from newstag.registry import Registry

    Registry(reg).promote("topics@v1", "production")
    return reg


def _start(reg: Path, *extra: str) -> tuple[subprocess.Popen, str, Path]:
    port = _free_port()
    log = reg.parent / f"serve-{port}.log"
    env = {**os.environ, "NEWSTAG_RELOAD_TOKEN": TOKEN}
    cmd = [str(BIN / "newstag"), "--registry", str(reg), "serve", "--port", str(port), "--poll", "0.2", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(log, "wb"), env=env)  # noqa: SIM115 - the child owns it
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url, log
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server not ready in 90 s: {log.read_text()}")


@pytest.fixture(scope="module")
def server(service_registry):
    proc, url, log = _start(service_registry, "--max-articles", str(MAX_ARTICLES), "--max-bytes", str(MAX_BYTES))
    yield url, proc, log
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server[0], timeout=60) as c:
        yield c


def _log_events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("{")]


def _without_source(objs: list[dict]) -> list[dict]:
    return [{k: v for k, v in o.items() if k != "source"} for o in objs]


# ----------------------------------------------------------- same as the CLI


def test_sample_and_batch_are_labelled_exactly_as_the_cli_does(server, client, service_registry, small_sets, tmp_path):
    from newstag.data.raw import parse_article

    sample = shared_or_skip("samples", "usa-russia-colloqui.txt")
    rows = [json.loads(line) for line in small_sets[1].read_text(encoding="utf-8").splitlines()[:25]]
    rows = [{k: r[k] for k in ("id", "title", "text")} for r in rows]
    batch = write_jsonl(tmp_path / "batch.jsonl", rows)
    served = client.get("/v1/models").json()
    refs = [m["ref"] for m in served["models"]]
    cli = subprocess.run(
        [
            str(BIN / "newstag"),
            "--registry",
            str(service_registry),
            "predict",
            str(sample),
            str(batch),
            "--all-scores",
            "--explain",
            "3",
            *[arg for r in refs for arg in ("-m", r)],
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    expected = [json.loads(line) for line in cli.stdout.splitlines()]

    art = parse_article(sample.read_text(encoding="utf-8"))
    one = client.post(
        "/v1/label",
        params={"all_scores": True, "explain": 3},
        json={"id": "usa-russia-colloqui", "title": art.title, "subtitle": art.subtitle, "text": art.body},
    )
    many = client.post("/v1/label", params={"all_scores": True, "explain": 3}, json=rows)
    assert one.status_code == many.status_code == 200, (one.text, many.text)
    got = one.json()["results"] + many.json()["results"]
    assert _without_source(got) == _without_source(expected)
    assert [o["source"] for o in many.json()["results"]] == [f"request:{i}" for i in range(len(rows))]
    assert "diplomacy" in [p["label"] for p in got[0]["topics"]]  # the sample's labels (labels.json): a sanity anchor
    assert one.headers["x-request-id"]


# ------------------------------------------------------------------ bad input

BAD_INPUTS = [
    # (name, params, raw body, status, text the message must contain)
    ("empty text", {}, b'{"id": "a", "title": "", "text": "  "}', 422, "field 'text'"),
    ("text not a string", {}, b'{"id": "a", "text": 5}', 422, "expected a string"),
    ("not an article", {}, b'"just a string"', 422, "got str"),
    ("empty batch", {}, b"[]", 422, "empty"),
    ("too many articles", {}, json.dumps([{"text": "x"}] * (MAX_ARTICLES + 1)).encode(), 413, f"limit is {MAX_ARTICLES}"),
    ("body over the size limit", {}, json.dumps({"text": "x" * (MAX_BYTES + 10)}).encode(), 413, "limit is"),
    ("invalid UTF-8", {}, b'{"text": "caf\xe9"}', 400, "UTF-8"),
    ("malformed JSON", {}, b'{"text": ', 400, "malformed JSON"),
    ("lone surrogate", {}, b'{"text": "\\ud800"}', 422, "field 'text'"),
    ("unknown model", {"model": "sports"}, b'{"text": "x"}', 422, "'sports' is not served"),
    ("unknown version", {"model": "topics@v99"}, b'{"text": "x"}', 422, "not served"),
    ("bad option", {"explain": "-1"}, b'{"text": "x"}', 422, "option 'explain'"),
    ("threshold out of range", {"threshold": "2"}, b'{"text": "x"}', 422, "option 'threshold'"),
]


@pytest.mark.parametrize(("params", "body", "status", "needle"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_gets_a_4xx_that_says_what_is_wrong(client, params, body, status, needle):
    r = client.post("/v1/label", params=params, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"], r.json()


def test_a_batch_with_bad_articles_labels_the_others_and_names_the_bad_ones(client):
    good = {"id": "g", "title": "Vertice NATO a Vilnius", "text": "Gli alleati promettono difesa aerea a Kiev."}
    r = client.post("/v1/label", json=[good, {"id": "e", "text": ""}, 7, {**good, "id": "g2"}, {"id": "t", "title": ["x"], "text": "Kiev"}])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [o["id"] for o in body["results"]] == ["g", "g2"]
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "text"), (2, None), (4, "title")]
    assert all(e["message"] for e in body["errors"])


def test_models_health_and_metrics(client):
    models = client.get("/v1/models").json()
    by_task = {m["task"]: m for m in models["models"]}
    assert set(by_task) == {"topics", "actors"}
    assert set(by_task["topics"]["thresholds"]) == set(by_task["topics"]["labels"]) and by_task["topics"]["test_metrics"]["micro_f1"] > 0
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["models"] == {m["task"]: m["ref"] for m in models["models"]}
    client.post("/v1/label", json={"text": ""})
    client.post("/v1/label", json={"title": "Kiev", "text": "La NATO e l'Ucraina."})
    text = client.get("/metrics").text
    assert 'newstag_errors_total{kind="invalid_article"}' in text
    assert "newstag_articles_labelled_total" in text and 'newstag_http_request_duration_seconds_bucket{le="0.02",route="/v1/label"}' in text
    assert 'newstag_http_requests_total{method="POST",route="/v1/label",status="422"}' in text
    assert "newstag_engine_batch_articles_count" in text


# ------------------------------------------------------------- the contract


def test_openapi_contract_no_5xx_and_responses_match_the_schema(server):
    """schemathesis generates requests from the service's own OpenAPI document
    (bounded: 8 examples per operation, plus the documented examples)."""
    api = schemathesis.openapi.from_url(server[0] + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/label", "GET /v1/models", "POST /v1/reload", "GET /readyz", "GET /metrics"}
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance])

        check()


# ---------------------------------------------------------- model updates


def test_promote_during_a_burst_zero_failures_one_version_per_response(server, service_registry):
    url = server[0]
    article = {"title": "Colloqui USA-Russia", "text": "Blinken e Lavrov discutono la crisi ucraina; la Turchia media."}
    start_ref = httpx.get(url + "/readyz").json()["models"]["topics"]
    target = "topics@v2" if start_ref != "topics@v2" else "topics@v1"
    seen: list[tuple[float, int, dict]] = []
    stop = threading.Event()

    def fire() -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                r = c.post("/v1/label", json=[article, article])
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                seen.append((time.monotonic(), r.status_code, body))

    threads = [threading.Thread(target=fire) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    promote = subprocess.run(
        [str(BIN / "newstag"), "--registry", str(service_registry), "models", "promote", target, "production"], capture_output=True, text=True
    )
    assert promote.returncode == 0, promote.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and httpx.get(url + "/readyz").json()["models"]["topics"] != target:
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert seen and all(status == 200 for _, status, _ in seen), [s for _, s, _ in seen if s != 200]
    versions = []
    for _, _, body in sorted(seen, key=lambda s: s[0]):
        assert all(res["models"] == body["models"] for res in body["results"])  # one consistent set per response
        versions.append(body["models"]["topics"])
    assert set(versions) == {start_ref, target}
    assert versions[-1] == target
    swapped = [e for e in _log_events(server[2]) if e["event"] == "models_loaded" and "topics" in e["changed"]]
    assert swapped[-1]["changed"]["topics"] == {"from": start_ref, "to": target}


def _refuse_case(reg: Path, version: str, kind: str) -> None:
    folder = reg / "topics" / version
    compact = folder / "model.compact.npz"
    if kind == "tampered":  # one byte changed after registration, the manifest untouched
        data = bytearray(compact.read_bytes())
        data[len(data) // 2] ^= 0xFF
        compact.write_bytes(bytes(data))
        return
    # incompatible: a compact format this engine does not read, with a manifest that matches it
    from newstag.engine import compact as engine

    with __import__("numpy").load(compact, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["format"] = 99
    data = engine.to_bytes(meta, arrays)
    compact.write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["compact"]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("version", "kind", "reason"), [("v3", "tampered", "sha256"), ("v4", "incompatible", "format 99")])
def test_tampered_or_incompatible_model_is_refused_and_the_old_keeps_serving(server, client, service_registry, version, kind, reason):
    _refuse_case(service_registry, version, kind)
    before = client.get("/readyz").json()["models"]
    promote = subprocess.run(
        [str(BIN / "newstag"), "--registry", str(service_registry), "models", "promote", f"topics@{version}", "production"], capture_output=True
    )
    assert promote.returncode == 0
    denied = client.post("/v1/reload", headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401
    r = client.post("/v1/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 409 and reason in r.json()["detail"], r.text
    assert client.get("/readyz").json()["models"] == before
    labelled = client.post("/v1/label", json={"title": "Kiev", "text": "La NATO e l'Ucraina."})
    assert labelled.status_code == 200 and labelled.json()["models"] == before
    refused = [e for e in _log_events(server[2]) if e["event"] == "model_refused" and e["ref"] == f"topics@{version}"]
    assert len(refused) == 1 and reason in refused[0]["reason"]  # logged once, not at every poll


def test_each_worker_picks_up_a_promotion_on_its_own(trained_registry, tmp_path):
    reg = tmp_path / "registry"
    shutil.copytree(trained_registry, reg, ignore=shutil.ignore_patterns("model.joblib"))
    _copy_version(reg, "topics", "v2")
    subprocess.run([str(BIN / "newstag"), "--registry", str(reg), "models", "promote", "topics@v1", "production"], check=True, capture_output=True)
    proc, url, log = _start(reg, "--workers", "2")
    try:
        # both workers serving v1 first: one still starting would load v2 as its first set, not swap to it
        deadline = time.monotonic() + 60
        while len({e["pid"] for e in _log_events(log) if e["event"] == "started"}) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        subprocess.run([str(BIN / "newstag"), "--registry", str(reg), "models", "promote", "topics@v2", "production"], check=True, capture_output=True)
        deadline, seen = time.monotonic() + 30, []
        with httpx.Client(base_url=url, timeout=10) as c:
            while time.monotonic() < deadline:
                seen = [c.get("/readyz", headers={"connection": "close"}).json()["models"]["topics"] for _ in range(10)]  # new connections: both workers
                if set(seen) == {"topics@v2"}:
                    break
                time.sleep(0.2)
        assert set(seen) == {"topics@v2"}
        loaded = [e for e in _log_events(log) if e["event"] == "models_loaded" and e["changed"].get("topics", {}).get("to") == "topics@v2"]
        assert len(loaded) == 2  # one swap per worker process
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


# ---------------------------------------------------------------- benchmark


def test_load_benchmark_smoke(trained_registry, tmp_path):
    """benchmarks/serve_load.py runs end to end at a tiny size (structure, not speed)."""
    import sys

    from conftest import ROOT

    out, readme = tmp_path / "SERVE.md", tmp_path / "README.md"
    readme.write_text("intro\n<!-- serve-load:start -->\nold\n<!-- serve-load:end -->\nrest\n")
    results = ROOT / "benchmarks" / "RESULTS.md"
    committed = results.read_bytes()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--registry", str(trained_registry), "--workers", "1", "--rates", "20", "--seconds", "1",
         "--batches", "2", "--batch-size", "5", "--out", str(out), "--readme", str(readme)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = out.read_text()
    assert "| 1 | 20 req/s, 1 article | 20 | 0 |" in table and "| 1 | batches of 5 | 2 | 0 |" in table and "CLI on the same 10 articles" in table
    text = readme.read_text()
    assert (
        text.startswith("intro\n<!-- serve-load:start -->\n")
        and "old" not in text
        and text.endswith("<!-- serve-load:end -->\nrest\n")
        and "| 1 | 20 req/s" in text
    )
    assert results.read_bytes() == committed  # a run on another README leaves the project's figures alone


# ----------------------------------------------------------------- shutdown


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(server):
    url, proc, log = server
    batch = json.dumps(
        [{"id": str(i), "title": "Vertice NATO", "text": "Gli alleati e l'Ucraina discutono di aiuti militari. " * 20} for i in range(MAX_ARTICLES)]
    ).encode()
    half = len(batch) // 2
    sent_half, release = threading.Event(), threading.Event()
    result: dict = {}

    def body():  # the request is on the wire (headers and half the body) when SIGTERM arrives
        yield batch[:half]
        sent_half.set()
        release.wait(10)
        yield batch[half:]

    def post() -> None:
        result["r"] = httpx.post(url + "/v1/label", content=body(), headers={"content-type": "application/json", "content-length": str(len(batch))}, timeout=60)

    t = threading.Thread(target=post)
    t.start()
    assert sent_half.wait(10)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    release.set()
    t.join()
    assert proc.wait(timeout=30) == 0
    assert result["r"].status_code == 200 and len(result["r"].json()["results"]) == MAX_ARTICLES
    events = [e["event"] for e in _log_events(log)]
    assert events[-1] == "stopped" and "request" in events
    with pytest.raises(httpx.TransportError):  # and it is gone
        httpx.get(url + "/healthz", timeout=2)
