"""``newstag.service`` in process: the request-body parser (properties), the
model holder's verified swap, and the app through an in-process client."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newstag.registry import Registry, RegistryError
from newstag.service.labelling import RequestError, parse_body
from newstag.service.models import ModelHolder, UnknownModel

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
article_like = st.dictionaries(st.sampled_from(["id", "title", "subtitle", "text", "lang", "other"]), json_values | st.text(max_size=30), max_size=5)


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_get_a_4xx(raw):
    try:
        records, errors = parse_body(raw, max_articles=10)
    except RequestError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return
    assert records or errors


@given(st.lists(article_like | json_values, min_size=1, max_size=12))
def test_every_article_is_either_a_record_or_an_error_at_its_index(items):
    raw = json.dumps(items).encode()
    try:
        records, errors = parse_body(raw, max_articles=10)
    except RequestError as exc:
        assert exc.status == 413 and len(items) > 10
        return
    good = [i for i, _ in records]
    bad = {e.index for e in errors}
    assert sorted(good + sorted(bad)) == list(range(len(items)))  # each index exactly once
    for i, rec in records:
        assert rec.source == f"request:{i}" and (rec.title or rec.subtitle or rec.text)
        assert rec.id.strip()  # the given id, or request:<index>


@pytest.mark.parametrize(
    ("raw", "status", "kind"),
    [
        (b"\xff", 400, "invalid_utf8"),
        (b"{", 400, "malformed_json"),
        (b"3", 422, "wrong_type"),
        (b"[]", 422, "empty_batch"),
        (b"[{}, {}, {}]", 413, "too_many_articles"),
    ],
)
def test_whole_request_problems(raw, status, kind):
    with pytest.raises(RequestError) as info:
        parse_body(raw, max_articles=2)
    assert (info.value.status, info.value.kind) == (status, kind)


# ----------------------------------------------------------------- the holder


@pytest.fixture
def registry(trained_registry, tmp_path) -> Path:
    reg = tmp_path / "registry"
    shutil.copytree(trained_registry, reg, ignore=shutil.ignore_patterns("model.joblib"))  # the compact form is what is served
    src = reg / "topics" / "v1"
    shutil.copytree(src, reg / "topics" / "v2")
    manifest = json.loads((src / "manifest.json").read_text())
    (reg / "topics" / "v2" / "manifest.json").write_text(json.dumps({**manifest, "version": "v2"}))
    Registry(reg).promote("topics@v1", "production")
    return reg


def test_holder_swaps_only_verified_models_and_logs_refusals_once(registry):
    events: list[tuple[str, dict]] = []
    holder = ModelHolder(None, registry, log=lambda event, **kw: events.append((event, kw)))
    assert not holder.ready
    holder.refresh()
    first = holder.current
    assert first.versions == {"topics": "topics@v1", "actors": "actors@v1"} and first.generation == 1
    assert holder.refresh().changed == {} and holder.current is first  # nothing changed: same object

    Registry(registry).promote("topics@v2", "production")
    out = holder.refresh()
    assert out.changed == {"topics": ("topics@v1", "topics@v2")}
    assert holder.current.versions["topics"] == "topics@v2" and holder.current.generation == 2
    assert first.versions["topics"] == "topics@v1"  # a request holding the old set still sees it whole
    assert holder.current.labellers[1] is first.labellers[1]  # the unchanged task is not reloaded

    compact = registry / "topics" / "v1" / "model.compact.npz"
    compact.write_bytes(compact.read_bytes()[:-10] + b"0123456789")
    Registry(registry).promote("topics@v1", "production")
    for _ in range(3):
        out = holder.refresh()
        assert "sha256" in out.refused["topics@v1"] and not out.changed
    assert holder.current.versions["topics"] == "topics@v2"
    assert [e for e, _ in events].count("model_refused") == 1


def test_first_load_fails_loudly_and_select_names_what_is_served(registry):
    with pytest.raises(RegistryError, match="no trained model for task 'sports'"):
        ModelHolder(["sports"], registry).refresh()
    holder = ModelHolder(["topics@production"], registry)
    holder.refresh()
    models = holder.current
    assert [lab.task for lab in models.select(["topics@production"])] == ["topics"]
    assert [lab.task for lab in models.select(None)] == ["topics"]
    with pytest.raises(UnknownModel, match="served: topics@v1"):
        models.select(["actors"])
    with pytest.raises(UnknownModel):
        models.select(["topics@v2"])


# -------------------------------------------------------------- the app, in process


def test_app_in_process_labels_and_reports(registry):
    from fastapi.testclient import TestClient

    from newstag.service.app import Settings, create_app

    with TestClient(create_app(Settings(registry=str(registry), poll_seconds=0, max_articles=3))) as client:
        r = client.post("/v1/label", json=[{"id": "a", "title": "Kiev", "text": "La NATO e l'Ucraina."}, {"id": "b"}])
        assert r.status_code == 200
        assert [o["id"] for o in r.json()["results"]] == ["a"] and r.json()["errors"][0]["index"] == 1
        assert client.post("/v1/label", json=[{"text": "x"}] * 4).status_code == 413
        assert client.post("/v1/reload").status_code == 403  # no token configured: reload over HTTP is off
        spec = client.get("/openapi.json").json()
        body = spec["paths"]["/v1/label"]["post"]["requestBody"]["content"]["application/json"]
        assert set(body["examples"]) == {"one article", "a batch"}


def test_micro_batcher_groups_concurrent_requests_and_gives_each_its_own_results(registry, corpus_test):
    import asyncio

    from newstag.serve.predict import predict_batch
    from newstag.service.batching import MicroBatcher

    holder = ModelHolder(None, registry)
    holder.refresh()
    labellers = holder.current.labellers
    records = corpus_test[:12]
    requests = [records[i : i + 3] for i in range(0, 12, 3)]
    batcher = MicroBatcher(max_articles=6)

    async def burst():
        plain = [batcher.label(labellers, r) for r in requests]
        scored = batcher.label(labellers, records[:2], all_scores=True)  # other options: its own call
        return await asyncio.gather(*plain, scored)

    *answers, scored = asyncio.run(burst())
    assert [a for answer in answers for a in answer] == predict_batch(records, labellers)
    assert scored == predict_batch(records[:2], labellers, all_scores=True) and "scores" in scored[0]
    assert batcher.calls == 3  # all five queued before the first call: [3 + 3], [3 + 3] (max 6), the scored one alone
