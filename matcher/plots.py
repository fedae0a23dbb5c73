"""Precision-recall curves and score histograms of evaluation runs, as PNG files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers
import matplotlib.pyplot as plt  # noqa: E402
from lootwatch.matcher.evaluate import RunResult  # noqa: E402


def plot_pr(runs: Sequence[RunResult], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 5.0), dpi=110)
    for run in runs:
        m = run.metrics
        ax.step(run.curve.recall, run.curve.precision, where="post", label=f"{run.name} (AP {m.ap:.3f})")
        if m.recall_at_threshold is not None and m.precision_at_threshold is not None:
            ax.plot([m.recall_at_threshold], [m.precision_at_threshold], "o", color=ax.lines[-1].get_color())
    ax.axhline(0.95, color="grey", lw=0.8, ls=":")
    ax.axvline(0.90, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="recall (protected listing photos, right artefact)",
        ylabel="precision",
        xlim=(0, 1.01),
        ylim=(0, 1.02),
    )
    ax.set_title("alert precision-recall (dot: gallery-calibrated threshold)", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_scores(run: RunResult, path: Path) -> Path:
    """Best-artefact scores of listing photos: right artefact, wrong artefact, unprotected."""
    groups: dict[str, list[float]] = {"right artefact": [], "wrong artefact": [], "unprotected": []}
    for item in run.listings:
        if not item["top"]:
            continue
        top, score = item["top"][0]
        if item["artefact_id"] is None:
            groups["unprotected"].append(score)
        else:
            groups["right artefact" if top == item["artefact_id"] else "wrong artefact"].append(score)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for label, scores in groups.items():
        if scores:
            ax.hist(scores, bins=30, alpha=0.55, label=f"{label} ({len(scores)})")
    m = run.metrics
    if m.threshold is not None:
        ax.axvline(
            m.threshold, color="black", ls="--", lw=1, label=_level("review", m.threshold, m.fp_rate_at_threshold)
        )
    if m.notify_threshold is not None:
        ax.axvline(
            m.notify_threshold,
            color="red",
            ls="-.",
            lw=1,
            label=_level("notify", m.notify_threshold, m.fp_rate_at_notify),
        )
    ax.set(xlabel="best artefact score", ylabel="listing photos", title=run.name)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _level(name: str, threshold: float, fp_rate: float | None) -> str:
    fp = "" if fp_rate is None else f", {100 * fp_rate:.1f}% of unprotected"
    return f"{name} {threshold:.3f}{fp}"


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "run"
