"""``peftal report DIR``: an HTML report and CSV tables from a study's (or a run's) stored records."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write report.html and tables/*.csv for a study or run folder",
        description="Reads the results store in DIR (a `peftal study run` directory or a "
                    "`peftal run` output folder) and writes DIR/report.html (self-contained), "
                    "DIR/tables/*.csv and DIR/figures/*.png. Computes nothing new: it reads "
                    "stored records only.",
    )
    parser.add_argument("dir", type=Path, help="study directory or run folder")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.reports.html import TABLES, write_report

    page = write_report(args.dir)
    tables = sorted(p.name for p in (args.dir / TABLES).glob("*.csv"))
    print(f"wrote {page}")
    print(f"tables in {args.dir / TABLES}/: {', '.join(tables) if tables else '(none)'}")
    return 0
