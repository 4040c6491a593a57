"""Study figures: learning curves with a ±1 std band over seeds, and metric against an option.

Each function draws from an analysis table (:mod:`peftal.analysis.tables`) and returns PNG bytes,
so the HTML report can embed them and the caller decides where files go.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from peftal.plotting import plt


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def line_label(row: pd.Series, keys: Sequence[str]) -> str:
    """``lora · entropy · budget=300``: method and strategy bare, other axes as key=value."""
    parts = []
    for key in keys:
        value = row[key]
        parts.append(str(value) if key in ("method", "strategy") else f"{key}={_show(value)}")
    return " · ".join(parts) or "all runs"


def _show(value: object) -> str:
    return "none" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def plot_curves(table: pd.DataFrame, *, line_keys: Sequence[str], title: str, metric: str) -> bytes:
    """Mean test ``metric`` against labelled examples, one line per ``line_keys`` combination,
    shaded ±1 std over seeds (no band where a line has one seed)."""
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    groups = table.groupby(list(line_keys), dropna=False, sort=True) if line_keys else [((), table)]
    for _, lines in groups:
        lines = lines.sort_values("num_labeled")
        x = lines["num_labeled"].to_numpy()
        mean = lines["value_mean"].to_numpy(dtype=float)
        std = np.nan_to_num(lines["value_std"].to_numpy(dtype=float))
        (line,) = axis.plot(x, mean, marker="o", markersize=3,
                            label=line_label(lines.iloc[0], line_keys))
        if std.any():
            axis.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    axis.set_xlabel("labelled examples")
    axis.set_ylabel(f"test {metric}")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower right")
    return _png(figure)


def plot_metric_vs(table: pd.DataFrame, x: str, *, line_keys: Sequence[str], title: str,
                   metric: str) -> bytes:
    """Mean final test ``metric`` against option ``x`` (e.g. ``fraction``), ±1 std error bars.

    Values are placed in sorted order at evenly spaced positions, with ``none`` (no limit) last, so
    a time budget of "no limit" sits beside the finite ones.
    """
    values = sorted({_show(v) for v in table[x]}, key=_order)
    position = {value: i for i, value in enumerate(values)}
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    groups = table.groupby(list(line_keys), dropna=False, sort=True) if line_keys else [((), table)]
    for _, lines in groups:
        lines = lines.assign(_pos=[position[_show(v)] for v in lines[x]]).sort_values("_pos")
        axis.errorbar(lines["_pos"], lines["value_mean"].astype(float),
                      yerr=np.nan_to_num(lines["value_std"].to_numpy(dtype=float)), marker="o",
                      markersize=3, capsize=3, label=line_label(lines.iloc[0], line_keys))
    axis.set_xticks(range(len(values)), values)
    axis.set_xlabel(x.replace("_", " "))
    axis.set_ylabel(f"test {metric}")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    return _png(figure)


def _order(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
