"""Run the service under uvicorn (what ``newstag serve`` calls).

The models are loaded and verified once before the socket opens, so a bad
``--model`` is a usage error (exit 2), not a server that never gets ready.
With one worker that holder is served directly; with ``--workers N`` uvicorn
spawns N processes that each build the app from the settings in
:data:`~newstag.service.app.SETTINGS_ENV`, and each one loads, verifies,
watches and hot-reloads its models on its own. SIGTERM and SIGINT stop
accepting connections, let requests in flight finish (up to
``graceful_seconds``), then exit 0.
"""

from __future__ import annotations

import os
import signal
import sys

from newstag.service.app import SETTINGS_ENV, Settings, create_app, make_holder
from newstag.service.logs import log_event


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, graceful_seconds: float = 30.0) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status (0).

    Raises :class:`~newstag.registry.RegistryError` when the models cannot
    be loaded and verified.
    """
    import uvicorn

    holder = make_holder(settings)
    holder.refresh()  # fail before listening
    log_event("listening", url=f"http://{host}:{port}", workers=workers, versions=holder.current.versions)
    _exit_zero_on(signal.SIGTERM, signal.SIGINT)
    common = {"host": host, "port": port, "log_level": "warning", "access_log": False, "timeout_graceful_shutdown": graceful_seconds}
    if workers == 1:
        uvicorn.run(create_app(settings, holder), **common)  # type: ignore[arg-type]  # typed against older uvicorn signatures
    else:
        os.environ[SETTINGS_ENV] = settings.to_env()
        uvicorn.run("newstag.service.app:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
    return 0


def _exit_zero_on(*signals: signal.Signals) -> None:
    """After a graceful shutdown uvicorn re-raises the signal that stopped it
    (so the process would die of SIGTERM, status -15); with this handler the
    re-raised signal, or one arriving before uvicorn listens, exits 0, the
    documented status of a requested stop."""
    for sig in signals:
        signal.signal(sig, lambda signum, frame: sys.exit(0))
