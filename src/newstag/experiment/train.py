"""Training: ``newstag-train`` (Hydra) over a plain :func:`train` function.

For each task in ``cfg.train_tasks``: build features and model from config,
optionally cross-validate on the train split, fit on all of it (thresholds
tuned out-of-fold), evaluate on the test split, register the model.
Everything lands in the run directory: ``config.yaml`` (resolved),
``metrics.json`` and the log.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from newstag.core import paths
from newstag.experiment.app import hydra_main
from newstag.schema import binarize

log = logging.getLogger("newstag.train")


def _data_path(value: str | None) -> Path | None:
    """Config data paths: absolute, or relative to where the user started the command."""
    if value in (None, "", "None"):
        return None
    return paths.resolve(value, Path.cwd())


def load_data(cfg: DictConfig):
    from newstag.data import load_labelled
    from newstag.schema.labels import load_schema

    schema = load_schema(cfg.data.schema)
    columns = OmegaConf.to_container(cfg.data.columns) if cfg.data.get("columns") else None
    opts = {"schema": schema, "columns": columns, "fmt": cfg.data.get("format")}
    train_path = _data_path(cfg.data.train)
    test_path = _data_path(cfg.data.get("test"))
    if train_path is None:
        raise ValueError("data.train is required: the labelled file(s) to train on")
    train = load_labelled(train_path, **opts)
    test = load_labelled(test_path, **opts) if test_path else []
    log.info("data: %d train records from %s, %d test records from %s", len(train), train_path, len(test), test_path)
    return schema, train, test


def component_config(cfg: DictConfig, task: str, group: str) -> DictConfig:
    """The feature set or model of ``task``: a command-line ``features=``/
    ``model=`` choice applies to every task, else the experiment's per-task one."""
    chosen = cfg.get(group)
    if chosen is not None:
        return chosen
    per_task = cfg.tasks[task].get(group)
    if per_task is None:
        raise ValueError(f"no {group} for task {task!r}: choose one with {group}=NAME or an experiment")
    return per_task


def build_model(cfg: DictConfig, task: str, labels: Sequence[str]):
    """Instantiate the task's :class:`~newstag.learn.models.MultiLabelModel` from
    config, wrapped in the task's ``roles`` model when it has one
    (``roles@tasks.actors.roles=mentions`` on the command line, or the experiment's)."""
    from hydra.utils import instantiate

    from newstag.learn.models import MultiLabelModel

    features = instantiate(component_config(cfg, task, "features"), _convert_="all")
    classifier = instantiate(component_config(cfg, task, "model"), _convert_="all")
    t = cfg.thresholds
    model = MultiLabelModel(
        features,
        classifier,
        labels=list(labels),
        threshold_folds=t.folds,
        threshold_floor=t.floor,
        threshold_ceiling=t.ceiling,
        min_positives=t.min_positives,
        random_state=cfg.seed,
    )
    for wrapper in ("roles", "colabel"):  # stackers on the per-label model (conf/roles/, conf/colabel/)
        wcfg = cfg.tasks[task].get(wrapper)
        if wcfg is not None and wcfg.get("_target_"):
            model = instantiate(wcfg, _convert_="all")(base=model)
    return model


def evaluate_model(model, records: Sequence[Any], Y: np.ndarray) -> dict[str, Any]:
    from newstag.metrics import evaluate

    proba = model.predict_proba(records)
    pred = (proba >= model.thresholds_).astype(int)
    return evaluate(Y, pred, proba, model.labels_)


def _threshold_folds_param(model: Any) -> str:
    """``threshold_folds`` of the model, or of the base model it wraps."""
    return "threshold_folds" if "threshold_folds" in model.get_params(deep=False) else "base__threshold_folds"


def cross_validate(cfg: DictConfig, model, records: Sequence[Any], Y: np.ndarray) -> dict[str, Any]:
    """k-fold CV (iterative stratification) on train: mean and std per summary metric."""
    from sklearn.base import clone

    from newstag.data.split import kfold_indices

    folds = kfold_indices(Y, cfg.cv.folds, cfg.seed)
    scores: list[dict[str, float | None]] = []
    per_label: list[dict[str, Any]] = []
    for k, (tr, te) in enumerate(folds, 1):
        t0 = time.perf_counter()
        m = clone(model)
        m.set_params(**{_threshold_folds_param(m): cfg.cv.threshold_folds})
        m.fit([records[i] for i in tr], Y[tr])
        result = evaluate_model(m, [records[i] for i in te], Y[te])
        scores.append(result["summary"])
        per_label.append(result["per_label"])
        log.info(
            "  cv fold %d/%d: micro-F1 %.3f macro-F1 %.3f (%.1fs)",
            k,
            len(folds),
            result["summary"]["micro_f1"] or 0,
            result["summary"]["macro_f1"] or 0,
            time.perf_counter() - t0,
        )
    out: dict[str, Any] = {"folds": len(folds)}
    for key in scores[0]:
        values = [float(v) for s in scores if (v := s[key]) is not None]
        if values:
            out[key] = float(np.mean(values))
            out[f"{key}_std"] = float(np.std(values))
    out["per_label_f1"] = {label: float(np.mean([p[label]["f1"] for p in per_label if p[label]["f1"] is not None] or [np.nan])) for label in per_label[0]}
    return out


def _overrides() -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def _output_dir(cfg: DictConfig) -> Path:
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # called outside a Hydra app (tests, notebooks)
        out = Path(cfg.get("output_dir") or Path(cfg.paths.runs) / time.strftime("%Y-%m-%d_%H-%M-%S"))
        out.mkdir(parents=True, exist_ok=True)
        return out


