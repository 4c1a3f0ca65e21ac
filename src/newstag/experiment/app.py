"""The Hydra application set-up shared by ``newstag-train`` and
``newstag-evaluate``: our resolvers, and ``conf/`` found from any directory
(trap 1 of the style guide)."""

from __future__ import annotations

import sys
from typing import Any

from omegaconf import OmegaConf

from newstag.core import paths


def _class_weight(value: Any) -> Any:
    """``balanced`` stays, ``none``/``null`` become None (sweep choices cannot hold null)."""
    return None if value is None or str(value).lower() in ("none", "null", "") else value


def register_resolvers() -> None:
    """``${newstag_root:}``: the project root; ``${class_weight:X}``: see :func:`_class_weight`."""
    if not OmegaConf.has_resolver("newstag_root"):
        OmegaConf.register_new_resolver("newstag_root", lambda: str(paths.project_root()))
    if not OmegaConf.has_resolver("class_weight"):
        OmegaConf.register_new_resolver("class_weight", _class_weight)


def hydra_main(app: str, config_name: str, task_function: Any) -> None:
    """Run ``task_function`` as a Hydra app (``newstag-train``, ``newstag-evaluate``):
    our resolvers registered, ``conf/`` found from any directory."""
    import warnings

    import hydra

    register_resolvers()
    # conf/hydra/launcher/submitit_{local,slurm}.yaml keep the plugin's names on purpose
    # (`hydra/launcher=submitit_slurm` as documented by Hydra) and are validated against
    # its schema; Hydra 1.3 (pinned <1.4) still does that, with a deprecation warning on every run.
    warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name", category=UserWarning)
    config_path = paths.hydra_config_path(app, sys.argv[1:])
    hydra.main(version_base="1.3", config_path=config_path, config_name=config_name)(task_function)()
