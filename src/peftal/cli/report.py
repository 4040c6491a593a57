"""``peftal report RUN_OR_STUDY...``: an HTML report and CSV tables from stored records."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from peftal.cli.options import HelpFormatter, add_folder_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write report.html and tables/*.csv for studies and runs",
        description="Reads the results stores of the given folders (`peftal study run` directories, "
                    "`peftal run` output folders, or a folder above them) and writes report.html "
                    "(self-contained), tables/*.csv and figures/*.png. One folder holding a store "
                    "gets its report inside it; several folders, or a parent folder, are compared "
                    "in one report, each run named by its folder (or --name). Computes nothing new: "
                    "it reads stored records only.",
        formatter_class=HelpFormatter,
    )
    add_folder_arguments(parser, "study directories, run folders, or folders above them",
                         "where to write (default: the folder itself, or the folders' common parent)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.analysis.collect import collect_runs, common_parent, merge_runs
    from peftal.reports.html import TABLES, write_report
    from peftal.store.results import STORE_NAME

    if len(args.dirs) == 1 and not args.name and (args.dirs[0] / STORE_NAME).is_file():
        out = args.out or args.dirs[0]
        page = write_report(args.dirs[0], out=out)
    else:
        runs = collect_runs(args.dirs, args.name)
        out = args.out or common_parent(args.dirs)
        with tempfile.TemporaryDirectory(prefix="peftal-report-") as folder:
            merge_runs(runs, Path(folder))
            page = write_report(folder, out=out, name=", ".join(p.resolve().name for p in args.dirs))
        print(f"runs: {', '.join(run[2] for run in runs)}")
    tables = sorted(p.name for p in (out / TABLES).glob("*.csv"))
    _print_claims(out / TABLES / "claims.csv")
    print(f"wrote {page}")
    print(f"tables in {out / TABLES}/: {', '.join(tables) if tables else '(none)'}")
    return 0


def _print_claims(path: Path) -> None:
    """The Claims table as text: claim, group, comparison, our values and the paper's, p (raw and
    Holm-corrected), verdict, test."""
    import pandas as pd

    from peftal.cli.options import print_table

    if not path.is_file():
        return
    table = pd.read_csv(path)

    def spread(row: pd.Series, stem: str) -> str:
        mean, std = row.get(f"{stem}_mean"), row.get(f"{stem}_std")
        if mean is None or pd.isna(mean):
            return ""
        return f"{mean:.3f}" if std is None or pd.isna(std) else f"{mean:.3f} ± {std:.3f}"

    def text(value: object) -> str:
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)

    def p(row: pd.Series, name: str) -> str:
        value = row.get(name)
        return "" if value is None or pd.isna(value) else f"{value:.3g}"

    print("Claims")
    print_table(["#", "group", "comparison", "left", "paper", "right", "left - right", "p", "p_holm",
                 "verdict", "test"],
                [[row["claim"], text(row["group"]), row["comparison"], spread(row, "left"),
                  text(row.get("paper_value")), spread(row, "right"), spread(row, "diff"),
                  p(row, "p"), p(row, "p_holm"), row["verdict"], text(row["test"])]
                 for _, row in table.iterrows()])
