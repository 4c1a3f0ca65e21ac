"""Micro-batching: label concurrent requests together.

Scoring one article costs several times more per article than scoring it in
a batch (the engine's per-call work: sparse matrix set-up, the linear heads,
the role stacker), and single articles are what a CMS sends. So requests
that arrive while the engine is busy wait in a queue, and the next engine
call takes every queued request with the same models and options (up to
``max_articles`` articles) as one :func:`~newstag.serve.predict.predict_batch`
call, then hands each request its own slice. Nothing waits on purpose: an
idle service labels a request at once; under load the batches grow by
themselves. Results are the same as labelling each request alone (every
article is scored independently), and a request is only ever grouped with
requests holding the same labeller objects, so its versions stay its own.

Small calls (up to :data:`INLINE_ARTICLES` articles) run on the event loop
itself: with the engine in a thread, the GIL would ping-pong between it and
the loop reading new requests, so fewer requests would be queued for the
next call (measured: about half the batching). While such a call runs
(milliseconds) nothing else is served. Larger calls go to a thread so that
``/healthz`` and ``/metrics`` stay responsive during a big batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from newstag.data.records import Record
from newstag.serve.predict import Labeller, predict_batch

INLINE_ARTICLES = 32  # engine calls up to this size run on the event loop (see the module docstring)


@dataclass
class _Job:
    key: Hashable
    labellers: Sequence[Labeller]
    records: Sequence[Record]
    options: dict[str, Any]
    future: asyncio.Future


class MicroBatcher:
    """One engine call at a time per process; queued requests with the same
    models and options share the next call."""

    def __init__(self, max_articles: int = 1000, observe: Callable[[int], None] | None = None):
        self.max_articles = max_articles
        self.observe = observe  # called with the number of articles of each engine call
        self._queue: list[_Job] = []
        self._draining = False
        self._task: asyncio.Future | None = None
        self.calls = 0  # engine calls made (for tests and metrics)

    async def label(
        self, labellers: Sequence[Labeller], records: Sequence[Record], *, threshold: float | None = None, all_scores: bool = False, explain: int = 0
    ) -> list[dict[str, Any]]:
        """The CLI's output objects for ``records``, as ``predict_batch`` gives them."""
        if not records:
            return []
        options = {"threshold": threshold, "all_scores": all_scores, "explain": explain}
        key = (tuple(id(lab) for lab in labellers), threshold, all_scores, explain)
        job = _Job(key, labellers, records, options, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        if not self._draining:
            self._draining = True
            self._task = asyncio.ensure_future(self._drain())  # keep a reference: the loop holds tasks weakly
        return await job.future

    def _take(self) -> list[_Job]:
        """The first queued job and every later one that can share its call."""
        first = self._queue[0]
        group: list[_Job] = []
        rest: list[_Job] = []
        size = 0
        for job in self._queue:
            if job.key == first.key and (not group or size + len(job.records) <= self.max_articles):
                group.append(job)
                size += len(job.records)
            else:
                rest.append(job)
        self._queue = rest
        return group

    async def _drain(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0)  # let the loop read the requests that arrived meanwhile: they join this call
                group = self._take()
                records = [r for job in group for r in job.records]
                self.calls += 1
                if self.observe is not None:
                    self.observe(len(records))
                try:
                    if len(records) <= INLINE_ARTICLES:
                        out = predict_batch(records, group[0].labellers, **group[0].options)
                    else:
                        out = await run_in_threadpool(predict_batch, records, group[0].labellers, **group[0].options)
                except Exception as exc:  # every request of the call gets the error; the queue goes on
                    for job in group:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                start = 0
                for job in group:
                    if not job.future.done():  # a client that went away cancelled its future
                        job.future.set_result(out[start : start + len(job.records)])
                    start += len(job.records)
        finally:
            self._draining = False
