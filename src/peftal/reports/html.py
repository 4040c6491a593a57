"""``report.html``: one self-contained page (figures embedded as base64 PNG) plus ``tables/*.csv``.

Built from stored records only: :func:`write_report` reads the results store of a study directory
(or a single ``peftal run`` folder), runs every registered section builder and writes the page,
every table as CSV and every figure as PNG beside it.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd

from peftal.analysis.study_records import load_records
from peftal.reports import analysis_sections as _analysis_sections  # noqa: F401  (registers them)
from peftal.reports import claims_section as _claims_section  # noqa: F401  (registers it)
from peftal.reports import sections as _builtin_sections  # noqa: F401  (registers the sections)
from peftal.reports.findings import findings_markdown
from peftal.reports.sections import Section, ordered_sections
from peftal.store.atomic import write_text_atomic

REPORT = "report.html"
TABLES = "tables"
FIGURES = "figures"

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
     color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.8em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}img{max-width:100%}
.note{color:#666;font-size:.85em}
"""


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """Table as shown in the page: ``X_mean``/``X_std`` pairs merged into ``mean ± std``."""
    shown = table.copy()
    for column in [c for c in table.columns if c.endswith("_mean")]:
        stem = column[: -len("_mean")]
        std = f"{stem}_std"
        if std in table.columns:
            merged = [_mean_std(m, s) for m, s in zip(table[column], table[std], strict=True)]
            shown.insert(shown.columns.get_loc(column), stem, merged)
            shown = shown.drop(columns=[column, std])
    for column in shown.columns:
        if shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return shown


def _mean_std(mean: float, std: float) -> str:
    if pd.isna(mean):
        return ""
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "figure"


def _render(section: Section, name: str, figure_dir: Path) -> str:
    parts = [f'<section id="{html.escape(name)}"><h2>{html.escape(section.title)}</h2>',
             section.text]
    for index, (caption, png) in enumerate(section.figures):
        (figure_dir / f"{name}_{index}_{_slug(caption)[:40]}.png").write_bytes(png)
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    for table_name, table in section.tables.items():
        if table_name in section.csv_only:
            parts.append(f'<p class="note">table {html.escape(table_name)}: '
                         f"{TABLES}/{html.escape(table_name)}.csv</p>")
            continue
        parts.append(f'<p class="note">table {html.escape(table_name)} '
                     f"({TABLES}/{html.escape(table_name)}.csv)</p>")
        parts.append(_display(table).to_html(index=False, border=0, na_rep="", escape=True))
    parts.append("</section>")
    return "\n".join(parts)


def write_report(path: str | Path, out: str | Path | None = None, name: str | None = None) -> Path:
    """Write ``report.html``, ``tables/*.csv`` and ``figures/*.png`` into the study or run folder
    ``path`` (or into ``out``, titled ``name``); returns the page's path."""
    path = Path(path)
    records = load_records(path)
    if name is not None:
        records.name = name
    out_dir = Path(out) if out is not None else path
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        table_dir, figure_dir = out_dir / TABLES, out_dir / FIGURES
        table_dir.mkdir(exist_ok=True)
        figure_dir.mkdir(exist_ok=True)
        body = []
        for name, builder in ordered_sections():
            section = builder(records)
            if section is None:
                continue
            for table_name, table in section.tables.items():
                table.to_csv(table_dir / f"{table_name}.csv", index=False)
                if table_name == "claims":  # the same rows for a reader: findings.md
                    write_text_atomic(table_dir / "findings.md", findings_markdown(table, records.name))
            body.append(_render(section, name, figure_dir))
    finally:
        records.close()
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>peftal report · {html.escape(records.name)}</title><style>{_STYLE}</style>"
            f"</head><body><h1>peftal report · {html.escape(records.name)}</h1>\n"
            + "\n".join(body) + "\n</body></html>\n")
    out = out_dir / REPORT
    write_text_atomic(out, page)
    return out
