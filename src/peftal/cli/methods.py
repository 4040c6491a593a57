"""``peftal methods``: the registered PEFT methods with their parameter counts."""

from __future__ import annotations

import argparse

from peftal.cli.options import print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("methods", help="list PEFT methods and their parameter counts")
    parser.add_argument("--model", default=None, help="model to count on (default: packaged MiniLM)")
    parser.add_argument("--num-labels", type=int, default=2, help="size of the classification head")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--markdown", action="store_true",
                        help="print the Markdown table of docs/methods.md")
    parser.set_defaults(handler=main)


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
    rows = method_rows(args.model, args.num_labels)
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
