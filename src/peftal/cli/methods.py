"""``peftal methods``: the registered PEFT methods, with their parameter counts on request.

The listing alone comes from :mod:`peftal.method_catalog` and imports no torch (a fraction of a
second); counting parameters builds every method on the model (``--counts``, ``--model``,
``--num-labels``, ``--markdown``: seconds)."""

from __future__ import annotations

import argparse
import sys

from peftal.cli.options import print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("methods", help="list PEFT methods and their parameter counts")
    parser.add_argument("--counts", action="store_true",
                        help="count trainable and total parameters of each method built on the model "
                             "(seconds: imports torch and loads the model)")
    parser.add_argument("--model", default=None,
                        help="model to count on (default: packaged MiniLM; implies --counts)")
    parser.add_argument("--num-labels", type=int, default=None,
                        help="size of the classification head counted (default: 2; implies --counts)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--markdown", action="store_true",
                        help="print the Markdown table of docs/methods.md")
    parser.set_defaults(handler=main)


def listing_rows() -> list[dict]:
    """One row per registered method without parameter counts: from the torch-free catalog, or from
    the registry when it is imported already (a plug-in that registers a method imports it)."""
    if "peftal.peft" not in sys.modules:
        from peftal.method_catalog import BUILT_IN

        return [entry.row() for entry in BUILT_IN]
    from peftal.config import config_to_dict
    from peftal.peft import METHODS

    return [{"name": name, "description": cls.description, "reference": cls.reference, "lr": cls.lr,
             "head_lr": cls.head_lr, "defaults": config_to_dict(cls.Config())}
            for name, cls in METHODS.items()]


def method_rows(model: str | None, num_labels: int) -> list[dict]:
    """One row per registered method: name, description, defaults and exact parameter counts."""
    from peftal.config import config_to_dict
    from peftal.models.backbone import load_backbone
    from peftal.peft import METHODS, build_model, count_parameters, parse_method

    encoder, _ = load_backbone(model)
    rows = []
    for name, cls in METHODS.items():
        trainable, total = count_parameters(build_model(encoder, parse_method(name), num_labels))
        rows.append({"name": name, "trainable_params": trainable, "total_params": total,
                     "description": cls.description, "reference": cls.reference,
                     "lr": cls.lr, "head_lr": cls.head_lr, "defaults": config_to_dict(cls.Config())})
    return rows


def main(args: argparse.Namespace) -> int:
    counts = args.counts or args.markdown or args.model is not None or args.num_labels is not None
    if not counts:
        rows = listing_rows()
        if args.json:
            print_json(rows)
        else:
            print_table(["method", "lr (head lr)", "description"],
                        [[r["name"], f"{_rate(r['lr'])} ({_rate(r['head_lr'])})", r["description"]]
                         for r in rows])
        return 0
    rows = method_rows(args.model, 2 if args.num_labels is None else args.num_labels)
    if args.json:
        print_json(rows)
    elif args.markdown:
        print(markdown_table(rows))
    else:
        print_table(["method", "trainable", "total", "%", "description"],
                    [[r["name"], f"{r['trainable_params']:,}", f"{r['total_params']:,}",
                      f"{100 * r['trainable_params'] / r['total_params']:.2f}", r["description"]]
                     for r in rows])
    return 0


def markdown_table(rows: list[dict]) -> str:
    """The methods table of docs/methods.md, from the registry."""
    lines = ["| name | what | reference | trainable params | default lr (head lr) | preset keys (defaults) |",
             "|---|---|---|---:|---|---|"]
    for r in rows:
        keys = ", ".join(f"`{key}={_value(value)}`" for key, value in r["defaults"].items()) or "none"
        lines.append(f"| `{r['name']}` | {r['description']} | {r['reference']} | "
                     f"{r['trainable_params']:,} ({100 * r['trainable_params'] / r['total_params']:.2f}%) | "
                     f"{_rate(r['lr'])} ({_rate(r['head_lr'])}) | {keys} |")
    return "\n".join(lines)


def _rate(value: float | None) -> str:
    if value is None:  # no gradient steps (the head method's closed-form fit)
        return "—"
    return f"{value:.0e}".replace("e-0", "e-")  # 0.003 -> 3e-3


def _value(value) -> str:
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
