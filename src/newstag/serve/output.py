"""Writers for prediction output: JSON Lines, JSON, CSV and a terminal table.

Each writer streams (``write`` one record at a time, ``close`` at the end) so
memory stays flat however many articles go through.
"""

from __future__ import annotations

import csv
import json
import textwrap
from typing import Any, TextIO

FORMATS = ("jsonl", "json", "csv", "table")


def _labels(preds: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['label']} ({p['probability']:.2f})" for p in preds) or "-"


class JsonlWriter:
    def __init__(self, out: TextIO):
        self.out = out

    def write(self, rec: dict[str, Any]) -> None:
        self.out.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def close(self) -> None:
        pass


class JsonWriter(JsonlWriter):
    """A JSON array, written incrementally."""

    def __init__(self, out: TextIO):
        super().__init__(out)
        self.first = True

    def write(self, rec: dict[str, Any]) -> None:
        self.out.write(("[\n" if self.first else ",\n") + json.dumps(rec, ensure_ascii=False, indent=2))
        self.first = False

    def close(self) -> None:
        self.out.write("[]\n" if self.first else "\n]\n")


class CsvWriter:
    """One row per article: labels as ``;``-separated cells (the CSV input
    convention), probabilities alongside."""

    def __init__(self, out: TextIO, tasks: list[str]):
        self.tasks = tasks
        self.writer = csv.writer(out)
        header = ["id", "source"]
        for t in tasks:
            header += [t, f"{t}_probabilities"]
        self.writer.writerow([*header, "models"])

    def write(self, rec: dict[str, Any]) -> None:
        row = [rec["id"], rec["source"]]
        for t in self.tasks:
            preds = rec.get(t, [])
            row += [";".join(p["label"] for p in preds), ";".join(f"{p['probability']:.4f}" for p in preds)]
        self.writer.writerow([*row, ";".join(f"{k}={v}" for k, v in rec["models"].items())])

    def close(self) -> None:
        pass


class TableWriter:
    """A readable table for a terminal, with the evidence under each row."""

    def __init__(self, out: TextIO, tasks: list[str], width: int = 100):
        self.out, self.tasks, self.width = out, tasks, width
        self.header_done = False

    def write(self, rec: dict[str, Any]) -> None:
        if not self.header_done:
            self.out.write(f"models: {', '.join(rec['models'].values())}\n")
            self.header_done = True
        self.out.write("\n" + "=" * self.width + "\n" + textwrap.shorten(str(rec["id"]), self.width) + "\n" + "-" * self.width + "\n")
        for t in self.tasks:
            self.out.write(f"{t:>8}: " + textwrap.fill(_labels(rec.get(t, [])), self.width - 10, subsequent_indent=" " * 10) + "\n")
        for per_label in rec.get("explanations", {}).values():
            for label, ev in per_label.items():
                feats = ", ".join(f"{f['feature']} (+{f['contribution']:.2f})" for f in ev.get("features", []))
                line = f"{label}: {feats or 'no positive feature'}"
                if ev.get("aliases"):
                    seen = []
                    for h in ev["aliases"]:
                        s = f"«{h['alias']}» {h['field']}@{h['start']}"
                        if s not in seen:
                            seen.append(s)
                    line += " | aliases: " + ", ".join(seen[:8]) + (" ..." if len(seen) > 8 else "")
                self.out.write(textwrap.fill(line, self.width, initial_indent="    why ", subsequent_indent=" " * 8) + "\n")

    def close(self) -> None:
        pass


def make_writer(fmt: str, out: TextIO, tasks: list[str]):
    if fmt == "jsonl":
        return JsonlWriter(out)
    if fmt == "json":
        return JsonWriter(out)
    if fmt == "csv":
        return CsvWriter(out, tasks)
    if fmt == "table":
        return TableWriter(out, tasks)
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
