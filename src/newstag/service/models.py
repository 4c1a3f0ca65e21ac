"""The served models, swapped without downtime.

A :class:`ModelSet` is immutable: a request takes the current set once, at
its start, and labels every article with it, so a request in flight when a
new version arrives finishes on the old models and every response names one
consistent set of versions. :class:`ModelHolder` builds the next set off to
the side (verify, load, score a probe article) and only then replaces the
reference; a candidate that fails any check is refused, logged once, and the
old set keeps serving. :class:`Watcher` polls the registry (aliases and
versions are plain files, so a poll is a few ``stat``/``read`` calls) and
asks the holder to refresh when what the references resolve to has changed.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newstag.core.files import sha256_file
from newstag.data.records import Record
from newstag.registry import MANIFEST_FILE, MODEL_FILE, ModelRef, Registry, RegistryError
from newstag.serve.predict import Labeller, default_models, load

LogFn = Callable[..., None]
PROBE = Record(id="probe", title="Colloqui di pace", text="Il ministro degli Esteri ha incontrato l'inviato della NATO a Bruxelles.")


class NotReady(RuntimeError):
    """No verified model set is loaded yet."""


class UnknownModel(LookupError):
    """A request named a model that this service does not serve."""


@dataclass(frozen=True)
class ModelSet:
    """One consistent set of verified labellers (one per task)."""

    labellers: tuple[Labeller, ...]
    generation: int
    loaded_at: str
    aliases: dict[str, frozenset[str]] = field(default_factory=dict)  # task -> aliases naming the served version

    @property
    def versions(self) -> dict[str, str]:
        return {lab.task: lab.ref for lab in self.labellers}

    def select(self, wanted: Sequence[str] | None) -> tuple[Labeller, ...]:
        """The labellers named by ``wanted`` (a task, ``task@vN`` or an alias
        that resolves to the served version), all of them when empty.

        Raises :class:`UnknownModel` naming what is served.
        """
        if not wanted:
            return self.labellers
        by_task = {lab.task: lab for lab in self.labellers}
        chosen: list[Labeller] = []
        for name in wanted:
            task, _, tag = name.partition("@")
            lab = by_task.get(task)
            if lab is None or (tag and name != lab.ref and tag not in self.aliases.get(task, ())):
                raise UnknownModel(f"model {name!r} is not served here (served: {', '.join(self.versions.values())})")
            if lab not in chosen:
                chosen.append(lab)
        return tuple(chosen)


@dataclass
class Outcome:
    """What a refresh did: ``changed`` tasks (old -> new ref) and ``refused``
    candidates (ref -> reason)."""

    changed: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"changed": {t: {"from": a, "to": b} for t, (a, b) in self.changed.items()}, "refused": dict(self.refused)}


def _fingerprint(target: ModelRef) -> tuple[Any, ...]:
    """Identity of a version folder's content on disk: a refused candidate is
    retried only when one of its files changes (e.g. is restored)."""
    stamps = []
    for p in sorted(target.path.iterdir()) if target.path.is_dir() else []:
        if p.is_file():
            st = p.stat()
            stamps.append((p.name, st.st_size, st.st_mtime_ns))
    return (str(target.path), tuple(stamps))


def verify_and_load(reg: Registry, target: ModelRef, allow_version_mismatch: bool = False) -> Labeller:
    """Every check a candidate passes before it may serve.

    Every artifact of the version against the manifest's sha256 (the pickle
    too, though the compact arrays are what is served: a version with any
    file changed after registration is not trusted), the compact format
    version (checked when the arrays are read; without a compact form, the
    pickle's scikit-learn version), the task named by the manifest, and a
    probe article scored to one probability in [0, 1] per label. Raises
    :class:`RegistryError` with the reason.
    """
    manifest = reg.manifest(target)
    if manifest.get("task") not in (None, target.task):
        raise RegistryError(f"{target}: the manifest says task {manifest.get('task')!r}")
    pickle = target.path / MODEL_FILE
    if pickle.is_file() and sha256_file(pickle) != manifest.get("sha256"):
        raise RegistryError(f"{pickle}: sha256 does not match the manifest; the file was changed after it was registered. Refusing it")
    try:
        lab = load(str(target.path / MANIFEST_FILE), reg.root, allow_version_mismatch)
    except RegistryError:
        raise
    except Exception as exc:  # an unreadable or incompatible artifact must never take the service down
        raise RegistryError(f"{target}: cannot be loaded ({type(exc).__name__}: {exc})") from exc
    try:
        P = lab.probabilities([PROBE])
    except Exception as exc:
        raise RegistryError(f"{target}: fails to score a probe article ({type(exc).__name__}: {exc})") from exc
    if P.shape != (1, len(lab.labels)) or not all(0.0 <= float(p) <= 1.0 and math.isfinite(float(p)) for p in P[0]):
        raise RegistryError(f"{target}: probe article scored to {P.shape} probabilities outside [0, 1]; incompatible model")
    return lab


def _aliases(reg: Registry, labellers: Sequence[Labeller]) -> dict[str, frozenset[str]]:
    """The aliases naming each served version (``topics@production`` in a
    request then names it)."""
    out = {}
    for lab in labellers:
        version = lab.ref.partition("@")[2]
        names = {a for a, v in reg.aliases(lab.task).items() if v == version}
        versions = reg.versions(lab.task)
        if versions and versions[-1].version == version:
            names.add("latest")
        out[lab.task] = frozenset(names)
    return out


class ModelHolder:
    """The current :class:`ModelSet` and the verified swap to the next one.

    ``refs``: the references to serve (``None``: each task at ``production``
    if set, else ``latest``, re-evaluated at every refresh so a first
    ``newstag models promote`` is picked up too).
    """

    def __init__(self, refs: Sequence[str] | None, registry: str | Path | None = None, *, allow_version_mismatch: bool = False, log: LogFn | None = None):
        self.refs = list(refs) if refs else None
        self.registry = Registry(registry)
        self.allow_version_mismatch = allow_version_mismatch
        self.log: LogFn = log or (lambda event, **kw: None)
        self._current: ModelSet | None = None
        self._lock = threading.Lock()  # one refresh at a time (watcher and POST /v1/reload)
        self._refused: dict[tuple[Any, ...], str] = {}

    @property
    def current(self) -> ModelSet:
        models = self._current
        if models is None:
            raise NotReady("no verified model loaded yet")
        return models

    @property
    def ready(self) -> bool:
        return self._current is not None

    def _targets(self) -> list[ModelRef]:
        refs = self.refs or default_models(self.registry.root)
        targets = [self.registry.resolve(ref) for ref in refs]
        tasks = [t.task for t in targets]
        if len(set(tasks)) != len(tasks):
            raise RegistryError(f"two models for the same task: {', '.join(map(str, targets))}")
        return targets

    def refresh(self, force: bool = False) -> Outcome:
        """Load whatever the references now resolve to, if it changed.

        Each changed task's candidate is verified (:func:`verify_and_load`)
        before it joins the new set; a refused candidate leaves that task on
        its old version. The first load raises :class:`RegistryError` if any
        model is refused: a service with no verified model must not start.
        """
        with self._lock:
            outcome = Outcome()
            old = self._current
            served = {lab.task: lab for lab in old.labellers} if old else {}
            try:
                targets = self._targets()
            except RegistryError as exc:
                if old is None:
                    raise
                outcome.refused["*"] = str(exc)
                self._log_refusal(("resolve", str(exc)), "*", str(exc))
                return outcome
            new: list[Labeller] = []
            for target in targets:
                current = served.get(target.task)
                if current is not None and current.ref == str(target) and not force:
                    new.append(current)
                    continue
                key = _fingerprint(target)
                if key in self._refused and not force:
                    outcome.refused[str(target)] = self._refused[key]
                    if current is not None:
                        new.append(current)
                    continue
                try:
                    lab = verify_and_load(self.registry, target, self.allow_version_mismatch)
                except RegistryError as exc:
                    if old is None:
                        raise
                    outcome.refused[str(target)] = str(exc)
                    self._log_refusal(key, str(target), str(exc))
                    if current is not None:
                        new.append(current)
                    continue
                new.append(lab)
                if current is None or current.ref != lab.ref:
                    outcome.changed[target.task] = (current.ref if current else None, lab.ref)
            aliases = _aliases(self.registry, new)
            if old is None or [lab.ref for lab in new] != [lab.ref for lab in old.labellers]:
                now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                self._current = ModelSet(tuple(new), (old.generation + 1) if old else 1, now, aliases)
                self.log("models_loaded", versions=self._current.versions, generation=self._current.generation, changed=outcome.to_json()["changed"])
            elif aliases != old.aliases:  # same versions, renamed: no reload, no new generation
                self._current = ModelSet(old.labellers, old.generation, old.loaded_at, aliases)
            return outcome

    def _log_refusal(self, key: tuple[Any, ...], ref: str, reason: str) -> None:
        if key not in self._refused:  # once per candidate, not at every poll
            self._refused[key] = reason
            self.log("model_refused", ref=ref, reason=reason, serving=self._current.versions if self._current else {})


class Watcher:
    """Polls the registry every ``interval`` seconds and refreshes the holder
    (in a daemon thread; :meth:`stop` joins it)."""

    def __init__(self, holder: ModelHolder, interval: float):
        self.holder, self.interval = holder, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newstag-model-watcher", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.holder.refresh()
            except Exception as exc:  # the watcher must outlive a broken registry; the old models keep serving
                self.holder.log("watch_error", error=f"{type(exc).__name__}: {exc}")
