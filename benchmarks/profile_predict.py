"""Where prediction time goes: cProfile of predict_speed's throughput loop.

    python benchmarks/profile_predict.py                       # both tasks, auto engine, 2000 articles
    python benchmarks/profile_predict.py --engine numpy --n 1000 --sort cumulative

Loads the registered topics and actors models, warms up on 200 articles,
then profiles ``predict_batch`` over ``--n`` articles of about 1 KB in
batches of 1000 and prints the top ``--top`` functions.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--engine", default="auto", choices=("auto", "compiled", "numpy"))
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    import newstag
    from newstag.data import Record
    from newstag.serve.predict import predict_batch
    from predict_speed import articles_1kb

    models = [newstag.load(t, engine=args.engine) for t in ("topics", "actors")]
    print(f"engines: {', '.join(f'{m.ref}={m.engine}' for m in models)}; {args.n} articles")
    docs = [Record(id=d["id"], title=d["title"], text=d["text"]) for d in articles_1kb(args.n)]
    predict_batch(docs[:200], models)
    profile = cProfile.Profile()
    profile.enable()
    for start in range(0, args.n, 1000):
        predict_batch(docs[start : start + 1000], models)
    profile.disable()
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
