"""Prediction: the Python API (``newstag.load``, ``newstag.label``) and the
streaming engine behind ``newstag predict``.

Every structure returned here is the one the CLI prints, so the API and the
command line always agree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from newstag.data.loading import Validator, _Row, iter_jsonl_stream, iter_rows
from newstag.data.raw import parse_article
from newstag.data.records import Problem, Record
from newstag.engine.compact import CompactModel

BATCH = 1000
ENGINES = ("auto", "compact", "compiled", "numpy", "sklearn")


class Labeller:
    """A loaded, verified model of one task (what :func:`load` returns)."""

    def __init__(self, model: Any, manifest: dict[str, Any], ref: str):
        self.model = model
        self.manifest = manifest
        self.ref = ref
        self.task: str = manifest.get("task", "")
        self.labels: list[str] = list(model.labels_)
        self.thresholds = np.asarray(model.thresholds_, dtype=float)

    def __repr__(self) -> str:
        return f"Labeller({self.ref}, {len(self.labels)} labels, engine={self.engine})"

    @property
    def engine(self) -> str:
        """Which engine scores: ``compiled``, ``numpy`` (the compact form) or ``sklearn``."""
        return self.model.engine if isinstance(self.model, CompactModel) else "sklearn"

    def _thresholds(self, override: float | None) -> np.ndarray:
        return self.thresholds if override is None else np.full(len(self.labels), float(override))

    def probabilities(self, articles: Sequence[Any], prepared: dict | None = None) -> np.ndarray:
        """Raw probability matrix (articles x labels). ``prepared``: a dict
        shared by labellers scoring the same articles, so the compact engine
        prepares each text once for all of them (ignored by scikit-learn)."""
        if not len(articles):
            return np.zeros((0, len(self.labels)))
        if prepared is not None and isinstance(self.model, CompactModel):
            return self.model.predict_proba(list(articles), prepared)
        return self.model.predict_proba(list(articles))

    def predict_proba(self, articles: Sequence[Any]) -> list[dict[str, float]]:
        """Every label's probability, per article."""
        P = self.probabilities(articles)
        return [{label: round(float(p), 4) for label, p in zip(self.labels, row)} for row in P]

    def predict(self, articles: Sequence[Any], threshold: float | None = None) -> list[list[dict[str, Any]]]:
        """Predicted labels per article: ``{"label", "probability", "threshold"}``,
        most probable first."""
        return self._decide(self.probabilities(articles), threshold)

    def _decide(self, P: np.ndarray, threshold: float | None = None) -> list[list[dict[str, Any]]]:
        t = self._thresholds(threshold)
        shown = [round(float(x), 4) for x in t]
        rows, cols = np.nonzero(np.greater_equal(P, t))  # row-major: each article's labels in schema order, as sorted below
        out: list[list[dict[str, Any]]] = [[] for _ in range(len(P))]
        for i, j, p in zip(rows.tolist(), cols.tolist(), P[rows, cols].tolist()):
            out[i].append({"label": self.labels[j], "probability": round(p, 4), "threshold": shown[j]})
        for hits in out:
            hits.sort(key=lambda h: -h["probability"])  # stable: ties keep schema order
        return out

    def explain(self, article: Any, n: int = 5, labels: Sequence[str] | None = None) -> dict[str, Any]:
        """Evidence for each predicted label (or ``labels``).

        ``features``: the ``n`` features with the largest contribution
        (coefficient x feature value) to the label's score. For actor models,
        ``aliases``: the schema aliases found in the text with offsets.
        """
        from newstag.serve.explain import explain

        return explain(self, article, n, labels)


def load(ref: str, registry: str | Path | None = None, allow_version_mismatch: bool = False, engine: str = "auto") -> Labeller:
    """Load a registered model: ``"topics"``, ``"topics@v3"``,
    ``"topics@production"`` or a model folder.

    ``engine="auto"`` serves the compact form (arrays, no pickle, no
    scikit-learn import: fast start) when the version has one, with the
    compiled front end when it is built (else numpy; ``NEWSTAG_ENGINE=numpy``
    turns it off), else the scikit-learn pipeline. ``"compiled"`` and
    ``"numpy"`` ask for that engine of the compact form (``"compact"``: either),
    ``"sklearn"`` forces the pipeline; :attr:`Labeller.engine` says which
    serves. Every file is checked against the manifest's sha256 before it is
    read into a model.
    """
    from newstag.registry import Registry, RegistryError

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    reg = Registry(registry)
    target = reg.resolve(ref)
    loaded = reg.load_compact(target) if engine != "sklearn" else None
    if loaded is None:
        if engine in ("compact", "compiled", "numpy"):
            raise RegistryError(f"{target} has no compact form ({reg.manifest(target).get('compact')}), so no {engine} engine; use --engine sklearn")
        loaded = reg.load(target, allow_version_mismatch)
    model, manifest = loaded
    if engine in ("compiled", "numpy"):
        from newstag.engine.frontend import EngineUnavailable

        try:
            model.set_engine(engine)
        except EngineUnavailable as exc:
            raise RegistryError(f"--engine compiled cannot run here: {exc}") from exc
    return Labeller(model, manifest, str(target))


