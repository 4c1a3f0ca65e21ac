"""Structured logs: one JSON object per line on standard error.

One line per request (``event: request`` with its id, size, latency and
status) and one per model event (loaded, refused, watch errors), so a log
shipper needs no parser of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

LOGGER = "newstag.service"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        body = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"), "level": record.levelname.lower()}
        return json.dumps({**body, "event": record.getMessage(), **fields}, ensure_ascii=False, default=str)


def get_logger(stream: TextIO | None = None) -> logging.Logger:
    """The service logger, set up once, writing JSON lines to ``stream``
    (standard error by default) and not propagating to the root logger."""
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with ``fields`` as one JSON line."""
    get_logger().log(level, event, extra={"fields": fields})
