"""Old import paths of classes that can be inside a saved model.

Pickles name every class by its module path. Models registered before the
package was split into layers (0.1.0, issue 10) name ``newstag.models``,
``newstag.features``, ``newstag.aliases``...; this module makes those names
importable again as aliases of the new modules, so that every registered
model keeps loading. The aliases resolve lazily, on first import of an old
name: nothing heavy is imported at ``import newstag``.

Installed by ``newstag/__init__.py``; imports nothing from newstag eagerly.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType

#: old module path -> new module path (the old -> new map of the 0.1 layout)
MOVED: dict[str, str] = {
    "newstag.paths": "newstag.core.paths",
    "newstag.fsutil": "newstag.core.files",
    "newstag.labels": "newstag.schema.labels",
    "newstag.aliases": "newstag.text.aliases",
    "newstag.raw": "newstag.data.raw",
    "newstag.split": "newstag.data.split",
    "newstag.datasheet": "newstag.data.datasheet",
    "newstag.compact": "newstag.engine.compact",
    "newstag.features": "newstag.learn.features",
    "newstag.models": "newstag.learn.models",
    "newstag.thresholds": "newstag.learn.thresholds",
    "newstag.predict": "newstag.serve.predict",
    "newstag.explain": "newstag.serve.explain",
    "newstag.output": "newstag.serve.output",
    "newstag.docs": "newstag.reports.docs",
    "newstag.train": "newstag.experiment.train",
    "newstag.evaluate": "newstag.experiment.evaluate",
    "newstag.sweep": "newstag.experiment.sweep",
}
# newstag.text and newstag.data became packages that re-export the old
# modules' public names, so they need no alias.


class _AliasLoader:
    """Finds an old module name and loads it as a view of the new module.

    A finder and loader by protocol (``find_spec``, ``create_module``,
    ``exec_module``), not by ``importlib.abc``: importing that module pulls in
    ``importlib.resources`` and ``zipfile``, about 30 ms of every CLI start."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname in MOVED and MOVED[fullname] != fullname:
            return importlib.machinery.ModuleSpec(fullname, self)  # type: ignore[arg-type]  # a Loader by protocol (see the class)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a fresh module object, filled by exec_module

    def exec_module(self, module: ModuleType) -> None:
        target = importlib.import_module(MOVED[module.__name__])
        # The same objects under the old name: classes unpickled through it are
        # the new classes (isinstance holds), and their __module__ is the new path.
        module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("__")})
        module.__doc__ = f"Alias of {target.__name__} (moved in newstag 0.1; see newstag.compat)."


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _AliasLoader) for f in sys.meta_path):
        sys.meta_path.append(_AliasLoader())
