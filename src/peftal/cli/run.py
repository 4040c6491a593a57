"""``peftal run``: one active-learning experiment."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.config_options import add_config_options, config_from_args
from peftal.cli.options import HelpFormatter, positive_int, print_table

# Numeric options argparse checks for > 0 (the others are checked by RunConfig itself).
POSITIVE = ("warm_start", "query_size", "budget", "epochs", "batch_size", "max_length", "pool_subsample",
            "acquisition_every")


def register(subparsers: argparse._SubParsersAction) -> None:
    from peftal.al.int8 import SCORING_PRECISIONS
    from peftal.al.stopping import STOPPING_CRITERIA
    from peftal.al.strategies import STRATEGIES
    from peftal.experiments.active_learning import RunConfig
    from peftal.peft import METHODS

    parser = subparsers.add_parser(
        "run", help="run one active-learning experiment",
        description="Warm start, then train, evaluate and query until the label budget is spent. "
                    "Outputs: summary.json, learning_curve.png, results.sqlite, model/. Options "
                    "may also come from a --config YAML file (the keys of a study cell); options "
                    "given here win over the file.",
        formatter_class=HelpFormatter,
    )
    add_config_options(parser, RunConfig, example="budget: 200", positive=POSITIVE, extra={
        "method": {"help_suffix": f"; one of: {', '.join(METHODS.names())}"},
        "strategy": {"help_suffix": f"; one of: {', '.join(STRATEGIES.names())}"},
        "stop": {"metavar": "CRITERION",
                 "help_suffix": f"; one of: {', '.join(STOPPING_CRITERIA.names())}"},
        "init_adapter": {"metavar": "DIR"},
        "acquisition_method": {"metavar": "PRESET"},
        "acquisition_every": {"metavar": "K"},
        "group_by_length": {"help": "plain shuffled training batches (default: batches of examples "
                                    "of similar length, less padding)"},
        "scoring_precision": {"choices": SCORING_PRECISIONS},
    })
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch threads (default: one per CPU core this process may use)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/<dataset>-<method>-<strategy>-seed<seed>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a completed run in --out")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar on a terminal and no per-round log lines elsewhere")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (rounds, labels, pool, method, trainable parameters) and "
                             "a time estimate from a quick measurement, then exit without writing")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.experiments.active_learning import RunConfig, execute_run
    from peftal.training.precision import set_threads

    set_threads(args.threads)
    config = config_from_args(args, RunConfig)
    if args.dry_run:
        return _dry_run(config)
    out = args.out or Path("runs") / _default_name(config)
    summary = execute_run(config, out, overwrite=args.overwrite, progress=not args.no_progress)
    metric = summary["metric"]
    print(f"{summary['dataset']} · {summary['model']} · {summary['method']} · {summary['strategy']} "
          f"· seed {summary['seed']} · {summary['trainable_params']:,} of "
          f"{summary['total_params']:,} parameters trained")
    print_table(
        ["round", "labels", *summary["rounds"][0]["metrics"], "train s", "query s"],
        [[r["round"], r["num_labeled"], *r["metrics"].values(), r["train_seconds"], r["query_seconds"]]
         for r in summary["rounds"]],
    )
    print(f"AUC ({metric}): {summary['auc']:.4f}")
    if summary.get("stopped_by"):
        print(f"stopped early by {summary['stopped_by']} after round {summary['stopped_at_round']}")
    print(f"outputs in {out}/: summary.json, learning_curve.png, results.sqlite, model/")
    return 0


def _dry_run(config) -> int:
    from peftal.experiments.plan import plan_run
    from peftal.training.progress import format_seconds

    plan = plan_run(config)
    print(f"{plan['dataset']} · {plan['model']} · {plan['method']} · {plan['strategy']} · "
          f"{plan['trainable_params']:,} of {plan['total_params']:,} parameters trained")
    print(f"pool {plan['pool']:,} texts · {plan['classes']} classes · {plan['eval_split']} split "
          f"{plan['test']:,} texts")
    print(f"{plan['rounds']} rounds, labels per round: {', '.join(map(str, plan['labels_per_round']))}")
    print(f"{plan['training_steps']:,} training steps (~{plan['step_seconds']:.2f} s each here) · "
          f"{plan['scored_examples']:,} pool texts scored")
    print(f"estimated time: about {format_seconds(plan['estimate_seconds'])} on this machine "
          "(a quick measurement; data loading and model start-up come on top)")
    print("dry run: nothing was written")
    return 0


def _default_name(config) -> str:
    dataset = Path(config.dataset).stem if "/" in config.dataset else config.dataset
    safe = lambda s: "".join(c if c.isalnum() or c in "-_" else "_" for c in s).strip("_")  # noqa: E731
    return f"{safe(dataset)}-{safe(config.method_preset)}-{safe(config.strategy_preset)}-seed{config.seed}"
