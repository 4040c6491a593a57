"""``peftal datasets``: the built-in datasets and whether a local copy is found."""

from __future__ import annotations

import argparse

from peftal.cli.options import print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datasets", help="list built-in datasets")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.data import DATASETS
    from peftal.data.loading import local_folder

    rows = [{"name": name, "task": spec.task, "num_labels": spec.num_labels,
             "metrics": list(spec.metrics), "available_locally": local_folder(name) is not None,
             "hub_id": spec.hub_id, "description": spec.description, "text_pair": spec.text_pair,
             "labels": list(spec.labels) if spec.labels else None}
            for name, spec in DATASETS.items()]
    if args.json:
        print_json(rows)
    else:
        print_table(["dataset", "task", "labels", "metrics", "local", "hub id"],
                    [[r["name"], r["task"], r["num_labels"], ",".join(r["metrics"]),
                      "yes" if r["available_locally"] else "no", r["hub_id"]] for r in rows])
    return 0
