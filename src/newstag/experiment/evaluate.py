"""``newstag-evaluate``: the Hydra entry point over :func:`newstag.reports.evaluate_dataset`.

newstag-evaluate                                   # production/latest models on the test split
newstag-evaluate 'models=[topics@v2]' dataset=path/to/labelled.csv 'columns={text: body}'
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from newstag.core import paths

log = logging.getLogger("newstag.evaluate")


def evaluate(cfg: DictConfig) -> Path:
    from hydra.core.hydra_config import HydraConfig

    from newstag.registry import Registry
    from newstag.reports import evaluate_dataset

    registry = Registry(cfg.paths.registry)
    refs = list(cfg.models) if cfg.models else [registry.default_ref(t) for t in ("topics", "actors")]
    data = paths.resolve(cfg.dataset, Path.cwd())
    out = Path(HydraConfig.get().runtime.output_dir)
    columns = {str(k): str(v) for k, v in cfg.columns.items()} if cfg.get("columns") else None
    html = evaluate_dataset(refs, data, out, registry=registry.root, columns=columns, schema=cfg.schema)
    log.info("report: %s", html)
    return html


def main() -> None:
    from newstag.experiment.app import hydra_main

    hydra_main("newstag-evaluate", "evaluate", evaluate)


if __name__ == "__main__":
    main()
