"""``tables/findings.md``: the claims table as a reader of a reproduction wants it — each finding
quoted once, then per group the check (written again wherever it changes within a finding: a check
over several methods expands into one comparison per method), our numbers, the paper's, the
Holm-corrected p and the verdict.

Written beside ``claims.csv`` by :func:`peftal.reports.html.write_report`, in Markdown so that it can
be pasted into a paper's notes or a repository's docs as it is (docs/reproduction.md takes its
tables from these files).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

HEADER = ("#", "finding (quoted)", "check", "group", "ours", "paper", "p (Holm)", "verdict")


def findings_markdown(claims: pd.DataFrame, title: str) -> str:
    """The Markdown page of a claims table (:func:`peftal.claims.judge.claims_frame`'s columns)."""
    lines = [f"# Findings · {title}", "",
             "Each finding as the study's spec quotes it, the check that tests it, our value over "
             "seeds (left side, then the right side or the number it is compared with), the paper's "
             "number where the spec cites one, p Holm-corrected over the table, and the verdict "
             "(docs/studies.md, \"Claims\"). Withheld rows rest on a cell that did not converge or "
             "ends at chance.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    shown: set[Any] = set()
    previous_comparison = None
    for row in claims.to_dict("records"):
        first = row["claim"] not in shown
        shown.add(row["claim"])
        new_comparison = first or row["comparison"] != previous_comparison
        previous_comparison = row["comparison"]
        says = _text(row.get("says"))
        lines.append("| " + " | ".join(_cell(value) for value in (
            row["claim"] if first else "",
            f"“{says}”" if first and says else "",
            f"`{row['comparison']}`" if new_comparison else "",
            _text(row.get("group")),
            _ours(row),
            _paper(row),
            _number(row.get("p_holm")),
            _text(row.get("verdict")),
        )) + " |")
    return "\n".join(lines) + "\n"


def _ours(row: dict[str, Any]) -> str:
    left = _spread(row.get("left_mean"), row.get("left_std"))
    if not left:
        return ""
    right = _spread(row.get("right_mean"), row.get("right_std"))
    return f"{left} vs {right}" if right else left


def _paper(row: dict[str, Any]) -> str:
    value, source = _text(row.get("paper_value")), _text(row.get("paper_source"))
    return f"{value} ({source})" if value and source else value


def _spread(mean: Any, std: Any) -> str:
    if _missing(mean):
        return ""
    return f"{mean:.3f}" if _missing(std) else f"{mean:.3f} ± {std:.3f}"


def _number(value: Any) -> str:
    return "" if _missing(value) else f"{value:.3g}"


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(value: Any) -> str:
    """A table cell: Markdown's column separator and line breaks escaped."""
    return str(value).replace("|", "\\|").replace("\n", " ")
