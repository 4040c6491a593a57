"""The "Claims" section: each claim of the study's spec, our values over seeds and a verdict.

Judged by :func:`peftal.analysis.claims.claims_table` from stored records; shown right after the
overview because it is what a reader of a reproduction looks for first.
"""

from __future__ import annotations

from peftal.analysis.claims import claims_table
from peftal.analysis.study_records import StudyRecords
from peftal.reports.sections import Section, register_section

TEXT = (
    "<p>Each claim of the study's spec, judged on its completed runs. A row pairs every run on the "
    "left with the run of the same config but for the right side's keys (seed by seed), or with a "
    "constant, and tests the differences one-sided at the claim's alpha (default 0.05): "
    "<b>holds</b> when the claimed direction is significant, <b>does not hold</b> when the opposite "
    "is, <b>within noise</b> otherwise. A claim of equality (= … ± m) holds when both one-sided "
    "tests of |difference| &lt; m are significant (TOST). Values are mean ± std over the pairs; "
    "p is the claim's p-value; fewer than 2 pairs are not judged.</p>")


@register_section("claims", order=5)
def claims_section(records: StudyRecords) -> Section | None:
    table = claims_table(records)
    if table.empty:
        return None
    return Section(title="Claims", text=TEXT, tables={"claims": table})
