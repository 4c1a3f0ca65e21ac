"""Do float32 linear heads change any label? (issue 13)

    python benchmarks/float32_heads.py                 # registered topics and actors, whole corpus
    python benchmarks/float32_heads.py --tasks topics --n 500

Loads each registered model's compact file and builds it twice, heads ``W``
as float64 and as float32 (what the export stores since issue 13), then
compares both with the scikit-learn pipeline it was exported from (float64
throughout): largest probability difference and labels changed at the tuned
thresholds, on the corpus; prints the file sizes.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def compare(task: str, articles: list) -> dict:
    from newstag.engine import compact
    from newstag.registry import Registry
    from newstag.serve.predict import load

    reg = Registry(ROOT / "experiments" / "registry")
    target = reg.resolve(reg.default_ref(task))
    data = (target.path / reg.manifest(target)["compact"]["file"]).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    files = {dtype: compact.to_bytes(meta, {k: v.astype(dtype) if k == "W" else v for k, v in arrays.items()}) for dtype in ("float64", "float32")}
    reference = load(str(target.path), reg.root, engine="sklearn").model.predict_proba(articles)
    t = compact.load_bytes(data).thresholds_
    out = {"task": task, "model": str(target), "articles": len(articles), "decisions": int(reference.size)}
    for dtype, blob in files.items():
        P = compact.load_bytes(blob).predict_proba(articles)
        out[f"{dtype}_mb"] = round(len(blob) / 1e6, 2)
        out[f"{dtype}_max_abs_dp"] = float(np.abs(P - reference).max())
        out[f"{dtype}_labels_changed"] = int(np.not_equal(np.greater_equal(reference, t), np.greater_equal(P, t)).sum())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["topics", "actors"])
    parser.add_argument("--n", type=int, default=0, help="only the first N corpus articles (0: all)")
    args = parser.parse_args()
    from newstag.data import load_labelled

    articles = [r for f in sorted((ROOT / "data" / "corpus").glob("*.jsonl")) for r in load_labelled(f)]
    articles = articles[: args.n] if args.n else articles
    print("| task | articles | heads | file MB | max abs dP vs scikit-learn | labels changed |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks:
        r = compare(task, articles)
        for dtype in ("float64", "float32"):
            print(
                f"| {task} | {r['articles']} | {dtype} | {r[f'{dtype}_mb']} | {r[f'{dtype}_max_abs_dp']:.2e} | {r[f'{dtype}_labels_changed']} of {r['decisions']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
