"""The FastAPI application: routes, limits, request log and metrics.

:func:`create_app` builds the app around a :class:`ModelHolder`;
:func:`app_from_env` is the factory uvicorn calls in each worker process
when ``--workers`` is above 1 (the settings travel in an environment
variable, so every worker loads, verifies and watches its models itself).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newstag.registry import RegistryError
from newstag.service import schemas
from newstag.service.batching import MicroBatcher
from newstag.service.labelling import MAX_EXPLAIN, ArticleError, RequestError, parse_body, respond
from newstag.service.logs import log_event
from newstag.service.metrics import ServiceMetrics
from newstag.service.models import ModelHolder, NotReady, UnknownModel, Watcher

SETTINGS_ENV = "NEWSTAG_SERVE_SETTINGS"
TOKEN_ENV = "NEWSTAG_RELOAD_TOKEN"
INLINE_PARSE_BYTES = 64 * 1024


@dataclass
class Settings:
    """What ``newstag serve`` was asked for (also the worker factory's input)."""

    models: list[str] = field(default_factory=list)  # empty: each task at production, else latest
    registry: str | None = None
    max_articles: int = 1000
    max_bytes: int = 10 * 1024 * 1024
    poll_seconds: float = 2.0  # 0: no registry watch (POST /v1/reload only)
    allow_version_mismatch: bool = False

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(SETTINGS_ENV)
        return cls(**json.loads(raw)) if raw else cls()


def make_holder(settings: Settings) -> ModelHolder:
    return ModelHolder(settings.models or None, settings.registry, allow_version_mismatch=settings.allow_version_mismatch, log=log_event)


def _error(status: int, detail: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or []}, status_code=status, headers=headers)


