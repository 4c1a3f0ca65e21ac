"""Would float32 linear heads change any label? (issue 13)

    python benchmarks/float32_heads.py                 # registered topics and actors, whole corpus
    python benchmarks/float32_heads.py --tasks topics --n 500

Loads each registered model's compact file, casts the stored heads ``W`` to
float32, and compares probabilities and labels (at the tuned thresholds) with
the float64 file on the corpus; prints the file sizes. The compact format
keeps float64 unless this shows no label change *and* probabilities within
the engines' 1e-6 agreement.
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

    reg = Registry(ROOT / "experiments" / "registry")
    target = reg.resolve(reg.default_ref(task))
    data = (target.path / reg.manifest(target)["compact"]["file"]).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    small = compact.to_bytes(meta, {k: v.astype(np.float32) if k == "W" else v for k, v in arrays.items()})
    m64, m32 = compact.load_bytes(data), compact.load_bytes(small)
    P64, P32 = m64.predict_proba(articles), m32.predict_proba(articles)
    t = m64.thresholds_
    return {
        "task": task,
        "model": str(target),
        "articles": len(articles),
        "float64_mb": round(len(data) / 1e6, 2),
        "float32_mb": round(len(small) / 1e6, 2),
        "max_abs_dp": float(np.abs(P64 - P32).max()),
        "labels_changed": int(np.not_equal(np.greater_equal(P64, t), np.greater_equal(P32, t)).sum()),
        "decisions": int(P64.size),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["topics", "actors"])
    parser.add_argument("--n", type=int, default=0, help="only the first N corpus articles (0: all)")
    args = parser.parse_args()
    from newstag.data import load_labelled

    articles = [r for f in sorted((ROOT / "data" / "corpus").glob("*.jsonl")) for r in load_labelled(f)]
    articles = articles[: args.n] if args.n else articles
    print("| task | articles | float64 MB | float32 MB | max abs dP | labels changed |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks:
        r = compare(task, articles)
        print(f"| {task} | {r['articles']} | {r['float64_mb']} | {r['float32_mb']} | {r['max_abs_dp']:.2e} | {r['labels_changed']} of {r['decisions']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