def default_models(registry: str | Path | None = None, tasks: Sequence[str] = ("topics", "actors")) -> list[str]:
    """Each task at ``production`` if set, else ``latest``."""
    from newstag.registry import Registry

    reg = Registry(registry)
    return [reg.default_ref(task) for task in tasks]


def label(
    articles: Sequence[Any],
    models: Sequence[str | Labeller] | None = None,
    *,
    registry: str | Path | None = None,
    threshold: float | None = None,
) -> list[dict[str, Any]]:
    """Apply both tasks (or ``models``) to ``articles``: one dict per article
    with a key per task and the model versions used."""
    labellers = [m if isinstance(m, Labeller) else load(m, registry) for m in (models or default_models(registry))]
    results: list[dict[str, Any]] = [{} for _ in articles]
    prepared: dict = {}  # one text preparation for every labeller
    for lab in labellers:
        for res, preds in zip(results, lab._decide(lab.probabilities(articles, prepared), threshold)):
            res[lab.task] = preds
    for res in results:
        res["models"] = {lab.task: lab.ref for lab in labellers}
    return results


# ---------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class InputError:
    """A source that could not be read at all (missing file, bad type...)."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


def _stdin_rows(stream: BinaryIO) -> Iterator[_Row]:
    """Standard input is JSON Lines when it starts with ``{``, else one raw article."""
    first, skipped = stream.readline(), 0
    while first and not first.strip():
        first, skipped = stream.readline(), skipped + 1
    if first.lstrip().startswith(b"{"):
        yield from iter_jsonl_stream(_chain([first], stream), "<stdin>", start=skipped + 1)
        return
    data = first + stream.read()
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = skipped + data[: exc.start].count(b"\n") + 1
        yield _Row("<stdin>", line, {}, (Problem("<stdin>", line, None, "non-UTF-8 bytes", "send UTF-8 text"),))
        return
    art = parse_article(content)
    yield _Row("<stdin>", skipped + 1, {"id": "<stdin>", "title": art.title, "subtitle": art.subtitle, "text": art.body})


def _chain(first: Iterable[bytes], rest: Iterable[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def iter_inputs(sources: Sequence[str], columns: dict[str, str] | None = None, stdin: BinaryIO | None = None) -> Iterator[Record | Problem | InputError]:
    """Stream records from every source; bad records and unreadable sources
    come through as :class:`Problem` / :class:`InputError`, never silently dropped."""
    validator = Validator(None, columns, read_labels=False, unique_ids=False, require_id=False)
    for source in sources:
        try:
            rows = _stdin_rows(stdin or sys.stdin.buffer) if source == "-" else iter_rows(source)
            for row in rows:
                record, problems = validator.check(row)
                if record is not None:
                    yield record
                yield from problems
        except (FileNotFoundError, PermissionError, IsADirectoryError, ValueError, OSError) as exc:
            yield InputError(source, str(exc).replace(f"{source}: ", "") or type(exc).__name__)


def batches(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_batch(
    records: Sequence[Record], labellers: Sequence[Labeller], *, threshold: float | None = None, all_scores: bool = False, explain: int = 0
) -> list[dict[str, Any]]:
    """Output records (the CLI's JSON objects) for one batch of input records."""
    out: list[dict[str, Any]] = [{"id": r.id, "source": r.source} for r in records]
    prepared: dict = {}  # one text preparation for every labeller
    for lab in labellers:
        P = lab.probabilities(records, prepared)
        for o, preds in zip(out, lab._decide(P, threshold)):
            o[lab.task] = preds
        if all_scores:
            for o, row in zip(out, P):
                o.setdefault("scores", {})[lab.task] = {label: round(float(p), 4) for label, p in zip(lab.labels, row)}
        if explain:
            for o, r in zip(out, records):
                o.setdefault("explanations", {})[lab.task] = lab.explain(r, explain, [p["label"] for p in o[lab.task]])
    for o in out:
        o["models"] = {lab.task: lab.ref for lab in labellers}
    return out
