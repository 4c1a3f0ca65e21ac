"""newstag: label news articles by topic and by the actors involved.

Public API::

    import newstag
    topics = newstag.load("topics@production")   # verified before unpickling
    topics.predict(["..."]); topics.predict_proba([...]); topics.explain(text, 5)
    newstag.label([{"title": "...", "text": "..."}])  # both tasks

Imports are lazy so that ``import newstag`` (and the CLI) start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from newstag import compat

compat.install()  # models saved before the 0.1 layout name the old module paths

__version__ = "0.1.0"
__all__ = ["Record", "__version__", "label", "load", "load_records"]

if TYPE_CHECKING:
    from newstag.data import Record, load_records
    from newstag.serve.predict import Labeller


def load(ref: str, registry: Any = None, allow_version_mismatch: bool = False, engine: str = "auto") -> Labeller:
    """Load a registered model (see :func:`newstag.serve.predict.load`);
    ``.engine`` of the result says which engine scores."""
    from newstag.serve.predict import load as _load

    return _load(ref, registry, allow_version_mismatch, engine=engine)


def label(articles: Any, models: Any = None, *, registry: Any = None, threshold: float | None = None) -> list[dict[str, Any]]:
    """Label articles with both tasks (see :func:`newstag.serve.predict.label`)."""
    from newstag.serve.predict import label as _label

    return _label(articles, models, registry=registry, threshold=threshold)


def __getattr__(name: str) -> Any:
    if name in ("Record", "load_records"):
        from newstag import data

        return getattr(data, name)
    raise AttributeError(f"module 'newstag' has no attribute {name!r}")
