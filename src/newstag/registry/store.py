"""Versioned, verifiable model artifacts.

Layout::

    <registry>/<task>/v1/model.joblib      the fitted MultiLabelModel
    <registry>/<task>/v1/manifest.json     what it is, how it was made, sha256
    <registry>/<task>/aliases.json         {"production": "v3", ...}
    <registry>/<task>/.counter             last version handed out

A version is written into a hidden temporary folder and renamed into place
only when complete, so a crash never leaves a half-registered version.
Version numbers are handed out under an exclusive file lock and never reused,
so parallel sweep jobs never collide. Loading checks the sha256 of
``model.joblib`` against the manifest *before* unpickling (a joblib file
runs code when loaded) and refuses a model made by another scikit-learn
minor version unless told otherwise.

A *reference* is ``task``, ``task@v3``, ``task@latest``, ``task@production``
(any alias), or a path to a version folder or to its ``manifest.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newstag.core import paths
from newstag.core.files import atomic_write_text, sha256_file

MODEL_FILE = "model.joblib"
COMPACT_FILE = "model.compact.npz"
MANIFEST_FILE = "manifest.json"
ALIASES_FILE = "aliases.json"
_VERSION = re.compile(r"^v(\d+)$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


class RegistryError(Exception):
    """A model reference that cannot be resolved, or an artifact that fails a check."""


@dataclass(frozen=True)
class ModelRef:
    task: str
    version: str  # "v3"
    path: Path

    def __str__(self) -> str:
        return f"{self.task}@{self.version}"


def _versions(task_dir: Path) -> list[int]:
    if not task_dir.is_dir():
        return []
    return sorted(int(m.group(1)) for p in task_dir.iterdir() if p.is_dir() and (m := _VERSION.match(p.name)))


@contextlib.contextmanager
def _locked(task_dir: Path) -> Iterator[None]:
    import fcntl

    task_dir.mkdir(parents=True, exist_ok=True)
    with open(task_dir / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _git_commit(cwd: Path) -> str | None:
    import subprocess  # (registration only: not on the loading path)

    """HEAD of the checkout, suffixed ``-dirty`` when the work tree has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _write_compact(model: Any, folder: Path) -> dict[str, str] | None:
    """Save the compact form beside the pickle when the model has one."""
    from newstag.engine import compact
    from newstag.learn.export import compile_model

    try:
        cm, arrays = compile_model(model)
    except (compact.Unsupported, AttributeError) as exc:
        return {"unsupported": str(exc)}
    data = compact.to_bytes(cm.meta, arrays)
    (folder / COMPACT_FILE).write_bytes(data)
    return {"file": COMPACT_FILE, "sha256": hashlib.sha256(data).hexdigest(), "format": str(cm.meta["format"])}


def runtime_versions() -> dict[str, str]:
    import platform

    import joblib
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "joblib": joblib.__version__}


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def _read_writable(path: Path) -> Any:
    """The file's bytes in a writable buffer (a ``uint8`` array, not zeroed
    first) that the model's arrays then view without another copy
    (:func:`newstag.engine.compact.load_bytes`)."""
    import numpy as np

    with open(path, "rb") as f:
        data = np.empty(os.fstat(f.fileno()).st_size, dtype=np.uint8)
        n = f.readinto(data.data)
        rest = f.read()  # a file that changed size while read: all of it (the hash check decides)
    data = data[:n]
    return np.concatenate([data, np.frombuffer(rest, dtype=np.uint8)]) if rest else data


def check_compact_bytes(data: Any, expected_sha256: str | None, path: str | os.PathLike[str]) -> None:
    """Refuse compact-model bytes whose sha256 is not the manifest's.

    One check, one message, wherever the bytes are about to be used: the local
    loader (:meth:`Registry.load_compact`) and the Spark executors
    (:mod:`newstag.spark.executor`), which receive the bytes over the network.
    """
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise RegistryError(f"{path}: sha256 does not match the manifest; the file was changed after it was registered. Refusing to load it")


