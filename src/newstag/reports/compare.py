"""Leaderboard over training runs, sweeps and registered versions.

One row per (run, task) with its key parameters and metrics, ranked by a
chosen metric, with the gap to the best row, as Markdown and as a sortable
self-contained HTML table.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

METRICS = ("cv.micro_f1", "cv.macro_f1", "test.micro_f1", "test.macro_f1")


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _calibration(model: dict[str, Any]) -> str:
    if str(model.get("_target_", "")).endswith("PlattOneVsRest"):
        return "+platt-oof"  # sigmoid on out-of-fold margins
    return "+platt" if model.get("calibrate") else ""


def params(cfg: dict[str, Any], task: str) -> dict[str, Any]:
    """The parameters a reader compares runs by, from a resolved config."""
    feats = cfg.get("features") or _get(cfg, "tasks", task, "features") or {}
    model = cfg.get("model") or _get(cfg, "tasks", task, "model") or {}
    est = model.get("estimator", {})
    word = feats.get("parts", {}).get("word", feats if feats.get("analyzer") == "word" else {})
    return {
        "features": "+".join(feats["parts"]) if feats.get("parts") else str(feats.get("_target_", "?")).rsplit(".", 1)[-1],
        "model": str(est.get("_target_", "?")).rsplit(".", 1)[-1] + _calibration(model),
        "C/alpha": est.get("C", est.get("alpha")),
        "word_ngrams": "-".join(map(str, word.get("ngram_range", []))) or None,
        "class_weight": est.get("class_weight", "n/a"),
        "title_weight": _get(cfg, "text", "title_weight"),
    }


def _metric_block(block: dict[str, Any] | None) -> dict[str, Any]:
    if not block:
        return {}
    return block.get("summary", block)


def _row(source: str, task: str, cfg: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"run": source, "task": task, **params(cfg, task)}
    for key in METRICS:
        section, name = key.split(".")
        row[key] = _metric_block(result.get(section)).get(name)
    row["train_s"] = result.get("training_seconds")
    return row


def rows_from_run(run_dir: Path, label: str | None = None) -> list[dict[str, Any]]:
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    cfg_file = run_dir / "config.yaml"
    cfg = yaml.safe_load(cfg_file.read_text(encoding="utf-8")) if cfg_file.is_file() else {}
    return [_row(label or str(run_dir), task, cfg, res) for task, res in metrics.get("tasks", {}).items()]


def rows_from_registry(root: Path) -> list[dict[str, Any]]:
    from newstag.registry import Registry

    reg, rows = Registry(root), []
    for task in reg.tasks():
        for ref in reg.versions(task):
            m = reg.manifest(ref)
            rows.append(_row(str(ref), task, m.get("config", {}), {**m.get("metrics", {}), "training_seconds": m.get("training_seconds")}))
    return rows


def collect(paths: Iterable[str | Path], registry: str | Path | None = None) -> list[dict[str, Any]]:
    """Rows from run folders, sweep folders (their numbered runs) and a registry."""
    rows: list[dict[str, Any]] = []
    for p in map(Path, paths):
        if (p / "metrics.json").is_file() and (p / "config.yaml").is_file():
            rows += rows_from_run(p)
        elif p.is_dir():
            for metrics in sorted(p.glob("*/metrics.json")) + sorted(p.glob("*/*/metrics.json")):
                if (metrics.parent / "config.yaml").is_file():  # a run, not a report folder
                    rows += rows_from_run(metrics.parent, str(metrics.parent))
        else:
            raise FileNotFoundError(f"{p}: not a run or sweep folder")
    if registry is not None and Path(registry).is_dir():
        rows += rows_from_registry(Path(registry))
    return rows


def rank(rows: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Sort by ``metric`` (best first, missing last) and add rank and gap to the best."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    ranked = sorted(rows, key=lambda r: (r.get(metric) is None, -(r.get(metric) or 0)))
    best: dict[str, float] = {}
    for r in ranked:
        if r.get(metric) is not None:
            best.setdefault(r["task"], r[metric])
    out = []
    for r in ranked:
        value = r.get(metric)
        gap = None if value is None else value - best[r["task"]]
        out.append({"rank": None, **r, "gap": gap})
    counters: dict[str, int] = {}
    for r in out:
        if r[metric] is not None:
            counters[r["task"]] = counters.get(r["task"], 0) + 1
            r["rank"] = counters[r["task"]]
    return sorted(out, key=lambda r: (r["task"], r["rank"] is None, r["rank"] or 0))


COLUMNS = ("task", "rank", "run", "features", "model", "C/alpha", "word_ngrams", "class_weight", "title_weight", *METRICS, "gap", "train_s")


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def to_markdown(rows: Sequence[dict[str, Any]], metric: str) -> str:
    lines = [f"# Leaderboard (ranked by `{metric}` within each task; `gap` = distance to the task's best)", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


_SORT_JS = """
document.querySelectorAll('th').forEach((th, i) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
  const asc = th.dataset.asc !== '1'; th.dataset.asc = asc ? '1' : '0';
  const key = r => { const t = r.cells[i].textContent; const n = parseFloat(t); return isNaN(n) ? t : n; };
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (asc ? 1 : -1));
  rows.forEach(r => body.appendChild(r));
}));
"""


def to_html(rows: Sequence[dict[str, Any]], metric: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        cls = ' class="best"' if r.get("rank") == 1 else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in COLUMNS) + "</tr>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>newstag leaderboard</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;font-size:.85rem}"
        "th,td{border:1px solid #ddd;padding:.25rem .5rem}th{background:#f4f4f4;cursor:pointer}tr.best{background:#e6f4ea}</style>"
        f"</head><body><h1>newstag leaderboard</h1><p>Ranked by <code>{html.escape(metric)}</code> within each task; click a header to sort.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table><script>{_SORT_JS}</script></body></html>\n"
    )