class _Observe:
    """ASGI middleware: request id, one JSON log line and the metrics per request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", None) or "<unmatched>"
            state = scope["state"]
            self.metrics.requests.labels(method=scope["method"], route=path, status=str(status)).inc()
            self.metrics.latency.labels(route=path).observe(elapsed)
            log_event(
                "request",
                id=rid,
                method=scope["method"],
                path=scope["path"],
                status=status,
                bytes=state.get("bytes"),
                articles=state.get("articles"),
                labelled=state.get("labelled"),
                models=state.get("models"),
                latency_ms=round(elapsed * 1000, 2),
            )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the body is {declared} bytes, the limit is {limit}; split the batch", kind="body_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the body exceeds {limit} bytes; split the batch", kind="body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _model_out(lab: Any, aliases: frozenset[str]) -> dict[str, Any]:
    m = lab.manifest
    summary = m.get("metrics", {}).get("test", {}).get("summary", {})
    return {
        "task": lab.task,
        "ref": lab.ref,
        "aliases": sorted(aliases),
        "created_at": m.get("created_at"),
        "sha256": (m.get("compact") or {}).get("sha256") or m.get("sha256"),
        "labels": lab.labels,
        "thresholds": {label: round(float(t), 4) for label, t in zip(lab.labels, lab.thresholds)},
        "test_metrics": summary,
    }


_ERRORS = {
    400: {"model": schemas.ErrorResponse, "description": "the body is not UTF-8 JSON"},
    413: {"model": schemas.ErrorResponse, "description": "more articles than --max-articles, or a body over --max-bytes"},
    422: {"model": schemas.ErrorResponse, "description": "no article could be labelled, a bad option, or an unknown model (errors name the index and field)"},
    503: {"model": schemas.ErrorResponse, "description": "no verified model loaded yet"},
}

_LABEL_BODY = {
    "requestBody": {
        "required": True,
        "description": "One article, or a list of up to --max-articles articles (the fields of a JSON Lines input line).",
        "content": {
            "application/json": {
                "schema": {"anyOf": [schemas.ArticleIn.model_json_schema(), {"type": "array", "items": schemas.ArticleIn.model_json_schema(), "minItems": 1}]},
                "examples": {
                    "one article": {"value": schemas.EXAMPLE_ARTICLE},
                    "a batch": {
                        "value": [schemas.EXAMPLE_ARTICLE, {"id": "b", "title": "NATO summit in Vilnius", "text": "Allies pledge air defence to Kyiv."}]
                    },
                },
            }
        },
    }
}


def create_app(settings: Settings, holder: ModelHolder | None = None) -> FastAPI:
    """The service around ``holder`` (built from ``settings`` if not given;
    models are loaded at start-up when the holder has none yet)."""
    holder = holder or make_holder(settings)
    metrics = ServiceMetrics()
    holder.log = _metered(holder.log, metrics)
    watcher = Watcher(holder, settings.poll_seconds)
    batcher = MicroBatcher(settings.max_articles, observe=metrics.engine_batch.observe)
    if holder.ready:
        metrics.set_models(holder.current.versions)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not holder.ready:
            await run_in_threadpool(holder.refresh)
        watcher.start()
        log_event("started", pid=os.getpid(), versions=holder.current.versions, poll_seconds=settings.poll_seconds)
        try:
            yield
        finally:
            watcher.stop()
            log_event("stopped", pid=os.getpid())

    app = FastAPI(
        title="newstag",
        version="0.1.0",
        summary="Label news articles by topic and actor over HTTP, with the guarantees of `newstag predict`.",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        metrics.errors.labels(kind=exc.kind).inc()
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ()) if x not in ("query", "body", "header")]
            errors.append(ArticleError(None, ".".join(loc) or None, str(e.get("msg", "invalid")), "").to_json())
        metrics.errors.labels(kind="bad_option").inc()
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        return _error(422, f"option '{first['field']}': {first['message']}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(NotReady)
    async def _not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return _error(503, str(exc))

    @app.post("/v1/label", response_model=schemas.LabelResponse, responses=_ERRORS, openapi_extra=_LABEL_BODY, summary="Label one article or a batch")  # type: ignore[arg-type]  # int keys are what FastAPI expects
    async def label(
        request: Request,
        explain: Annotated[int, Query(ge=0, le=MAX_EXPLAIN, description="top N contributing features (and alias hits) per predicted label")] = 0,
        all_scores: Annotated[bool, Query(description="add every label's probability")] = False,
        threshold: Annotated[float | None, Query(ge=0.0, le=1.0, description="one threshold for every label instead of the tuned ones")] = None,
        model: Annotated[list[str] | None, Query(description="only these served models (topics, actors@v3, topics@production); default: all")] = None,
    ) -> Response:
        """Labels, probabilities, thresholds and model versions: the objects `newstag predict` prints.

        A batch with bad articles labels the others (200) and lists the bad ones in `errors` with
        their index and field; 422 when no article could be labelled.
        """
        models = holder.current  # one consistent set for the whole request, even if a swap happens meanwhile
        try:
            labellers = models.select(model)
        except UnknownModel as exc:
            raise RequestError(422, str(exc), [ArticleError(None, "model", str(exc), "GET /v1/models lists them")], kind="unknown_model") from exc
        raw = await _read_body(request, settings.max_bytes)
        state = request.scope["state"]
        state["bytes"], state["models"] = len(raw), models.versions
        try:
            if len(raw) <= INLINE_PARSE_BYTES:  # a few articles: parsing is microseconds, no thread hop
                records, errors = parse_body(raw, settings.max_articles)
            else:
                records, errors = await run_in_threadpool(parse_body, raw, settings.max_articles)
            results = await batcher.label(labellers, [r for _, r in records], threshold=threshold, all_scores=all_scores, explain=explain)
            body = respond(results, errors, labellers)
        except RequestError as exc:
            state["articles"], state["labelled"] = len(exc.errors) or None, 0
            raise
        state["articles"], state["labelled"] = len(body["results"]) + len(body["errors"]), len(body["results"])
        metrics.articles.inc(len(body["results"]))
        if body["errors"]:
            metrics.errors.labels(kind="invalid_article").inc(len(body["errors"]))
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    @app.get(
        "/v1/models", response_model=schemas.ModelsResponse, responses={503: _ERRORS[503]}, summary="The served versions, their test metrics and thresholds"
    )
    def list_models() -> dict[str, Any]:
        models = holder.current
        return {
            "generation": models.generation,
            "loaded_at": models.loaded_at,
            "models": [_model_out(lab, models.aliases.get(lab.task, frozenset())) for lab in models.labellers],
        }

    @app.post(
        "/v1/reload",
        response_model=schemas.ReloadResponse,
        responses={
            401: {"model": schemas.ErrorResponse, "description": "missing or wrong token"},
            403: {"model": schemas.ErrorResponse, "description": f"reload disabled: {TOKEN_ENV} is not set"},
            409: {"model": schemas.ErrorResponse, "description": "a candidate model was refused; the old one keeps serving"},
        },
        summary="Load what the references now resolve to (verified first)",
    )
    async def reload(request: Request) -> Response:
        """Guarded by `Authorization: Bearer <token>`, the token in the server's `NEWSTAG_RELOAD_TOKEN`.
        With several workers, only the worker that receives the call reloads; the others pick the
        change up at their next registry poll."""
        token = os.environ.get(TOKEN_ENV, "")
        if not token:
            return _error(403, f"reload over HTTP is disabled: start the server with {TOKEN_ENV} set")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _error(401, "missing or wrong token (send 'Authorization: Bearer <token>')", headers={"WWW-Authenticate": "Bearer"})
        try:
            outcome = await run_in_threadpool(holder.refresh)
        except RegistryError as exc:  # the references cannot be resolved at all
            return _error(409, str(exc))
        models = holder.current
        body = {"generation": models.generation, "models": models.versions, **outcome.to_json()}
        if outcome.refused:
            return _error(
                409, "refused: " + "; ".join(f"{ref}: {why}" for ref, why in outcome.refused.items()), headers={"X-Models": json.dumps(models.versions)}
            )
        return JSONResponse(body)

    @app.get("/healthz", response_model=schemas.Status, summary="The process is up")
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=schemas.Status,
        responses={503: {"model": schemas.Status, "description": "no verified model loaded"}},
        summary="Models loaded and verified",
    )
    def readyz() -> Response:
        if not holder.ready:
            return JSONResponse({"status": "loading", "models": {}}, status_code=503)
        return JSONResponse({"status": "ready", "models": holder.current.versions})

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
        summary="Prometheus metrics",
    )
    def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    app.state.holder, app.state.metrics, app.state.settings, app.state.batcher = holder, metrics, settings, batcher
    app.add_middleware(_Observe, metrics=metrics)
    return app


def _metered(log: Any, metrics: ServiceMetrics) -> Any:
    """Wrap the holder's log so refusals and swaps by the watcher also move the metrics."""

    def wrapped(event: str, **fields: Any) -> None:
        if event == "model_refused":
            metrics.reloads.labels(outcome="refused").inc()
        elif event == "models_loaded":
            metrics.reloads.labels(outcome="changed").inc()
            metrics.set_models(fields.get("versions", {}))
        log(event, **fields)

    return wrapped


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process (``--workers`` > 1)."""
    return create_app(Settings.from_env())
