"""``peftal train``: one supervised run on a data fraction or a time budget (no active learning)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.config_options import add_config_options, config_from_args
from peftal.cli.options import HelpFormatter, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    from peftal.experiments.supervised import SupervisedConfig
    from peftal.peft import METHODS

    parser = subparsers.add_parser(
        "train", help="train once on a fraction of the data or for a time budget, then evaluate",
        description="Supervised training of one method on a seeded subset (stratified by class) of "
                    "the training split (--fraction or --num-train) and/or for a wall-clock budget "
                    "(--time-budget), then evaluation on the test split (validation where there is "
                    "no labelled test). Multi-label data (--task multilabel, goemotions) trains a "
                    "sigmoid per label with per-label thresholds. Outputs: summary.json, "
                    "results.sqlite, model/ (and predictions.json for QA). Options may also come "
                    "from a --config YAML file; options given here win.",
        formatter_class=HelpFormatter,
    )
    # Plain types for fraction, num_train, time_budget: SupervisedConfig checks their ranges
    # and reports them on one line.
    add_config_options(parser, SupervisedConfig, example="num_train: 200",
                       positive=("max_eval",), extra={
        "method": {"help_suffix": f"; one of: {', '.join(METHODS.names())}"},
        "time_budget": {"metavar": "SECONDS"},
        "init_adapter": {"metavar": "DIR"},
    })
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/train-<dataset>-<method>-seed<seed>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a completed run in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.experiments.supervised import SupervisedConfig, execute_train

    config = config_from_args(args, SupervisedConfig)
    out = args.out or Path("runs") / default_name("train", config.dataset, config.method, config.seed)
    summary = execute_train(config, out, overwrite=args.overwrite, progress=not args.no_progress)
    budget = "" if summary["time_budget"] is None else f", budget {summary['time_budget']:g} s"
    print(f"{summary['dataset']} · {summary['model']} · {summary['method']} · seed {summary['seed']} · "
          f"{summary['num_train']} training examples · {summary['trainable_params']:,} of "
          f"{summary['total_params']:,} parameters trained")
    print(f"trained {summary['train_seconds']:.1f} s, {summary['epochs_completed']} epoch(s) completed, "
          f"{summary['steps']} steps{budget}"
          + (" (stopped by the budget)" if summary["stopped_by_budget"] else ""))
    if summary.get("converged") is not None:
        print(f"converged: {'yes' if summary['converged'] else 'no'} ({summary['convergence']}; "
              "docs/methods.md, Convergence)")
    if summary.get("split"):
        print(f"split: {summary['split']}")
    print_table(["split", "examples", *summary["metrics"]],
                [[summary["eval_split"], summary["num_eval"], *summary["metrics"].values()]])
    print(f"outputs in {out}/: summary.json, results.sqlite, model/")
    return 0


def default_name(kind: str, dataset: str, method: str, seed: int) -> str:
    """A folder name such as ``train-mrpc-lora-seed0`` (paths and presets made file-name safe)."""
    name = Path(dataset).stem if "/" in dataset else dataset
    safe = lambda s: "".join(c if c.isalnum() or c in "-_" else "_" for c in s).strip("_")  # noqa: E731
    return f"{kind}-{safe(name)}-{safe(method)}-seed{seed}"
