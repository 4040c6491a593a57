"""``peftal analyze``: forgetting events and layer-wise CKA of stored runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from peftal.cli.options import print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze", help="forgetting events and CKA to the base model of stored runs",
        description="Reads every results.sqlite in DIR and below it (a run folder, a study folder or "
                    "a tree of them) and summarises, per run: forgetting events of the labelled "
                    "examples (Toneva et al. 2019) and layer-wise CKA between the pretrained and "
                    "the fine-tuned encoder (Kornblith et al. 2019). Reads records only.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="a run or study output folder")
    parser.add_argument("--json", action="store_true", help="print the full analysis as JSON")
    parser.add_argument("--plots", action="store_true",
                        help="write cka_by_layer.png, cka_by_labels.png (with every-round CKA) and "
                             "forgetting_histogram.png into DIR")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.analysis.records import analyze

    result = analyze(args.dir)
    written = []
    if args.plots:
        from peftal.reports.analysis_figures import write_analysis_figures

        written = write_analysis_figures(result, args.dir)
    if args.json:
        print_json(result)
    else:
        _print_text(result)
        for path in written:
            print(f"wrote {path}")
    return 0


def _who(run: dict[str, Any]) -> list[Any]:
    return [run.get("method"), run.get("strategy"), run.get("seed")]


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
            rows.append([key, *_who(run), final["num_labeled"], final["num_epochs"],
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
                    [[key, *_who(run), run["num_labeled"], run.get("pooling"), run["probe_size"],
                      *["-" if v is None else v for v in run["per_layer"]]]
                     for key, run in cka.items()])
