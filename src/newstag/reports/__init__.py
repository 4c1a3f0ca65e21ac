"""Evaluation reports, run comparison and model cards.

- :func:`evaluate_dataset`: registered models x a labelled dataset -> report folder.
- :func:`report_for_models`: the same for models in memory (the training run's test report).
- :mod:`newstag.reports.compare`: leaderboard over runs, sweeps and versions.
- :mod:`newstag.reports.card`: ``model_card.md`` for a registered version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["evaluate_dataset", "report_for_models"]


def report_for_models(labellers: Sequence[Any], records: Sequence[Any], out_dir: str | Path, dataset_name: str) -> Path:
    """Analyse each labeller on ``records`` and write the report folder."""
    from newstag.data import fingerprint
    from newstag.reports.analysis import analyse
    from newstag.reports.render import write_report

    records = list(records)
    analyses = [analyse(lab, records) for lab in labellers]
    dataset = {"name": dataset_name, "fingerprint": fingerprint(records), "n": len(records)}
    return write_report(out_dir, analyses, dataset)


def evaluate_dataset(
    refs: Sequence[str],
    data: str | Path | Iterable[str | Path],
    out_dir: str | Path,
    *,
    registry: str | Path | None = None,
    columns: dict[str, str] | None = None,
    schema: str | Path | None = None,
    allow_version_mismatch: bool = False,
) -> Path:
    """Evaluate registered models on a labelled dataset (any supported format)."""
    from newstag.data import load_labelled
    from newstag.serve.predict import load

    labellers = [load(ref, registry, allow_version_mismatch) for ref in refs]
    records = load_labelled(data, columns=columns, schema=schema)
    name = ", ".join(str(p) for p in ([data] if isinstance(data, (str, Path)) else data))
    return report_for_models(labellers, records, out_dir, name)
