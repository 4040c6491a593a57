"""``peftal analyze``: forgetting events and layer-wise CKA of stored runs."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from peftal.cli.options import HelpFormatter, add_folder_arguments, print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze", help="forgetting events and CKA to the base model of stored runs",
        description="Reads the results stores of the given folders (run folders, study folders, or "
                    "folders above them; several are compared, each run named by its folder or "
                    "--name) and summarises, per run: forgetting events of the labelled "
                    "examples (Toneva et al. 2019) and layer-wise CKA between the pretrained and "
                    "the fine-tuned encoder (Kornblith et al. 2019). Reads records only.",
        formatter_class=HelpFormatter,
    )
    add_folder_arguments(parser, "run or study output folders, or folders above them",
                         "where --plots go (default: the folder itself, or the folders' common parent)")
    parser.add_argument("--json", action="store_true", help="print the full analysis as JSON")
    parser.add_argument("--plots", action="store_true",
                        help="write cka_by_layer.png, cka_by_labels.png (with every-round CKA) and "
                             "forgetting_histogram.png into the folder (see --out)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    result, out = _analyze(args)
    written = []
    if args.plots:
        from peftal.reports.analysis_figures import write_analysis_figures

        written = write_analysis_figures(result, out)
    if args.json:
        print_json(result)
    else:
        _print_text(result)
        for path in written:
            print(f"wrote {path}")
    return 0


def _analyze(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """One folder: its runs as stored; several (or --name): gathered and named by folder."""
    import tempfile

    from peftal.analysis.collect import collect_runs, common_parent, merge_runs
    from peftal.analysis.records import analyze

    if len(args.dirs) == 1 and not args.name:
        return analyze(args.dirs[0]), args.out or args.dirs[0]
    runs = collect_runs(args.dirs, args.name)
    with tempfile.TemporaryDirectory(prefix="peftal-analyze-") as folder:
        merge_runs(runs, Path(folder))
        return analyze(folder), args.out or common_parent(args.dirs)


def _who(run: dict[str, Any]) -> list[Any]:
    return [run.get("method"), run.get("strategy"), run.get("seed")]


def _name(key: str, run: dict[str, Any]) -> str:
    """The run's key, flagged when it has not completed (its last round may be missing)."""
    return key if run.get("status") == "completed" else f"{key} ({run.get('status')})"


def _print_text(result: dict[str, Any]) -> None:
    forgetting, cka = result["forgetting"], result["cka"]
    if not forgetting and not cka:
        print("no run in this folder recorded per-epoch correctness or CKA")
        return
    if forgetting:
        print("Forgetting events of the labelled examples, last round "
              "(forgettable: >= 1 event; unforgettable: learned, 0 events)")
        rows = []
        for key, run in forgetting.items():
            final = run["final"]
            rows.append([_name(key, run), *_who(run), final["num_labeled"], final["num_epochs"],
                         final["forgettable"], final["unforgettable"], final["never_learned"],
                         final["mean_events"],
                         " ".join(f"{s}:{v['forgettable']}/{v['num_examples']}"
                                  for s, v in final["by_source"].items())])
        print_table(["run", "method", "strategy", "seed", "labels", "epochs", "forgettable",
                     "unforgettable", "never learned", "mean events", "forgettable by source"], rows)
    if cka:
        if forgetting:
            print()
        depth = max(len(run["per_layer"]) for run in cka.values())
        print("Linear CKA between the pretrained and the fine-tuned encoder, per layer (L0 = "
              "embedding output; - = constant over the probe, undefined)")
        print_table(["run", "method", "strategy", "seed", "labels", "pooling", "probe",
                     *[f"L{i}" for i in range(depth)]],
                    [[_name(key, run), *_who(run), run["num_labeled"], run.get("pooling"), run["probe_size"],
                      *["-" if v is None else v for v in run["per_layer"]]]
                     for key, run in cka.items()])
    _print_groups(result)


def _mean_std(pair: tuple[float, float] | None, percent: bool = False) -> str:
    if pair is None or math.isnan(pair[0]):
        return "-"
    if percent:
        return f"{100 * pair[0]:.1f}±{100 * pair[1]:.1f}"
    return f"{pair[0]:.3f}±{pair[1]:.3f}"


def _print_groups(result: dict[str, Any]) -> None:
    """Mean ± std over the runs of each method (and dataset/strategy where they vary)."""
    from peftal.analysis.records import group_summary

    rows = group_summary(result)
    if all(max(row.get("runs", 0), row.get("cka_runs", 0)) < 2 for row in rows):
        return
    depth = max((len(row.get("per_layer", [])) for row in rows), default=0)
    fields = ("forgettable", "unforgettable", "never_learned")
    print()
    print("By group, mean ± std over runs (forgetting: % of the last round's labelled examples)")
    print_table(["group", "runs", "forgettable %", "unforgettable %", "never learned %",
                 *[f"CKA L{i}" for i in range(depth)]],
                [[row["group"], row.get("runs", row.get("cka_runs")),
                  *[_mean_std(row.get(f"{field}_share"), percent=True) for field in fields],
                  *[_mean_std(pair) for pair in row.get("per_layer", [None] * depth)]]
                 for row in rows])
