"""How training and prediction time and memory grow with corpus size.

    python benchmarks/scale.py                      # 10k, 50k, 200k articles
    python benchmarks/scale.py --sizes 5000 20000

The larger sets are SYNTHETIC, for timing only: corpus articles sampled
with light perturbation (sentence order shuffled, a few sentences dropped,
random words removed). Two paths, topic task, one SGD classifier per label:

- ``word_tfidf``: the whole set in memory, vocabulary fitted on it;
- ``hashing``: stateless hashed features and ``partial_fit`` over chunks that
  are generated on the fly, so memory does not depend on the set's size.

Each run is its own process (peak memory = its max RSS). The growth exponent
``log(t2/t1) / log(n2/n1)`` is 1.0 for linear growth.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 10_000
_SENT = re.compile(r"(?<=[.!?»])\s+")


def synthetic(n: int, seed: int = 0):
    """Yield ``n`` perturbed copies of corpus articles (title, text, topics)."""
    from newstag.data import load_labelled

    base = load_labelled(ROOT / "data" / "corpus" / "train.jsonl")
    rng = random.Random(seed)
    for _ in range(n):
        r = base[rng.randrange(len(base))]
        sentences = _SENT.split(r.text) if r.text else []
        rng.shuffle(sentences)
        sentences = [s for s in sentences if rng.random() > 0.15] or sentences[:1]
        words = [w for w in " ".join(sentences).split() if rng.random() > 0.05]
        yield {"title": r.title, "text": " ".join(words)}, r.labels("topics")


class PerLabelSGD:
    """One ``SGDClassifier`` per label, trainable in chunks (``partial_fit``)."""

    def __init__(self, n_labels: int):
        from sklearn.linear_model import SGDClassifier

        self.models = [SGDClassifier(loss="modified_huber", alpha=1e-5, random_state=0) for _ in range(n_labels)]

    def fit(self, X, Y):
        for j, m in enumerate(self.models):
            m.fit(X, Y[:, j])
        return self

    def partial_fit(self, X, Y):
        for j, m in enumerate(self.models):
            m.partial_fit(X, Y[:, j], classes=[0, 1])
        return self

    def predict_proba(self, X):
        return np.column_stack([m.predict_proba(X)[:, 1] for m in self.models])


def run(path: str, n: int) -> dict:
    from newstag.learn.features import hashing, tfidf
    from newstag.schema.labels import load_schema

    labels = load_schema().ids("topics")

    def binarize(tags):
        return np.array([[int(label in t) for label in labels] for t in tags])

    t0 = time.perf_counter()
    if path == "word_tfidf":
        docs, tags = zip(*synthetic(n))
        feats = tfidf(min_df=2)
        X = feats.fit_transform(list(docs))
        model = PerLabelSGD(len(labels)).fit(X, binarize(tags))
    else:
        feats = hashing(n_features=2**20)
        model = PerLabelSGD(len(labels))
        batch: list = []
        for item in synthetic(n):
            batch.append(item)
            if len(batch) == CHUNK:
                docs, tags = zip(*batch)
                model.partial_fit(feats.transform(list(docs)), binarize(tags))
                batch = []
        if batch:
            docs, tags = zip(*batch)
            model.partial_fit(feats.transform(list(docs)), binarize(tags))
    train_s = time.perf_counter() - t0
    probe = [d for d, _ in synthetic(2000, seed=1)]
    t0 = time.perf_counter()
    model.predict_proba(feats.transform(probe))
    predict_rate = len(probe) / (time.perf_counter() - t0)
    return {
        "path": path,
        "n": n,
        "train_seconds": round(train_s, 2),
        "predict_articles_per_s": round(predict_rate, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--paths", nargs="+", default=["word_tfidf", "hashing"], choices=["word_tfidf", "hashing"])
    parser.add_argument("--json", help="also save the figures here")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run(args.worker[0], int(args.worker[1]))))
        return 0
    print("synthetic data (perturbed corpus samples), timing only; task: topics; one SGD classifier per label")
    results = []
    for path in args.paths:
        rows = []
        for n in args.sizes:
            proc = subprocess.run([sys.executable, __file__, "--worker", path, str(n)], capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"{path:>10} n={n:>7,}: train {row['train_seconds']:>7.1f} s, predict {row['predict_articles_per_s']:>8,.0f} articles/s, peak RSS {row['peak_rss_mb']:>7.1f} MB"
            )
        for a, b in itertools.pairwise(rows):
            exponent = math.log(b["train_seconds"] / a["train_seconds"]) / math.log(b["n"] / a["n"])
            print(f"{path:>10} growth {a['n']:,} -> {b['n']:,}: time exponent {exponent:.2f} (1.0 = linear), memory x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}")
        results += rows
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
