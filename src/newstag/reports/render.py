"""Write a report folder: ``metrics.json``, ``report.html`` (self-contained,
images embedded) and ``report.md`` with its PNG figures beside it."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from newstag.core.files import atomic_write_bytes, atomic_write_text
from newstag.reports.analysis import TaskAnalysis
from newstag.reports.plots import FIGURES

WEAK_F1 = 0.6  # per-label F1 under this is highlighted


def _fmt(value: Any) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def _cell(value: Any, weak: bool = False) -> Markup:
    if value is None:
        return Markup('<td class="undef" title="no positives in the data: undefined">undefined</td>')
    return Markup(f'<td class="weak">{value:.3f}</td>' if weak else f"<td>{value:.3f}</td>")


def _task_view(a: TaskAnalysis, figures: dict[str, bytes], folder: str) -> dict[str, Any]:
    per = a.metrics["per_label"]
    rows = [
        {"label": label, **per[label], "threshold": float(a.thresholds[j]), "weak": per[label]["f1"] is not None and per[label]["f1"] < WEAK_F1}
        for j, label in enumerate(a.labels)
    ]
    defined = sorted((r for r in rows if r["f1"] is not None and r["support"] > 0), key=lambda r: r["f1"])
    weakest = ", ".join(f"{r['label']} ({r['f1']:.2f})" for r in defined[:3]) or "–"
    return {
        "task": a.task,
        "ref": a.ref,
        "summary": a.metrics["summary"],
        "ece": a.metrics["calibration"]["ece"],
        "rows": rows,
        "weakest": weakest,
        "errors": a.errors or {"false_positives": [], "false_negatives": []},
        "figures": [
            {"title": FIGURES[key][0], "b64": base64.b64encode(png).decode("ascii"), "file": f"{folder}/{a.task}-{key}.png"} for key, png in figures.items()
        ],
    }


def metrics_document(analyses: Sequence[TaskAnalysis], dataset: dict[str, Any]) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "models": {a.task: a.ref for a in analyses},
        "tasks": {a.task: {**a.metrics, "errors": a.errors} for a in analyses},
    }


def write_report(out_dir: str | Path, analyses: Sequence[TaskAnalysis], dataset: dict[str, Any]) -> Path:
    """Render every format into ``out_dir``; return the HTML path."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = Environment(loader=PackageLoader("newstag.reports", "templates"), autoescape=select_autoescape(["html"]), trim_blocks=False)
    views = []
    for a in analyses:
        figures = {key: fn(a) for key, (_, fn) in FIGURES.items()}
        for key, png in figures.items():
            atomic_write_bytes(out / "figures" / f"{a.task}-{key}.png", png)
        views.append(_task_view(a, figures, "figures"))
    context = {
        "dataset": dataset,
        "models": {a.task: a.ref for a in analyses},
        "tasks": views,
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "cell": _cell,
        "fmt": _fmt,
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics_document(analyses, dataset), indent=2, default=float) + "\n")
    atomic_write_text(out / "report.md", env.get_template("report.md.j2").render(**context))
    html = out / "report.html"
    atomic_write_text(html, env.get_template("report.html.j2").render(**context))
    return html