class Registry:
    """The model registry rooted at ``root`` (default ``experiments/registry``)."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root) if root else paths.default_registry()

    # ----------------------------------------------------------------- writing

    def register(self, task: str, model: Any, manifest: dict[str, Any], extra_files: Callable[[dict[str, Any]], dict[str, str]] | None = None) -> ModelRef:
        """Save ``model`` as the next version of ``task``; return its reference.

        ``extra_files(manifest)`` may return more text files for the version
        folder (the model card): they are written before the folder appears.
        """
        import shutil
        import tempfile

        import joblib

        if not _NAME.match(task):
            raise RegistryError(f"invalid task name {task!r}")
        task_dir = self.root / task
        task_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=task_dir))
        try:
            os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a version folder is an ordinary folder
            joblib.dump(model, tmp / MODEL_FILE, compress=3)
            body = {
                **manifest,
                "task": task,
                "sha256": sha256_file(tmp / MODEL_FILE),
                "compact": _write_compact(model, tmp),
                "versions": runtime_versions(),
                "git_commit": manifest.get("git_commit", _git_commit(paths.project_root())),
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            }
            with _locked(task_dir):
                counter = task_dir / ".counter"
                last = max([int(counter.read_text() or 0) if counter.exists() else 0, *_versions(task_dir)])
                version = f"v{last + 1}"
                body["version"] = version
                atomic_write_text(tmp / MANIFEST_FILE, json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n")
                for name, text in (extra_files(body) if extra_files else {}).items():
                    atomic_write_text(tmp / name, text)
                os.rename(tmp, task_dir / version)
                atomic_write_text(counter, str(last + 1))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return ModelRef(task, version, task_dir / version)

    def promote(self, ref: str, alias: str) -> ModelRef:
        """Point ``alias`` (e.g. ``production``) of the model's task at it."""
        if alias == "latest" or _VERSION.match(alias) or not _NAME.match(alias):
            raise RegistryError(f"invalid alias {alias!r}: use a name like 'production' ('latest' and 'vN' are reserved)")
        target = self.resolve(ref)
        task_dir = self.root / target.task
        with _locked(task_dir):
            aliases = self.aliases(target.task)
            aliases[alias] = target.version
            atomic_write_text(task_dir / ALIASES_FILE, json.dumps(aliases, indent=2, sort_keys=True) + "\n")
        return target

    # ----------------------------------------------------------------- reading

    def tasks(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _versions(p))

    def versions(self, task: str) -> list[ModelRef]:
        return [ModelRef(task, f"v{n}", self.root / task / f"v{n}") for n in _versions(self.root / task)]

    def aliases(self, task: str) -> dict[str, str]:
        path = self.root / task / ALIASES_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def resolve(self, ref: str) -> ModelRef:
        """Turn a reference into a version folder (see the module docstring)."""
        ref = str(ref).strip()
        as_path = Path(ref).expanduser()
        if "@" not in ref and (as_path.is_dir() or as_path.is_file()) and ("/" in ref or as_path.suffix):
            folder = as_path if as_path.is_dir() else as_path.parent
            if not (folder / MANIFEST_FILE).is_file():
                raise RegistryError(f"{folder}: not a model folder (no {MANIFEST_FILE})")
            manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
            return ModelRef(manifest.get("task", folder.parent.name), manifest.get("version", folder.name), folder)
        task, _, tag = ref.partition("@")
        tag = tag or "latest"
        found = self.versions(task)
        if not found:
            known = ", ".join(self.tasks()) or "none"
            raise RegistryError(
                f"no trained model for task {task!r} in {self.root} (tasks there: {known}); train one with `newstag-train task={task}` or pass a model folder"
            )
        if tag == "latest":
            return found[-1]
        if _VERSION.match(tag):
            for r in found:
                if r.version == tag:
                    return r
            raise RegistryError(f"{task} has no version {tag} (versions: {', '.join(r.version for r in found)})")
        aliases = self.aliases(task)
        if tag not in aliases:
            raise RegistryError(
                f"{task} has no alias {tag!r} (aliases: {', '.join(sorted(aliases)) or 'none'}; set one with `newstag models promote {task}@vN {tag}`)"
            )
        return self.resolve(f"{task}@{aliases[tag]}")

    def default_ref(self, task: str) -> str:
        """``task@production`` when that alias exists, else ``task@latest``."""
        return f"{task}@production" if "production" in self.aliases(task) else f"{task}@latest"

    def manifest(self, ref: str | ModelRef) -> dict[str, Any]:
        target = ref if isinstance(ref, ModelRef) else self.resolve(ref)
        path = target.path / MANIFEST_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{path}: unreadable manifest ({exc})") from exc

    def verify(self, ref: str | ModelRef, allow_version_mismatch: bool = False, _data: bytes | None = None) -> dict[str, Any]:
        """Check the artifact against its manifest without unpickling it.

        Returns the manifest; raises :class:`RegistryError` on a hash
        mismatch or (unless allowed) a scikit-learn minor-version mismatch.
        """
        target = ref if isinstance(ref, ModelRef) else self.resolve(ref)
        manifest = self.manifest(target)
        model_file = target.path / MODEL_FILE
        if _data is None and not model_file.is_file():
            raise RegistryError(f"{model_file}: missing")
        actual = hashlib.sha256(_data).hexdigest() if _data is not None else sha256_file(model_file)
        if actual != manifest.get("sha256"):
            raise RegistryError(
                f"{model_file}: sha256 {actual[:12]}... does not match the manifest ({str(manifest.get('sha256'))[:12]}...); "
                "the file was changed after it was registered. Refusing to load it: retrain, or restore the original file"
            )
        compact_info = manifest.get("compact") or {}
        if _data is None and compact_info.get("file"):
            compact_file = target.path / compact_info["file"]
            if not compact_file.is_file() or sha256_file(compact_file) != compact_info.get("sha256"):
                raise RegistryError(f"{compact_file}: missing or sha256 does not match the manifest; the file was changed after it was registered")
        saved = manifest.get("versions", {}).get("scikit-learn", "")
        current = runtime_versions()["scikit-learn"]
        if _minor(saved) != _minor(current) and not allow_version_mismatch:
            raise RegistryError(
                f"{target}: trained with scikit-learn {saved}, this environment has {current}; "
                "pickles are not portable across minor versions. Retrain, install the same version, "
                "or pass --allow-version-mismatch to load it anyway"
            )
        return manifest

    def load_compact(self, ref: str | ModelRef) -> tuple[Any, dict[str, Any]] | None:
        """The compact form (no pickle, no scikit-learn), hash-checked; ``None``
        when the version has none."""
        from newstag.engine import compact

        target = ref if isinstance(ref, ModelRef) else self.resolve(ref)
        manifest = self.manifest(target)
        info = manifest.get("compact") or {}
        if not info.get("file"):
            return None
        path = target.path / info["file"]
        try:
            data = _read_writable(path)
        except OSError as exc:
            raise RegistryError(f"{path}: cannot read ({exc.strerror})") from exc
        check_compact_bytes(data, info.get("sha256"), path)
        return compact.load_bytes(data), manifest

    def load(self, ref: str | ModelRef, allow_version_mismatch: bool = False) -> tuple[Any, dict[str, Any]]:
        """Verify, then unpickle. Returns ``(model, manifest)``.

        The file is read once: the bytes that were hashed are the bytes that
        are unpickled, so a swap between check and load cannot slip through.
        """
        import joblib

        target = ref if isinstance(ref, ModelRef) else self.resolve(ref)
        try:
            data = (target.path / MODEL_FILE).read_bytes()
        except OSError as exc:
            raise RegistryError(f"{target.path / MODEL_FILE}: cannot read ({exc.strerror})") from exc
        manifest = self.verify(target, allow_version_mismatch, _data=data)
        return joblib.load(io.BytesIO(data)), manifest
