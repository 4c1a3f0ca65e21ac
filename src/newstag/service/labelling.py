"""A ``POST /v1/label`` body in, the CLI's output objects out.

The body is one article (a JSON object) or a list of them, with the fields
of a JSON Lines input line (``id``, ``title``, ``subtitle``, ``text``,
``lang``). Each article goes through the CLI's own
:class:`~newstag.data.loading.Validator` and
:func:`~newstag.serve.predict.predict_batch`, so a response object is the
object ``newstag predict`` prints for the same article, except ``source``:
``request:<index>`` (the article's index in the body, from 0). The
service labels through :mod:`~newstag.service.batching`; :func:`label_body`
is the same path without it.

Whole-request problems (not UTF-8, malformed JSON, neither an object nor a
list, too many articles) raise :class:`RequestError` with the HTTP status.
A bad article in a batch is reported in ``errors`` with its index and field
while the others are labelled, as the CLI does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from newstag.data.loading import Validator, _Row
from newstag.data.records import Record
from newstag.serve.predict import Labeller, predict_batch

SOURCE = "request"
MAX_EXPLAIN = 50


@dataclass(frozen=True)
class ArticleError:
    """One article that could not be labelled: where (``index`` in the body,
    ``field``), what, and how to fix it."""

    index: int | None
    field: str | None
    message: str
    hint: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestError(Exception):
    """The request as a whole is refused with ``status``."""

    def __init__(self, status: int, message: str, errors: Sequence[ArticleError] = (), kind: str = "bad_request"):
        super().__init__(message)
        self.status, self.message, self.errors, self.kind = status, message, list(errors), kind

    def to_json(self) -> dict[str, Any]:
        return {"detail": self.message, "errors": [e.to_json() for e in self.errors]}


def _unencodable(values: dict[str, Any]) -> str | None:
    """The first string field holding a lone surrogate (``"\\ud800"`` is valid
    JSON but not Unicode text: it could never be written back as UTF-8)."""
    for key, value in values.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return key
    return None


def parse_body(raw: bytes, max_articles: int) -> tuple[list[tuple[int, Record]], list[ArticleError]]:
    """Records (with their index in the body) and the articles refused.

    Raises :class:`RequestError`: 400 for bytes that are not UTF-8 JSON,
    422 for a body that is neither an article nor a list of articles, 413
    for more than ``max_articles``.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"the body is not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 4]!r})", kind="invalid_utf8") from exc
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", kind="malformed_json") from exc
    except RecursionError as exc:
        raise RequestError(400, "malformed JSON: nested too deeply", kind="malformed_json") from exc
    if isinstance(body, dict):
        items = [body]
    elif isinstance(body, list):
        items = body
    else:
        raise RequestError(422, f"expected one article (a JSON object) or a list of articles, got {type(body).__name__}", kind="wrong_type")
    if not items:
        raise RequestError(422, "the list of articles is empty", kind="empty_batch")
    if len(items) > max_articles:
        raise RequestError(413, f"{len(items)} articles in one request, the limit is {max_articles}; split the batch", kind="too_many_articles")
    validator = Validator(None, read_labels=False, unique_ids=False, require_id=False)
    records: list[tuple[int, Record]] = []
    errors: list[ArticleError] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(ArticleError(i, None, f"expected an article (a JSON object), got {type(item).__name__}", "send {'title': ..., 'text': ...}"))
            continue
        bad = _unencodable(item)
        if bad is not None:
            errors.append(ArticleError(i, bad, "contains a lone surrogate (\\ud800-\\udfff), not Unicode text", "send the text as UTF-8"))
            continue
        record, problems = validator.check(_Row(SOURCE, i, item))
        if record is not None:
            records.append((i, record))
        errors.extend(ArticleError(i, p.field, p.message, p.hint) for p in problems)
    return records, errors


def respond(results: list[dict[str, Any]], errors: Sequence[ArticleError], labellers: Sequence[Labeller]) -> dict[str, Any]:
    """The ``POST /v1/label`` response body (200) for the labelled ``results``
    and the refused articles; :class:`RequestError` 422 when nothing could
    be labelled (every article is in its ``errors``)."""
    if not results:
        if len(errors) == 1:
            e = errors[0]
            message = f"article {e.index}" + (f": field '{e.field}'" if e.field else "") + f": {e.message}" + (f" ({e.hint})" if e.hint else "")
        else:
            message = f"no article could be labelled: all {len(errors)} refused (see errors)"
        raise RequestError(422, message, errors, kind="invalid_article")
    return {"results": results, "errors": [e.to_json() for e in errors], "models": {lab.task: lab.ref for lab in labellers}}


def label_body(
    raw: bytes, labellers: Sequence[Labeller], *, max_articles: int, threshold: float | None = None, all_scores: bool = False, explain: int = 0
) -> dict[str, Any]:
    """Parse, label and answer in one call, without the service's batching
    (for in-process use and tests: the service's answer is the same)."""
    records, errors = parse_body(raw, max_articles)
    results = predict_batch([r for _, r in records], labellers, threshold=threshold, all_scores=all_scores, explain=explain) if records else []
    return respond(results, errors, labellers)
