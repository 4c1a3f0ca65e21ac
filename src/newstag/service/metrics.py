"""Prometheus metrics of the service (``GET /metrics``).

Each app has its own :class:`~prometheus_client.CollectorRegistry`, so tests
can build several apps in one process. With ``--workers N`` every worker
process counts on its own: a scrape reaches one worker (see the README).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# latency buckets around the goal (single article p99 <= 20 ms) and batches of 100
BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """Requests, latency, articles labelled, errors by kind, model versions."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("newstag_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("newstag_http_request_duration_seconds", "Request latency by route", ["route"], buckets=BUCKETS, registry=self.registry)
        self.articles = Counter("newstag_articles_labelled", "Articles labelled", registry=self.registry)
        self.errors = Counter("newstag_errors", "Errors by kind (bad articles and rejected requests)", ["kind"], registry=self.registry)
        self.engine_batch = Histogram(
            "newstag_engine_batch_articles",
            "Articles per engine call (concurrent requests are labelled together)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
            registry=self.registry,
        )
        self.model_info = Gauge("newstag_model_info", "1 for each model version served", ["task", "version"], registry=self.registry)
        self.reloads = Counter("newstag_model_reloads", "Model refresh outcomes", ["outcome"], registry=self.registry)

    def set_models(self, versions: dict[str, str]) -> None:
        self.model_info.clear()
        for task, ref in versions.items():
            self.model_info.labels(task=task, version=ref).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
