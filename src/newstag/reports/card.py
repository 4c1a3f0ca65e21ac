"""``model_card.md`` for a registered model version, from its manifest."""

from __future__ import annotations

from typing import Any

INTENDED = {
    "topics": "Tag Italian and English news articles with the topics diplomacy, military_aid and mediation, as defined in the project's labelling guide, to route, filter or count coverage of international politics.",
    "actors": "Tag Italian and English news articles with the states and organisations (from the project's 25-actor schema) whose governments, officials or forces act, or are acted upon, in the story.",
}


def _f(v: Any) -> str:
    return "undefined" if v is None else f"{v:.3f}"


def _component(cfg: dict[str, Any], task: str, group: str) -> str:
    node = cfg.get(group) or cfg.get("tasks", {}).get(task, {}).get(group) or {}
    if group == "features":
        parts = node.get("parts")
        return " + ".join(parts) if parts else node.get("_target_", "?").rsplit(".", 1)[-1]
    est = node.get("estimator", {})
    name = est.get("_target_", "?").rsplit(".", 1)[-1]
    if str(node.get("_target_", "")).endswith("PlattOneVsRest"):
        return name + " (Platt-calibrated on out-of-fold margins)"
    return name + (" (calibrated)" if node.get("calibrate") else "")


def render_card(manifest: dict[str, Any]) -> str:
    task = manifest["task"]
    m = manifest.get("metrics", {})
    ds = manifest.get("dataset", {})
    cfg = manifest.get("config", {})
    lines = [
        f"# Model card: {task}@{manifest['version']}",
        "",
        "## Model details",
        "",
        f"- Task: `{task}` (multi-label, {len(manifest['labels'])} labels: {', '.join(manifest['labels'])})",
        f"- Features: {_component(cfg, task, 'features')}; classifier: one-vs-rest {_component(cfg, task, 'model')}; class weights: {cfg.get('class_weight')}",
        f"- Per-label thresholds tuned on {cfg.get('thresholds', {}).get('folds')}-fold out-of-fold predictions of the train split",
        f"- Created {manifest.get('created_at')} in {manifest.get('training_seconds')} s; git commit `{manifest.get('git_commit') or 'unknown'}`",
        f"- Runtime: Python {manifest['versions']['python']}, scikit-learn {manifest['versions']['scikit-learn']}, joblib {manifest['versions']['joblib']}; `model.joblib` sha256 `{manifest['sha256']}`",
        "",
        "## Intended use",
        "",
        INTENDED.get(task, "Multi-label tagging of news articles with the labels above."),
        "",
        "## Out-of-scope uses",
        "",
        "- Languages other than Italian and English; non-news text (social posts, transcripts, legal text).",
        "- Events or office-holders after 2025, not seen in the training data or the alias list.",
        "- Automated decisions about people or organisations; fact-checking (the model labels what an article reports, not whether it is true).",
        "- Labels outside the schema; the probabilities are per-label and not a ranking of importance.",
        "",
        "## Training data",
        "",
        f"- Train split: {ds.get('n_train')} articles, fingerprint `{ds.get('train_fingerprint')}`",
        f"- Languages: {', '.join(f'{k}: {v}' for k, v in (ds.get('languages') or {}).items()) or 'not recorded'}",
    ]
    counts = ds.get("label_counts") or {}
    if counts:
        lines += ["", "| label | train positives |", "|---|---|"] + [f"| {k} | {v} |" for k, v in counts.items()]
    lines += ["", "## Evaluation", ""]
    test = m.get("test")
    if test:
        s = test["summary"]
        lines += [
            f"On the test split ({ds.get('n_test')} articles, fingerprint `{ds.get('test_fingerprint')}`): micro-F1 {_f(s['micro_f1'])}, macro-F1 {_f(s['macro_f1'])}, samples-F1 {_f(s['samples_f1'])}, subset accuracy {_f(s['subset_accuracy'])}.",
            "",
            "| label | precision | recall | F1 | support | threshold |",
            "|---|---|---|---|---|---|",
        ]
        for label, row in test["per_label"].items():
            lines.append(
                f"| {label} | {_f(row['precision'])} | {_f(row['recall'])} | {_f(row['f1'])} | {row['support']} | {manifest['thresholds'][label]:.2f} |"
            )
    else:
        lines.append("No test split was evaluated for this version.")
    cv = m.get("cv")
    if cv:
        lines += [
            "",
            f"Cross-validation on train ({cv['folds']} folds): micro-F1 {_f(cv.get('micro_f1'))} ± {_f(cv.get('micro_f1_std'))}, macro-F1 {_f(cv.get('macro_f1'))} ± {_f(cv.get('macro_f1_std'))}.",
        ]
    lines += ["", "## Known limitations and failure modes", ""]
    if test:
        per = {k: v for k, v in test["per_label"].items() if v["f1"] is not None}
        weakest = sorted(per, key=lambda k: per[k]["f1"])[:3]
        for label in weakest:
            row = per[label]
            lines.append(
                f"- `{label}`: F1 {_f(row['f1'])} (precision {_f(row['precision'])}, recall {_f(row['recall'])}, {row['support']} test positives) — {'mostly missed' if (row['recall'] or 0) < (row['precision'] or 0) else 'mostly over-predicted'}."
            )
        undefined = [k for k, v in test["per_label"].items() if v["f1"] is None or v["support"] == 0]
        if undefined:
            lines.append(f"- No test positives, so no measured quality, for: {', '.join(undefined)}.")
        errors = test.get("errors") or {}
        for kind, title in (("false_positives", "confident false positives"), ("false_negatives", "confident misses")):
            rows = errors.get(kind) or []
            if rows:
                lines.append(f"- Typical {title}: " + "; ".join(f"`{e['label']}` on {e['id']} (p={e['probability']})" for e in rows[:3]) + ".")
    lines += [
        "- The corpus was written for the project; real articles are noisier (boilerplate, captions, live blogs): expect lower scores than the test split and check on a labelled sample of your own.",
        "- Passing mentions of a country (a place name, a background clause) can still raise its actor score; check the `--explain` evidence for borderline cases.",
        "",
        "## Reproduce",
        "",
        "```bash",
        manifest.get("command", "newstag-train"),
        "```",
        "",
        "with the same data (check the fingerprints above) and the package at the commit above.",
        "",
    ]
    return "\n".join(lines)
