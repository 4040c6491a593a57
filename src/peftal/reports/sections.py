"""Report sections: a registry of builders, each turning stored records into one part of the report.

A section builder takes :class:`~peftal.analysis.study_records.StudyRecords` and returns a
:class:`Section` (title, text, tables, figures) or ``None`` when it does not apply (no supervised
cells, no random baseline, ...). The report shows the sections in ``order``. An analysis joins the
report by registering its own builder next to its code, e.g.::

    @register_section("forgetting", order=60)
    def forgetting_section(records: StudyRecords) -> Section | None:
        ...  # read records.store.correctness(run_id) for each completed run

and adding one import line to :mod:`peftal.reports.html`. Orders used here: overview 0, learning
curves 10, AUC 20, RIPL 30, fraction 40, time budget 45, parameters 50, runs 80, failures 90;
analyses such as forgetting (60) and CKA (70) go between.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from peftal.analysis.claims import claim_metrics
from peftal.analysis.study_records import StudyRecords
from peftal.analysis.tables import (
    auc_table,
    curve_table,
    metric_vs,
    parameter_table,
    ripl_table,
)
from peftal.registry import Registry
from peftal.reports.figures import plot_curves, plot_metric_vs


@dataclass
class Section:
    """One part of the report.

    Attributes:
        title: Heading.
        text: HTML paragraphs shown under the heading (escape user data with ``html.escape``).
        tables: Name → table; each is written to ``tables/<name>.csv`` and shown in the page.
        figures: ``(caption, png bytes)``; embedded in the page and written to ``figures/``.
        csv_only: Names of tables written as CSV but not shown (the figures already show them).
    """

    title: str
    text: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[tuple[str, bytes]] = field(default_factory=list)
    csv_only: tuple[str, ...] = ()


SectionBuilder = Callable[[StudyRecords], Section | None]
SECTIONS: Registry[tuple[int, SectionBuilder]] = Registry("report section")


def register_section(name: str, order: int) -> Callable[[SectionBuilder], SectionBuilder]:
    """Decorator registering a section builder shown at position ``order`` (lower = earlier)."""

    def decorator(builder: SectionBuilder) -> SectionBuilder:
        SECTIONS.register(name)((order, builder))
        return builder

    return decorator


def ordered_sections() -> list[tuple[str, SectionBuilder]]:
    return [(name, builder) for name, (_, builder) in
            sorted(SECTIONS.items(), key=lambda item: item[1][0])]


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


@register_section("overview", order=0)
def overview(records: StudyRecords) -> Section:
    runs = records.runs
    counts = runs["status"].value_counts().to_dict() if len(runs) else {}
    total = len(records.manifest.get("cells", [])) or len(runs)
    lines = [f"{records.kind.replace('_', ' ')} · {total} cells · {counts.get('completed', 0)} "
             f"completed · {counts.get('failed', 0)} failed · "
             f"{total - counts.get('completed', 0) - counts.get('failed', 0)} not run"]
    if records.manifest.get("description"):
        lines.append(records.manifest["description"])
    if records.axes:
        lines.append("grid axes: " + ", ".join(records.axes))
    versions = sorted({str(run["provenance"].get("peftal")) for run in records.stored_runs
                       if run["provenance"].get("peftal")})
    commits = sorted(set(runs["code"].dropna())) if "code" in runs else []
    if versions:
        lines.append("peftal " + ", ".join(versions) + (" · git " + ", ".join(commits) if commits
                                                         else ""))
    if "wall_seconds" in runs and runs["wall_seconds"].notna().any():
        lines.append(f"compute: {runs['wall_seconds'].sum() / 3600:.2f} h of cell wall time; "
                     f"peak memory of a cell {runs['peak_memory_mb'].max():.0f} MiB")
    lines.append(_convergence_line(records.completed))
    superseded = records.store.runs("superseded")
    if superseded:
        lines.append(f"{len(superseded)} earlier results of re-run cells (`peftal study run "
                     "--rerun`) are kept in the store with status superseded, out of this report")
    title = f"Study {records.name}" if records.manifest else f"Run {records.name}"
    return Section(title=title, text="".join(_p(line) for line in lines))


def _flag_counts(completed: pd.DataFrame, column: str) -> tuple[int, int, int]:
    """``(yes, no, unknown)`` counts of a per-cell flag column (object: True / False / None)."""
    flags = completed[column].map(lambda v: None if v is None or v != v else bool(v))
    yes, no = int((flags == True).sum()), int((flags == False).sum())  # noqa: E712 (object column)
    return yes, no, len(flags) - yes - no


def _convergence_line(completed: pd.DataFrame) -> str:
    """How many completed cells converged and learned (docs/methods.md, "Convergence")."""
    if completed.empty or "converged" not in completed:
        return "convergence: no completed cells"
    yes, no, unknown = _flag_counts(completed, "converged")
    line = (f"convergence: {yes} of {len(completed)} completed cells converged in every training, "
            f"{no} did not" + (f", {unknown} not recorded" if unknown else ""))
    if "learned" in completed:
        yes, no, unknown = _flag_counts(completed, "learned")
        line += (f"; {yes} ended above chance on the evaluation split, {no} at chance"
                 + (f", {unknown} not recorded" if unknown else ""))
    return line + "; a claim resting on a cell that did not converge or sits at chance is withheld"


@register_section("learning_curves", order=10)
def learning_curves(records: StudyRecords) -> Section | None:
    metrics = claim_metrics(records)
    table = curve_table(records, metrics)
    if table.empty:
        return None
    figures = []
    for (dataset, metric), rows in table.groupby(["dataset", "metric"], sort=True):
        line_keys = [key for key in records.group_keys("method", "strategy", exclude=("dataset",))
                     if key in rows.columns]
        figures.append((f"{dataset}: test {metric} by labelled examples (mean ± std over seeds)",
                        plot_curves(rows, line_keys=line_keys, metric=metric, title=str(dataset))))
    return Section(title="Learning curves", tables={"curves": table}, figures=figures,
                   csv_only=("curves",),
                   text=_p("One line per method × strategy; the band is ±1 standard deviation "
                           "over seeds. The test split is evaluated after every round.")
                   + _claim_metrics_text(metrics))


@register_section("auc", order=20)
def auc(records: StudyRecords) -> Section | None:
    table = auc_table(records)
    if table.empty:
        return None
    return Section(title="Area under the learning curve", tables={"auc": table},
                   text=_p("Trapezoid-rule area under the metric-by-round curve divided by the "
                           "number of intervals, so it lies in [0, 1] (Jukić & Šnajder 2023); "
                           "mean and std over seeds."))


@register_section("ripl", order=30)
def ripl(records: StudyRecords) -> Section | None:
    if records.completed.empty or "strategy" not in records.completed:
        return None
    table = ripl_table(records)
    if table.empty:
        return Section(title="Relative improvement over passive learning (RIPL)",
                       text=_p("No RIPL: the study has no 'random' cell with the same settings "
                               "as an active-learning cell."))
    return Section(title="Relative improvement over passive learning (RIPL)", tables={"ripl": table},
                   text=_p("RIPL = (AUC_AL − AUC_random) / (1 − AUC_random), where the baseline "
                           "is the random-strategy cell with the same dataset, method, seed and "
                           "other settings; computed per seed, then averaged. Positive = "
                           "active learning beats passive learning."))


def _metric_vs_section(records: StudyRecords, x: str, title: str) -> Section | None:
    metrics = claim_metrics(records)
    table = metric_vs(records, x, metrics)
    if table.empty:
        return None
    figures = []
    for (dataset, metric), rows in table.groupby(["dataset", "metric"], sort=True):
        line_keys = [key for key in records.group_keys("method", exclude=("dataset", x))
                     if key in rows.columns]
        figures.append((f"{dataset}: final test {metric} by {x.replace('_', ' ')}",
                        plot_metric_vs(rows, x, line_keys=line_keys, metric=metric,
                                       title=str(dataset))))
    return Section(title=title, text=_claim_metrics_text(metrics), tables={f"metric_vs_{x}": table},
                   figures=figures)


def _claim_metrics_text(metrics: tuple[str, ...]) -> str:
    return (_p(f"Each run's metric is the first of {', '.join(metrics)} it recorded: the metrics "
               "the study's claims compare.") if metrics else "")


@register_section("fraction", order=40)
def by_fraction(records: StudyRecords) -> Section | None:
    return _metric_vs_section(records, "fraction", "Metric by training-data fraction")


@register_section("time_budget", order=45)
def by_time_budget(records: StudyRecords) -> Section | None:
    return _metric_vs_section(records, "time_budget", "Metric by training-time budget (seconds)")


@register_section("tapt", order=47)
def by_tapt(records: StudyRecords) -> Section | None:
    return _metric_vs_section(records, "tapt", "Metric without and with task-adaptive pretraining (TAPT)")


@register_section("parameters", order=50)
def parameters(records: StudyRecords) -> Section | None:
    table = parameter_table(records)
    if table.empty:
        return None
    return Section(title="Trainable parameters", tables={"parameters": table},
                   text=_p("Parameters updated by each method, task head included, as counted "
                           "in the runs."))


@register_section("runs", order=80)
def runs_table(records: StudyRecords) -> Section | None:
    if records.runs.empty:
        return None
    columns = ["run_id", "status", *[a for a in records.axes if a in records.runs], "metric",
               "final", "auc", "converged", "learned", "wall_seconds", "peak_memory_mb", "code"]
    table = records.runs[[c for c in columns if c in records.runs.columns]]
    return Section(title="Runs", tables={"runs": table},
                   text=_p("One row per cell: final value of the primary metric, AUC, whether "
                           "every training of the cell converged and whether its last model beat "
                           "chance on the evaluation split (empty: not recorded), the "
                           "cell's wall time (s), the peak resident memory of its worker (MiB) "
                           "and the code version (git commit) that ran it."))


@register_section("unfinished", order=85)
def unfinished_rounds(records: StudyRecords) -> Section | None:
    """The rounds a stopped (SIGTERM, Ctrl-C) or failed run finished before it ended."""
    if records.runs.empty or records.rounds.empty:
        return None
    unfinished = records.runs[records.runs["status"] != "completed"]
    rows = records.rounds[records.rounds["run_id"].isin(unfinished["run_id"])]
    if rows.empty:
        return None
    status = unfinished.set_index("run_id")["status"]
    error = unfinished.set_index("run_id")["error"]
    table = rows.assign(status=rows["run_id"].map(status), error=rows["run_id"].map(error))
    table = table[["run_id", "status", "error", "round", "num_labeled",
                   *[c for c in rows.columns if c not in ("run_id", "round", "num_labeled", "value")]]]
    return Section(title="Finished rounds of runs that did not complete", tables={"unfinished": table},
                   text=_p("These runs stopped early (terminated, interrupted or failed); the "
                           "rounds below finished and were stored. They are not in the curves and "
                           "AUC tables above, which hold completed runs only."))


@register_section("failures", order=90)
def failures(records: StudyRecords) -> Section | None:
    failed = records.runs[records.runs["status"] == "failed"] if len(records.runs) else records.runs
    if failed.empty:
        return None
    columns = ["run_id", *[a for a in records.axes if a in failed], "error"]
    return Section(title="Failed cells", tables={"failures": failed[columns]},
                   text=_p("Running the study again re-runs these cells."))
