"""Corpus statistics and the generated datasheet (``data/README.md``).

``newstag data stats --write data/README.md`` regenerates the
datasheet: every number in it is computed here from the corpus files.
The prose sections live in ``data/datasheet.md.in`` so that they are edited
as text, and the ``{{ tables }}`` markers are filled with generated tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from newstag.core import paths
from newstag.data import DataError, Record, load_labelled, load_records, shape, write_jsonl
from newstag.schema.labels import LabelSchema, load_schema

SPLITS = ("train", "test")


def corpus_files(corpus_dir: Path | None = None) -> dict[str, Path]:
    base = corpus_dir or paths.project_root() / "data" / "corpus"
    return {name: base / f"{name}.jsonl" for name in SPLITS}


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _pct(n: int, total: int) -> str:
    return f"{n} ({n / total:.0%})" if total else "0"


def stats(splits: dict[str, list[Record]], schema: LabelSchema) -> dict[str, str]:
    """Markdown tables describing the corpus, keyed by section name."""
    allr = [r for rs in splits.values() for r in rs]
    names = [*list(splits), "all"]
    groups = {**splits, "all": allr}
    tables: dict[str, str] = {}

    rows = []
    for key, fn in (
        ("articles", lambda rs: len(rs)),
        ("Italian (it)", lambda rs: sum(r.lang == "it" for r in rs)),
        ("English (en)", lambda rs: sum(r.lang == "en" for r in rs)),
        ("headline only", lambda rs: sum(shape(r) == "headline" for r in rs)),
        ("headline + lede / short", lambda rs: sum(shape(r) == "lede" for r in rs)),
        ("full article (250+ words)", lambda rs: sum(shape(r) == "full" for r in rs)),
        ("no topic", lambda rs: sum(not r.labels("topics") for r in rs)),
        ("no actor", lambda rs: sum(not r.labels("actors") for r in rs)),
    ):
        rows.append([key, *(_pct(fn(groups[n]), len(groups[n])) if key != "articles" else len(groups[n]) for n in names)])
    tables["overview"] = _table(["", *names], rows)

    tables["topics"] = _table(
        ["topic", *names],
        [[t] + [sum(t in r.labels("topics") for r in groups[n]) for n in names] for t in schema.ids("topics")],
    )
    topics = schema.ids("topics")
    co = [[t] + [sum(t in r.labels("topics") and u in r.labels("topics") for r in allr) for u in topics] for t in topics]
    combos = Counter(" + ".join(sorted(r.labels("topics"))) or "(none)" for r in allr)
    tables["cooccurrence"] = _table(["", *topics], co) + "\n\n" + _table(["topic set", "articles"], combos.most_common())
    tables["actors"] = _table(
        ["actor", *names],
        [[a] + [sum(a in r.labels("actors") for r in groups[n]) for n in names] for a in schema.ids("actors")],
    )
    per = Counter(min(len(r.labels("actors")), 5) for r in allr)
    tables["actors_per_article"] = _table(["actors per article", "articles"], [["5+" if k == 5 else k, per[k]] for k in sorted(per)])
    rows = []
    for lang in sorted({r.lang for r in allr}):
        words = sorted(len(f"{r.title} {r.subtitle} {r.text}".split()) for r in allr if r.lang == lang)
        q = statistics.quantiles(words, n=10) if len(words) > 1 else words * 9
        rows.append([lang, len(words), words[0], round(q[0]), round(statistics.median(words)), round(q[-1]), words[-1]])
    prefixes = Counter(r.id.split("-", 1)[0] for r in allr)
    tables["sources"] = _table(["id prefix", "articles"], sorted(prefixes.items()))
    tables["lengths"] = _table(["lang", "articles", "min", "p10", "median", "p90", "max"], rows)
    return tables


def agreement_tables(folder: Path, schema: LabelSchema) -> dict[str, str]:
    """The second-labelling tables from ``folder`` (``first.jsonl``: the labels
    as first written, ``second.jsonl``: the blind second labelling,
    ``resolutions.jsonl``: how each disagreement was settled)."""
    from newstag.data.agreement import compare, read_labels

    first, second = read_labels(folder / "first.jsonl"), read_labels(folder / "second.jsonl")
    result = compare(first, second)
    summary = [[kind, a.articles, _f(a.micro_f1), _pct(a.exact, a.articles), a.disagreements] for kind, a in result.items()]
    per_label = [
        [label, kind, *result[kind].per_label.get(label, [0, 0, 0]), _f(result[kind].label_f1(label))] for kind in result for label in schema.ids(kind)
    ]
    resolutions = read_labels(folder / "resolutions.jsonl") if (folder / "resolutions.jsonl").exists() else {}
    changed = Counter(kind for r in resolutions.values() for kind in r.get("changes", {}))
    return {
        "agreement": _table(["task", "articles", "micro-F1", "exact match", "label disagreements"], summary),
        "agreement_labels": _table(["label", "task", "both", "first only", "second only", "F1"], per_label),
        "resolutions": _table(
            ["", "articles"], [["with a label changed by the resolution", len(resolutions)], *([f"  {k} changed", v] for k, v in sorted(changed.items()))]
        ),
    }


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(template: str, tables: dict[str, str]) -> str:
    out = template
    for key, value in tables.items():
        out = out.replace("{{ " + key + " }}", value)
    return out


def _cmd_stats(args: argparse.Namespace) -> int:
    files = corpus_files(Path(args.corpus) if args.corpus else None)
    schema = load_schema(args.schema)
    splits = {name: load_labelled(path, schema=schema) for name, path in files.items()}
    tables = stats(splits, schema)
    agreement_dir = (Path(args.corpus) if args.corpus else paths.project_root() / "data" / "corpus").parent / "agreement"
    if (agreement_dir / "second.jsonl").exists():
        tables.update(agreement_tables(agreement_dir, schema))
    template_path = paths.project_root() / "data" / "datasheet.md.in"
    if args.write:
        text = render(template_path.read_text(encoding="utf-8"), tables)
        from newstag.core.files import atomic_write_text

        atomic_write_text(paths.resolve(args.write, Path.cwd()), text)
        print(f"wrote {args.write}")
    else:
        for key, value in tables.items():
            print(f"## {key}\n\n{value}\n")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    columns = dict(c.split("=", 1) for c in args.column or [])
    result = load_records(args.files, schema=args.schema, columns=columns, strict=False, require_labels=args.labelled)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    print(f"{len(result.records)} valid record(s), {len(result.problems)} problem(s)")
    return 1 if result.problems else 0


def _cmd_split(args: argparse.Namespace) -> int:
    from newstag.data.split import stratified_split

    records = load_labelled(args.files, schema=args.schema)
    train, test = stratified_split(records, test_size=args.test_size, seed=args.seed)
    out = Path(args.out)
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(test, out / "test.jsonl")
    print(f"train: {len(train)}  test: {len(test)} ({len(test) / len(records):.1%}) -> {out}")
    return 0


def _cmd_agree(args: argparse.Namespace) -> int:
    from newstag.data.agreement import compare, read_labels

    result = compare(read_labels(args.first), read_labels(args.second))
    for kind, a in result.items():
        print(f"{kind}: {a.articles} articles, micro-F1 {_f(a.micro_f1)}, exact match {_pct(a.exact, a.articles)}, {a.disagreements} label disagreement(s)")
        for label in sorted(a.per_label):
            both, only_first, only_second = a.per_label[label]
            if only_first or only_second:
                print(f"  {label:14s} F1 {_f(a.label_f1(label))}  both {both}  first only {only_first}  second only {only_second}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    """Label Studio export -> validated records; exit 1 when any task was left out."""
    from newstag.data.labelstudio import ExportError, load_export, parse_export

    try:
        tasks = load_export(args.export)
    except ExportError as exc:
        raise ValueError(str(exc)) from exc
    result = parse_export(tasks, load_schema(args.schema), str(args.export))
    for problem in result.problems:
        print(problem, file=sys.stderr)
    write_jsonl(result.records, paths.resolve(args.output, Path.cwd()))
    left_out = result.tasks - len(result.records)
    print(f"{len(result.records)} record(s) from {result.tasks} task(s) -> {args.output}; {left_out} task(s) left out, {len(result.problems)} problem(s)")
    return 1 if result.problems else 0


IMPORT_EPILOG = """\
Every task becomes a record or is reported with its task id: unknown labels,
empty texts, tasks skipped/cancelled by the annotator or not annotated yet,
and tasks whose annotations disagree. Valid tasks are always written.
exit status: 0 all tasks imported; 1 some tasks left out (see stderr); 2 the
file is not a Label Studio JSON export.
"""


def main(argv: Sequence[str] | None = None, prog: str = "newstag data") -> int:
    """``newstag data validate|stats|split`` (also ``python -m newstag.data``)."""
    parser = argparse.ArgumentParser(prog=prog, description="Corpus tools: validate, stats, split.")
    parser.add_argument("--schema", default=None, help="label schema YAML (default: data/labels.yaml)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("stats", help="corpus statistics; --write renders the datasheet")
    p.add_argument("--corpus", help="folder with train.jsonl and test.jsonl (default: data/corpus)")
    p.add_argument("--write", metavar="FILE", help="render data/datasheet.md.in into FILE")
    p.set_defaults(func=_cmd_stats)
    p = sub.add_parser("validate", help="check files and report every problem (exit 1 if any)")
    p.add_argument("files", nargs="+")
    p.add_argument("--labelled", action="store_true", help="require topics and actors fields")
    p.add_argument("--column", action="append", metavar="FIELD=NAME", help="column name mapping, e.g. text=body")
    p.set_defaults(func=_cmd_validate)
    p = sub.add_parser("split", help="iteratively stratified train/test split without near-duplicate leakage")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True, help="output folder for train.jsonl and test.jsonl")
    p.add_argument("--test-size", type=float, default=0.22)
    p.add_argument("--seed", type=int, default=13)
    p.set_defaults(func=_cmd_split)
    p = sub.add_parser("agree", help="agreement of two labellings of the same articles (micro-F1 per task and label)")
    p.add_argument("first", help="JSON Lines with id, topics, actors (the reference labelling)")
    p.add_argument("second", help="JSON Lines with id, topics, actors (the other labelling)")
    p.set_defaults(func=_cmd_agree)
    p = sub.add_parser(
        "import", help="turn an annotation tool's export into validated records", epilog=IMPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("export", help="the export file (Label Studio: JSON export of the project)")
    p.add_argument("--from", dest="tool", choices=("labelstudio",), required=True, help="the tool that wrote the export")
    p.add_argument("-o", "--output", required=True, help="JSON Lines file of the valid records (written atomically)")
    p.set_defaults(func=_cmd_import)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
