"""Report figures (matplotlib, headless Agg backend), returned as PNG bytes."""

from __future__ import annotations

import io
import math

import numpy as np

from newstag.reports.analysis import TaskAnalysis, cooccurrence, f1_by_threshold, pr_curve


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display, no network: works on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _grid(n: int) -> tuple[int, int]:
    cols = min(5, n)
    return math.ceil(n / cols), cols


def prf_bars(a: TaskAnalysis) -> bytes:
    plt = _plt()
    per = a.metrics["per_label"]
    x = np.arange(len(a.labels))
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(a.labels) + 2), 3.6))
    for k, (name, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
        vals = [per[label][name] if per[label][name] is not None else np.nan for label in a.labels]
        ax.bar(x + (k - 1) * 0.27, vals, width=0.27, label=name, color=color)
    ax.set_xticks(x, a.labels, rotation=60 if len(a.labels) > 6 else 0, ha="right" if len(a.labels) > 6 else "center")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{a.task}: precision, recall and F1 per label")
    ax.legend(loc="lower right", ncol=3, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _small_multiples(a: TaskAnalysis, draw, title: str) -> bytes:
    plt = _plt()
    rows, cols = _grid(len(a.labels))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows), squeeze=False)
    for k, label in enumerate(a.labels):
        ax = axes[k // cols][k % cols]
        draw(ax, k, label)
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    for k in range(len(a.labels), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return _png(fig)


def pr_curves(a: TaskAnalysis) -> bytes:
    def draw(ax, j, label):
        y, p = a.Y[:, j], a.P[:, j]
        if y.sum() == 0:
            ax.text(0.5, 0.5, "no positives:\nundefined", ha="center", va="center", fontsize=8)
            return
        precision, recall = pr_curve(y, p)
        ax.plot(recall, precision, color="#4c72b0")
        pred = p >= a.thresholds[j]
        tp = np.sum(pred & (y == 1))
        r = tp / y.sum()
        pr = tp / pred.sum() if pred.sum() else 0.0
        ax.plot([r], [pr], "o", color="#c44e52", label=f"t={a.thresholds[j]:.2f}")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower left")

    return _small_multiples(a, draw, f"{a.task}: precision-recall curves (dot: chosen threshold)")


def f1_threshold(a: TaskAnalysis) -> bytes:
    grid = np.linspace(0.01, 0.99, 99)

    def draw(ax, j, label):
        y = a.Y[:, j]
        if y.sum() == 0:
            ax.text(0.5, 0.5, "no positives:\nundefined", ha="center", va="center", fontsize=8)
            return
        ax.plot(grid, f1_by_threshold(y, a.P[:, j], grid), color="#55a868")
        ax.axvline(a.thresholds[j], color="#c44e52", ls="--", lw=1)
        ax.set_ylim(0, 1.02)

    return _small_multiples(a, draw, f"{a.task}: F1 against threshold (dashed: chosen)")


def confusion(a: TaskAnalysis) -> bytes:
    pred = a.pred

    def draw(ax, j, label):
        y, p = a.Y[:, j], pred[:, j]
        m = np.array([[np.sum((y == 0) & (p == 0)), np.sum((y == 0) & (p == 1))], [np.sum((y == 1) & (p == 0)), np.sum((y == 1) & (p == 1))]])
        ax.imshow(m, cmap="Blues")
        for (r, c), v in np.ndenumerate(m):
            ax.text(c, r, str(v), ha="center", va="center", fontsize=9, color="black")
        ax.set_xticks([0, 1], ["pred 0", "pred 1"])
        ax.set_yticks([0, 1], ["true 0", "true 1"])

    return _small_multiples(a, draw, f"{a.task}: confusion matrix per label")


def reliability(a: TaskAnalysis) -> bytes:
    plt = _plt()
    cal = a.metrics["calibration"]
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    xs = [b["mean_predicted"] for b in cal["bins"]]
    ys = [b["observed"] for b in cal["bins"]]
    sizes = [max(10, 200 * b["count"] / a.P.size) for b in cal["bins"]]
    ax.plot(xs, ys, color="#4c72b0")
    ax.scatter(xs, ys, s=sizes, color="#4c72b0")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"{a.task}: reliability (ECE {cal['ece']:.3f})")
    return _png(fig)


def cooccurrence_maps(a: TaskAnalysis) -> bytes:
    plt = _plt()
    n = len(a.labels)
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 0.5 * n * 2 + 2), max(3.5, 0.42 * n + 1.5)))
    for ax, (name, M) in zip(axes, (("true", a.Y), ("predicted", a.pred))):
        C = cooccurrence(M)
        ax.imshow(np.log1p(C), cmap="viridis")
        ax.set_xticks(range(n), a.labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), a.labels, fontsize=7)
        if n <= 6:
            for (r, c), v in np.ndenumerate(C):
                ax.text(c, r, str(v), ha="center", va="center", color="white", fontsize=9)
        ax.set_title(f"{name} label co-occurrence")
    fig.suptitle(f"{a.task}: articles carrying both labels (log colour scale)")
    fig.tight_layout()
    return _png(fig)


FIGURES = {
    "prf": ("Precision, recall and F1 per label", prf_bars),
    "pr_curves": ("Precision-recall curves", pr_curves),
    "f1_threshold": ("F1 against threshold", f1_threshold),
    "confusion": ("Confusion matrices", confusion),
    "reliability": ("Calibration", reliability),
    "cooccurrence": ("Label co-occurrence, true and predicted", cooccurrence_maps),
}
