"""Report sections for the two analyses of Jukić & Šnajder (2023): forgetting and CKA.

Both read :meth:`~peftal.analysis.study_records.StudyRecords.analysis`: the runs every other
section reads, from the same store (cells removed from the spec are left out everywhere), and
reuse the figures of :mod:`peftal.reports.analysis_figures`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from peftal.analysis.records import completed, group_summary
from peftal.analysis.study_records import StudyRecords
from peftal.reports.analysis_figures import (
    plot_cka_by_labels,
    plot_cka_by_layer,
    plot_forgetting_histogram,
)
from peftal.reports.sections import Section, register_section


def _png(draw, data) -> bytes | None:
    with tempfile.TemporaryDirectory() as folder:
        written = draw(data, Path(folder) / "figure.png")
        return written.read_bytes() if written is not None else None


def _summary_table(result: dict[str, Any], columns: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for row in group_summary(result):
        out = {"group": row["group"]}
        for column in columns:
            value = row.get(column)
            if isinstance(value, tuple):
                out[column] = f"{value[0]:.3f} ± {value[1]:.3f}"
            elif isinstance(value, list):
                out.update({f"cka_layer_{i}": "-" if m != m else f"{m:.3f} ± {s:.3f}"
                            for i, (m, s) in enumerate(value)})
            elif value is not None:
                out[column] = value
        rows.append(out)
    return pd.DataFrame(rows)


@register_section("forgetting", order=60)
def forgetting_section(records: StudyRecords) -> Section | None:
    result = records.analysis()
    forgetting = completed(result["forgetting"])
    if not forgetting:
        return None
    figure = _png(plot_forgetting_histogram, forgetting)
    return Section(
        title="Forgetting events (Toneva et al. 2019)",
        text="<p>Per labelled example of the last round: how often it went from correctly to "
             "incorrectly classified between consecutive epochs. Shares are of the labelled set, "
             "mean ± std over seeds; never-learned examples are counted separately.</p>",
        tables={"forgetting": _summary_table(result, ("runs", "forgettable_share",
                                                      "unforgettable_share", "never_learned_share"))},
        figures=[("Forgetting events per example, by method", figure)] if figure else [],
    )


@register_section("cka", order=70)
def cka_section(records: StudyRecords) -> Section | None:
    result = records.analysis()
    cka = completed(result["cka"])
    if not cka:
        return None
    figures = [("Linear CKA between the pretrained and the fine-tuned encoder, per layer",
                _png(plot_cka_by_layer, cka))]
    by_labels = _png(plot_cka_by_labels, cka)
    if by_labels:
        figures.append(("CKA of the last layer against labelled-set size", by_labels))
    return Section(
        title="Representation similarity to the base model (CKA, Kornblith et al. 2019)",
        text="<p>Linear CKA of pooled representations of a fixed probe set after each layer, base "
             "model vs fine-tuned model (1 = unchanged), mean ± std over seeds.</p>",
        tables={"cka": _summary_table(result, ("cka_runs", "per_layer"))},
        figures=figures,
    )
