"""Where the project lives on disk.

Every path newstag reads or writes by default resolves from the *project root*,
never from the current working directory (Hydra may change it, users run the
commands from anywhere). The root is, in order:

1. ``$NEWSTAG_HOME`` when set;
2. the source checkout this package was installed from (the editable install
   that ``make`` creates): the first parent holding ``conf/train.yaml``;
3. the first parent of the current directory holding ``conf/train.yaml``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_MARKER = Path("conf") / "train.yaml"


def _search_up(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / _MARKER).is_file():
            return candidate
    return None


@cache
def project_root() -> Path:
    """Return the project root (see module docstring); raise if there is none."""
    env = os.environ.get("NEWSTAG_HOME")
    if env:
        return Path(env).expanduser().resolve()
    found = _search_up(Path(__file__).resolve().parent) or _search_up(Path.cwd().resolve())
    if found is None:
        raise FileNotFoundError("cannot find the newstag project root (a folder with conf/train.yaml); set NEWSTAG_HOME to the checkout, or run from inside it")
    return found


def resolve(path: str | os.PathLike[str], base: Path | None = None) -> Path:
    """Resolve ``path``: absolute paths and ``~`` stay as given, relative ones
    are taken from ``base`` (default: the project root)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return (base or project_root()) / p


def conf_dir() -> Path:
    return project_root() / "conf"


def default_schema() -> Path:
    return project_root() / "data" / "labels.yaml"


def default_registry() -> Path:
    env = os.environ.get("NEWSTAG_REGISTRY")
    return Path(env).expanduser() if env else project_root() / "experiments" / "registry"


def hydra_config_path(prog: str, argv: list[str]) -> str | None:
    """``conf/`` for a Hydra entry point; ``None`` when the user passes
    ``--config-dir`` (an install outside the checkout). Exits with a clear
    message when neither is available."""
    try:
        return str(conf_dir())
    except FileNotFoundError:
        if any(a.startswith(("--config-dir", "-cd")) for a in argv):
            return None
        raise SystemExit(f"{prog}: cannot find conf/ (set NEWSTAG_HOME to the project checkout or pass --config-dir)") from None
