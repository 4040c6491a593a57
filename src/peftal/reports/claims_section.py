"""The "Claims" section: each claim of the study's spec, our values over seeds, the paper's, a verdict.

Judged by :func:`peftal.analysis.claims.claims_table` (statistics in :mod:`peftal.claims`) from
stored records; shown right after the overview because it is what a reader of a reproduction looks
for first.
"""

from __future__ import annotations

from peftal.analysis.claims import claims_table
from peftal.analysis.study_records import StudyRecords
from peftal.claims.judge import METHOD_TEXT
from peftal.reports.sections import Section, register_section


@register_section("claims", order=5)
def claims_section(records: StudyRecords) -> Section | None:
    table = claims_table(records)
    if table.empty:
        return None
    return Section(title="Claims", text=METHOD_TEXT, tables={"claims": table})
