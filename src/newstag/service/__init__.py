"""The HTTP labelling service behind ``newstag serve``.

:mod:`~newstag.service.models` holds the served models and swaps them
without downtime (verified first), :mod:`~newstag.service.labelling` turns a
request body into the CLI's output objects, :mod:`~newstag.service.metrics`
and :mod:`~newstag.service.logs` are the Prometheus counters and the JSON
request log, and :mod:`~newstag.service.app` wires them into a FastAPI app.

An entry-point-level layer: may import :mod:`newstag.serve`,
:mod:`newstag.registry` and below. FastAPI, uvicorn and prometheus-client
(the ``serve`` extra) are imported only here, never by ``newstag --help``.
"""
