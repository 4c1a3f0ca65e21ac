"""Sweep summary: after a multirun, rank its runs by the configured metric.

Registered as a Hydra callback in ``conf/train.yaml``; also callable on any
sweep folder (``summarize(path, metric)``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from newstag.core.files import atomic_write_text

log = logging.getLogger("newstag.sweep")

_COLUMNS = ("micro_f1", "macro_f1")


def _rows(sweep_dir: Path, metric: str) -> list[dict[str, Any]]:
    from newstag.experiment.train import rank_value

    rows = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json")):
        m = json.loads(metrics_file.read_text(encoding="utf-8"))
        row: dict[str, Any] = {"run": metrics_file.parent.name, "overrides": " ".join(m.get("overrides", []))}
        row[metric] = rank_value(m, metric)
        for task, result in m.get("tasks", {}).items():
            for section in ("cv", "test"):
                block = result.get(section)
                if block:
                    values = block.get("summary", block)
                    for col in _COLUMNS:
                        if values.get(col) is not None:
                            row[f"{task}.{section}.{col}"] = round(values[col], 4)
            row[f"{task}.train_s"] = result.get("training_seconds")
        rows.append(row)
    rows.sort(key=lambda r: (r[metric] is None, -(r[metric] or 0)))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row[metric] is not None else ""
        if row[metric] is not None:
            row[metric] = round(row[metric], 4)
    return rows


def summarize(sweep_dir: str | Path, metric: str = "cv.micro_f1") -> list[dict[str, Any]]:
    """Write ``summary.csv`` and ``summary.md`` in ``sweep_dir``; return the rows."""
    sweep_dir = Path(sweep_dir)
    rows = _rows(sweep_dir, metric)
    if not rows:
        log.warning("no metrics.json under %s: nothing to summarise", sweep_dir)
        return rows
    columns = ["rank", "run", metric, "overrides", *sorted({k for r in rows for k in r} - {"rank", "run", metric, "overrides"})]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(sweep_dir / "summary.csv", buf.getvalue())
    lines = [f"# Sweep summary: {sweep_dir.name}", "", f"Ranked by `{metric}` (mean over tasks; runs without it are listed last).", ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in columns) + " |")
    if any(r[metric] is None for r in rows):
        lines += ["", f"Runs without `{metric}` (e.g. no cross-validation: set `cv.folds=5`) are not ranked."]
    atomic_write_text(sweep_dir / "summary.md", "\n".join(lines) + "\n")
    return rows


class SweepSummary(Callback):
    """Hydra callback: summarise a multirun when it ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        rows = summarize(config.hydra.sweep.dir, config.get("rank_metric", "cv.micro_f1"))
        if rows:
            best = rows[0]
            log.info("sweep summary: %s/summary.md (best: run %s, %s)", config.hydra.sweep.dir, best["run"], best["overrides"] or "defaults")
