"""Learning curve: the default experiment trained on 25 / 50 / 75 / 100 % of
the train split, scored on the test split (reported, never used to choose).

    python benchmarks/learning_curve.py                 # both tasks
    python benchmarks/learning_curve.py --task actors --fractions 0.5 1.0

Subsets are nested and stratified (iterative stratification over the task's
labels), so a larger fraction always contains the smaller ones. Prints one row
per task and fraction; ``--json FILE`` saves them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def nested_subsets(Y: np.ndarray, fractions: list[float], seed: int) -> dict[float, np.ndarray]:
    """Indices of each fraction: the folds of a stratified k-fold, added one by one."""
    from newstag.data.split import kfold_indices

    folds = [te for _, te in kfold_indices(Y, 20, seed)]
    return {f: np.sort(np.concatenate(folds[: max(1, round(f * len(folds)))])) for f in fractions}


def run(tasks: list[str], fractions: list[float], seed: int = 13) -> list[dict]:
    from hydra import compose, initialize_config_dir

    from newstag.data import load_labelled
    from newstag.experiment.app import register_resolvers
    from newstag.experiment.train import build_model
    from newstag.metrics import evaluate
    from newstag.schema import binarize, load_schema

    register_resolvers()
    train = load_labelled(ROOT / "data" / "corpus" / "train.jsonl")
    test = load_labelled(ROOT / "data" / "corpus" / "test.jsonl")
    rows = []
    for task in tasks:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=[f"task={task}"])
        labels = load_schema().ids(task)
        Y, Yt = binarize(train, task, labels), binarize(test, task, labels)
        for fraction, idx in nested_subsets(Y, fractions, seed).items():
            t0 = time.perf_counter()
            model = build_model(cfg, task, labels).fit([train[i] for i in idx], Y[idx])
            P = model.predict_proba(test)
            s = evaluate(Yt, (model.thresholds_ <= P).astype(int), P, labels)["summary"]
            row = {
                "task": task,
                "fraction": fraction,
                "n_train": len(idx),
                "micro_f1": s["micro_f1"],
                "macro_f1": s["macro_f1"],
                "seconds": round(time.perf_counter() - t0, 1),
            }
            print(
                f"{task:7s} {fraction:5.0%} n={len(idx):5d}  test micro-F1 {s['micro_f1']:.3f}  macro-F1 {s['macro_f1']:.3f}  ({row['seconds']} s)", flush=True
            )
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("topics", "actors"), action="append")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--json", help="also save the rows here")
    args = parser.parse_args(argv)
    rows = run(args.task or ["topics", "actors"], args.fractions)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
