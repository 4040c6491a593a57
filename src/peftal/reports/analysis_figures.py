"""The two analysis figures of Jukić & Šnajder (2023), drawn from :func:`peftal.analysis.analyze`
output only: layer-wise CKA to the base model (vs layer, and vs labelled-set size) and forgetting
histograms, one line or bar group per method, mean ± std over seeds.

Runs are grouped by :func:`peftal.analysis.records.group_runs`: by the fields among dataset,
method and strategy that differ between them (always at least the method), so a study comparing
methods gets one line per method and a study over strategies too gets one per (method, strategy).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np  # noqa: E402

from peftal.analysis.records import completed, group_runs  # noqa: E402
from peftal.plotting import plt


def _mean_std(rows: list[list[float | None]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) std over runs, ignoring runs shorter than the longest; ``None``
    (undefined CKA) becomes NaN and leaves a gap in the line."""
    width = max(len(row) for row in rows)
    stacked = np.array([[np.nan if v is None else v for v in row] for row in rows if len(row) == width],
                       dtype=float)
    return stacked.mean(axis=0), stacked.std(axis=0)


def _defined(values: list[float | None]) -> np.ndarray:
    """The defined CKA values of one measurement (a constant layer has none)."""
    return np.array([v for v in values if v is not None], dtype=float)


def _finish(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_cka_by_layer(cka: Mapping[str, Mapping[str, Any]], path: Path, *,
                      title: str = "Similarity to the pretrained model") -> Path:
    """CKA (last measured round) against layer; one line per method, band = ± std over seeds."""
    figure, axis = plt.subplots(figsize=(6, 4), dpi=110)
    for label, runs in group_runs(cka).items():
        mean, std = _mean_std([run["per_layer"] for run in runs])
        layers = np.arange(len(mean))
        axis.plot(layers, mean, marker="o", label=f"{label} (n={len(runs)})")
        axis.fill_between(layers, mean - std, mean + std, alpha=0.2)
    depth = max(len(run["per_layer"]) for run in cka.values())
    axis.set_xticks(np.arange(depth), ["emb", *map(str, range(1, depth))])
    axis.set_xlabel("layer (emb = embedding output)")
    axis.set_ylabel("linear CKA, base vs fine-tuned")
    axis.set_ylim(0, 1.02)
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return _finish(figure, path)


def plot_cka_by_labels(cka: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """CKA against the labelled-set size, from runs measured every round; ``None`` when no run was.

    Left: mean CKA over all layers; right: the last layer (where fine-tuning moves most).
    """
    runs = {key: run for key, run in cka.items() if len(run.get("by_round", [])) > 1}
    if not runs:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=110, sharey=True)
    for label, group in group_runs(runs).items():
        sizes = [r["num_labeled"] for r in group[0]["by_round"]]
        for axis, reduce in zip(axes, (np.mean, lambda values: values[-1]), strict=True):
            mean, std = _mean_std([[float(reduce(_defined(r["per_layer"]))) for r in run["by_round"]]
                                   for run in group])
            axis.plot(sizes[: len(mean)], mean, marker="o", label=f"{label} (n={len(group)})")
            axis.fill_between(sizes[: len(mean)], mean - std, mean + std, alpha=0.2)
    for axis, name in zip(axes, ("mean over layers", "last layer"), strict=True):
        axis.set_xlabel("labelled examples")
        axis.set_title(f"linear CKA to the base model, {name}", fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("linear CKA")
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(fontsize=8)
    return _finish(figure, path)


def plot_forgetting_histogram(forgetting: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Share of the final round's labelled examples with 0, 1, 2, … forgetting events, plus never
    learned; grouped bars per method, error bars = std over seeds."""
    groups = group_runs(forgetting)
    figure, axis = plt.subplots(figsize=(7, 4), dpi=110)
    width = 0.8 / len(groups)
    num_bins = max(len(run["final"]["histogram"]) for run in forgetting.values())
    for g, (label, runs) in enumerate(groups.items()):
        shares = []
        for run in runs:
            final = run["final"]
            counts = np.zeros(num_bins + 1)
            counts[: len(final["histogram"])] = final["histogram"]
            counts[-1] = final["never_learned"]
            shares.append(list(counts / max(1, final["num_examples"])))
        mean, std = _mean_std(shares)
        positions = np.arange(num_bins + 1) + (g - (len(groups) - 1) / 2) * width
        axis.bar(positions, mean, width, yerr=std if len(runs) > 1 else None, capsize=3,
                 label=f"{label} (n={len(runs)})")
    axis.set_xticks(np.arange(num_bins + 1), [*map(str, range(num_bins)), "never\nlearned"])
    axis.set_xlabel("forgetting events per labelled example (last round)")
    axis.set_ylabel("share of labelled examples")
    axis.set_title("Forgetting events (Toneva et al. 2019)", fontsize=10)
    axis.grid(alpha=0.3, axis="y")
    axis.legend(fontsize=8)
    return _finish(figure, path)


def write_analysis_figures(analysis: Mapping[str, Any], folder: str | Path) -> list[Path]:
    """Write every figure the ``analysis`` output supports into ``folder``; returns their paths.

    Files: ``cka_by_layer.png``, ``cka_by_labels.png`` (only with every-round CKA),
    ``forgetting_histogram.png``. Only completed runs are drawn.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cka, forgetting = completed(analysis.get("cka", {})), completed(analysis.get("forgetting", {}))
    written = []
    if cka:
        written.append(plot_cka_by_layer(cka, folder / "cka_by_layer.png"))
        by_labels = plot_cka_by_labels(cka, folder / "cka_by_labels.png")
        if by_labels is not None:
            written.append(by_labels)
    if forgetting:
        written.append(plot_forgetting_histogram(forgetting, folder / "forgetting_histogram.png"))
    return written
