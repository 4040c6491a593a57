"""Figures drawn from stored records (matplotlib, headless Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from peftal.plotting import plt


def plot_learning_curve(num_labeled: Sequence[int], values: Sequence[float], path: Path, *,
                        metric: str, title: str) -> Path:
    """Write a PNG of ``metric`` against the number of labelled examples."""
    figure, axis = plt.subplots(figsize=(6, 4), dpi=110)
    axis.plot(num_labeled, values, marker="o")
    axis.set_xlabel("labelled examples")
    axis.set_ylabel(f"test {metric}")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    for x, y in zip(num_labeled, values):
        axis.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 6),
                      ha="center", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