def train_task(cfg: DictConfig, task: str, schema, train_records, test_records) -> dict[str, Any]:
    kind = cfg.tasks[task].labels
    labels = schema.ids(kind)
    model = build_model(cfg, task, labels)
    Y = binarize(train_records, kind, labels)
    result: dict[str, Any] = {"task": task, "labels": labels, "n_train": len(train_records), "n_test": len(test_records)}
    if cfg.cv.folds and cfg.cv.folds > 1:
        t0 = time.perf_counter()
        log.info("[%s] %d-fold cross-validation on train", task, cfg.cv.folds)
        result["cv"] = cross_validate(cfg, model, train_records, Y)
        log.info(
            "[%s] cv micro-F1 %.3f ± %.3f, macro-F1 %.3f ± %.3f (%.1fs)",
            task,
            result["cv"]["micro_f1"],
            result["cv"]["micro_f1_std"],
            result["cv"]["macro_f1"],
            result["cv"]["macro_f1_std"],
            time.perf_counter() - t0,
        )
    t0 = time.perf_counter()
    log.info("[%s] fitting on %d articles, %d labels", task, len(train_records), len(labels))
    model.fit(train_records, Y, progress=lambda msg: log.info("[%s]   %s", task, msg))
    seconds = time.perf_counter() - t0
    result["training_seconds"] = round(seconds, 2)
    result["thresholds"] = dict(zip(labels, map(float, model.thresholds_)))
    log.info("[%s] fitted in %.1fs", task, seconds)
    result["train_counts"] = {
        "languages": dict(sorted(Counter(r.lang for r in train_records).items())),
        "label_counts": dict(zip(labels, map(int, Y.sum(0)))),
    }
    analysis = None
    if test_records:
        from newstag.reports.analysis import analyse
        from newstag.serve.predict import Labeller

        analysis = analyse(Labeller(model, {"task": task, "label_kind": kind}, f"{task} (this run)"), list(test_records), kind)
        result["test"] = {**analysis.metrics, "errors": analysis.errors}
        s = result["test"]["summary"]
        log.info("[%s] test micro-F1 %.3f macro-F1 %.3f", task, s["micro_f1"], s["macro_f1"])
    return {"result": result, "model": model, "analysis": analysis}


def _manifest(cfg: DictConfig, result: dict[str, Any], fingerprints: dict[str, str]) -> dict[str, Any]:
    overrides = _overrides()
    return {
        "labels": result["labels"],
        "label_kind": cfg.tasks[result["task"]].labels,
        "thresholds": result["thresholds"],
        "metrics": {k: result[k] for k in ("test", "cv") if k in result},
        "config": OmegaConf.to_container(cfg, resolve=True),
        "overrides": overrides,
        "command": " ".join(["newstag-train", *overrides]),
        "dataset": {
            "train_fingerprint": fingerprints["train"],
            "test_fingerprint": fingerprints.get("test"),
            "n_train": result["n_train"],
            "n_test": result["n_test"],
            **result["train_counts"],
        },
        "training_seconds": result["training_seconds"],
    }


def rank_value(metrics: dict[str, Any], key: str) -> float | None:
    """Mean of ``key`` (e.g. ``cv.micro_f1``) over the tasks of a run."""
    section, _, name = key.partition(".")
    values = []
    for task in metrics.get("tasks", {}).values():
        block = task.get(section, {})
        value = block.get("summary", block).get(name) if isinstance(block, dict) else None
        if value is not None:
            values.append(value)
    return float(np.mean(values)) if values else None


def train(cfg: DictConfig) -> float | None:
    """Train, evaluate and register every task of ``cfg``; return the rank metric."""
    from newstag.core.files import atomic_write_text
    from newstag.data import fingerprint
    from newstag.registry import Registry

    started = time.perf_counter()
    out_dir = _output_dir(cfg)
    atomic_write_text(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    schema, train_records, test_records = load_data(cfg)
    fingerprints = {"train": fingerprint(train_records)}
    if test_records:
        fingerprints["test"] = fingerprint(test_records)
    registry = Registry(cfg.paths.registry)
    metrics: dict[str, Any] = {"fingerprints": fingerprints, "overrides": _overrides(), "tasks": {}}
    analyses = []
    for task in cfg.train_tasks:
        trained = train_task(cfg, task, schema, train_records, test_records)
        result = trained["result"]
        if cfg.register:
            from newstag.reports.card import render_card

            ref = registry.register(task, trained["model"], _manifest(cfg, result, fingerprints), lambda m: {"model_card.md": render_card(m)})
            result["model"] = str(ref)
            log.info("[%s] registered %s at %s", task, ref, ref.path)
        if trained["analysis"] is not None:
            trained["analysis"].ref = result.get("model", trained["analysis"].ref)
            analyses.append(trained["analysis"])
        metrics["tasks"][task] = result
    if analyses and cfg.get("report", True):
        from newstag.reports.render import write_report

        html = write_report(out_dir / "report", analyses, {"name": str(_data_path(cfg.data.test)), "fingerprint": fingerprints["test"], "n": len(test_records)})
        log.info("test report: %s", html)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    metrics["rank_metric"] = cfg.rank_metric
    metrics["rank_value"] = rank_value(metrics, cfg.rank_metric)
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    log.info("run finished in %.1fs; outputs in %s", metrics["seconds"], out_dir)
    return metrics["rank_value"]


def _hydra_entry(cfg: DictConfig) -> float | None:
    return train(cfg)


def main() -> None:
    """Console script ``newstag-train``: Hydra parses the command line."""
    hydra_main("newstag-train", "train", _hydra_entry)


if __name__ == "__main__":
    main()
