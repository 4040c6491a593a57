"""``peftal strategies``: the registered query strategies."""

from __future__ import annotations

import argparse

from peftal.cli.options import print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("strategies", help="list active-learning query strategies")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.al.strategies import STRATEGIES
    from peftal.al.strategies.base import applies
    from peftal.config import config_to_dict

    tasks = ("classification", "multilabel", "regression")
    rows = [{"name": name, "description": cls.description, "reference": cls.reference,
             "regression": applies(cls, "regression"),
             "tasks": [task for task in tasks if applies(cls, task)],
             "defaults": config_to_dict(cls.Config())}
            for name, cls in STRATEGIES.items()]
    if args.json:
        print_json(rows)
    else:
        print_table(["strategy", "description", "reference"],
                    [[r["name"], r["description"], r["reference"]] for r in rows])
    return 0
