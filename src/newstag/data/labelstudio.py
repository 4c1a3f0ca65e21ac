"""Label Studio round trip: the labelling interface, tasks with
pre-annotations, and an export parsed back into validated records.

Label Studio (https://labelstud.io) is the annotation tool most teams run.
Three pieces connect it to newstag, all plain data (no scikit-learn):

- :func:`interface_config` writes the project's labelling interface (XML) from
  the label schema: two multi-choice groups, ``topics`` and ``actors``. Each
  choice shows the label's name in the chosen language, carries its
  definition as a hover hint, and stores the label *id* in the annotation
  (the ``alias`` attribute), so an export needs no name-to-id mapping.
- :func:`to_task` turns an article and the model's labels into a task whose
  ``predictions`` pre-annotate it: annotators correct rather than start from
  nothing.
- :func:`parse_export` reads a JSON export back. Every task becomes a record
  or at least one :class:`~newstag.data.records.Problem` naming the task id:
  unknown labels, empty texts, tasks skipped or cancelled by the annotator,
  tasks never annotated, and tasks whose annotations conflict. Valid tasks
  are never dropped because another task is bad.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from newstag.data.loading import Validator, _Row
from newstag.data.records import Problem, Record
from newstag.schema.labels import KINDS, LabelSchema

TO_NAME = "text"  # the <Text> tag every choice group annotates
GROUP_TITLES = {"it": {"topics": "Temi", "actors": "Attori"}, "en": {"topics": "Topics", "actors": "Actors"}}
DATA_KEYS = ("article_id", "lang", "title", "subtitle", "text")


# ------------------------------------------------------------------ interface


def interface_config(schema: LabelSchema, lang: str = "it") -> str:
    """The labelling interface (Label Studio XML) for ``schema``.

    ``lang`` (``it`` or ``en``) chooses the names shown to annotators; the
    values stored are always the label ids.
    """
    if lang not in GROUP_TITLES:
        raise ValueError(f"lang must be one of {', '.join(GROUP_TITLES)}, got {lang!r}")
    lines = [
        "<View>",
        '  <Header value="$title"/>',
        '  <Text name="subtitle" value="$subtitle"/>',
        f'  <Text name="{TO_NAME}" value="$text"/>',
    ]
    for kind in KINDS:
        lines.append(f'  <Header value={quoteattr(GROUP_TITLES[lang][kind])} size="4"/>')
        lines.append(f'  <Choices name="{kind}" toName="{TO_NAME}" choice="multiple" showInline="true">')
        for label_id in schema.ids(kind):
            label = schema.get(kind, label_id)
            name = getattr(label, lang)
            lines.append(f"    <Choice value={quoteattr(name)} alias={quoteattr(label.id)} hint={quoteattr(label.definition)}/>")
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- tasks


def to_task(record: Record, labels: Mapping[str, Sequence[str]], *, score: float | None = None, model_version: str = "", meta: Any = None) -> dict[str, Any]:
    """One Label Studio task: the article in ``data`` and the model's
    ``labels`` (per kind) as a prediction, i.e. a pre-annotation.

    ``meta`` (why the article was suggested) travels in ``data.newstag`` so
    that annotators and the export keep it.
    """
    data: dict[str, Any] = {"article_id": record.id, "lang": record.lang, "title": record.title, "subtitle": record.subtitle, "text": record.text}
    if meta is not None:
        data["newstag"] = meta
    result = [{"from_name": kind, "to_name": TO_NAME, "type": "choices", "value": {"choices": list(labels[kind])}} for kind in KINDS if labels.get(kind)]
    prediction: dict[str, Any] = {"model_version": model_version, "result": result}
    if score is not None:
        prediction["score"] = round(float(score), 4)
    return {"data": data, "predictions": [prediction]}


# --------------------------------------------------------------------- export


@dataclass
class ImportResult:
    """What :func:`parse_export` made of an export: the valid records, every
    problem (each naming its task), and how many tasks were read."""

    records: list[Record]
    problems: list[Problem]
    tasks: int


class ExportError(ValueError):
    """The file is not a Label Studio JSON export at all (exit 2, not per task)."""


def load_export(path: str | Path) -> list[Any]:
    """The list of tasks in a Label Studio JSON export file."""
    p = Path(path)
    try:
        doc = json.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ExportError(f"{p}: non-UTF-8 bytes at offset {exc.start}; export again as JSON") from exc
    except json.JSONDecodeError as exc:
        raise ExportError(f"{p}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); export the project as JSON (not JSON-MIN or CSV)") from exc
    if isinstance(doc, dict) and "data" in doc:  # a single task
        doc = [doc]
    if not isinstance(doc, list):
        raise ExportError(f"{p}: expected a JSON list of tasks, got {type(doc).__name__}; export the project as JSON")
    return doc


def _choices(result: Any, problem) -> dict[str, list[str]] | None:
    """Labels per kind in one annotation's ``result`` (a kind with no region
    means no labels of that kind); ``None`` if the result is malformed."""
    if not isinstance(result, list):
        problem("result", f"annotation result is {type(result).__name__}, expected a list")
        return None
    out: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for region in result:
        if not isinstance(region, dict):
            problem("result", f"annotation region is {type(region).__name__}, expected an object")
            return None
        kind = region.get("from_name")
        if kind not in KINDS:
            continue  # another control (a comment box, a rating...): not ours
        choices = (region.get("value") or {}).get("choices") if isinstance(region.get("value"), dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            problem(kind, f"expected value.choices to be a list of label ids, got {choices!r:.60}")
            return None
        out[kind].extend(choices)
    return out


def _describe(labels: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{kind}=[{', '.join(sorted(labels[kind]))}]" for kind in KINDS)


def parse_task(task: Any, index: int, source: str, validator: Validator) -> tuple[Record | None, list[Problem]]:
    """One exported task -> a record, or the problems that kept it out.

    Cancelled (skipped) annotations are ignored when another annotation is
    valid; two or more remaining annotations must agree on every label,
    else the task is reported as a conflict and left out (resolve it in
    Label Studio, or keep one annotation, and export again).
    """
    tid = task.get("id") if isinstance(task, dict) else None
    where = f"{source} (task {tid})" if tid is not None else f"{source} (task #{index + 1} in the file)"
    probs: list[Problem] = []

    def problem(fld: str | None, msg: str, hint: str = "") -> None:
        probs.append(Problem(where, None, fld, msg, hint))

    if not isinstance(task, dict):
        return None, [Problem(where, None, None, f"expected a task object, got {type(task).__name__}")]
    data = task.get("data")
    if not isinstance(data, dict):
        return None, [Problem(where, None, "data", "the task has no data object", "export the project as JSON (not JSON-MIN or CSV)")]
    annotations = task.get("annotations")
    if annotations is None:
        annotations = task.get("completions", [])  # exports of Label Studio before 1.0
    if not isinstance(annotations, list):
        return None, [Problem(where, None, "annotations", f"expected a list, got {type(annotations).__name__}")]
    if not annotations:
        return None, [Problem(where, None, "annotations", "not annotated yet", "annotate the task in Label Studio, or leave it out of the export")]
    kept: list[tuple[Any, dict[str, list[str]]]] = []
    cancelled = 0
    for ann in annotations:
        if not isinstance(ann, dict):
            problem("annotations", f"an annotation is {type(ann).__name__}, expected an object")
            continue
        if ann.get("was_cancelled"):
            cancelled += 1
            continue
        labels = _choices(ann.get("result", []), problem)
        if labels is not None:
            kept.append((ann.get("id"), labels))
    if probs:
        return None, probs
    if not kept:
        return None, [
            Problem(
                where,
                None,
                "annotations",
                f"skipped (cancelled) by the annotator ({cancelled} cancelled annotation(s))",
                "label it in Label Studio if it belongs in the data",
            )
        ]
    first_id, first = kept[0]
    for other_id, other in kept[1:]:
        if any(sorted(set(first[k])) != sorted(set(other[k])) for k in KINDS):
            return None, [
                Problem(
                    where,
                    None,
                    "annotations",
                    f"conflicting annotations: annotation {first_id} says {_describe(first)}, annotation {other_id} says {_describe(other)}",
                    "settle the disagreement in Label Studio (delete or fix one annotation) and export again",
                )
            ]
    values: dict[str, Any] = {k: data.get(k) for k in ("lang", "title", "subtitle", "text")}
    values["id"] = data.get("article_id") if data.get("article_id") not in (None, "") else f"labelstudio-{tid if tid is not None else index + 1}"
    values.update(first)
    record, vprobs = validator.check(_Row(source, index + 1, values))  # duplicate ids: "first seen at FILE:N", N the task's place in the file
    # the validator locates problems by file:line; an export locates them by task id
    vprobs = [Problem(where, None, p.field, p.message, p.hint) for p in vprobs]
    if record is not None:
        record = Record(**{**record.__dict__, "source": where})
    return record, vprobs


def parse_export(tasks: Sequence[Any], schema: LabelSchema, source: str = "<export>") -> ImportResult:
    """Every task of a Label Studio export -> validated records and problems.

    Article ids come from ``data.article_id`` (set by :func:`to_task`), else
    ``labelstudio-<task id>``; ids must be unique across the export.
    """
    validator = Validator(schema, require_labels=True)
    records: list[Record] = []
    problems: list[Problem] = []
    for i, task in enumerate(tasks):
        record, probs = parse_task(task, i, source, validator)
        if record is not None:
            records.append(record)
        problems.extend(probs)
    return ImportResult(records, problems, len(tasks))
