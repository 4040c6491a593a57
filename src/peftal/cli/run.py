"""``peftal run``: one active-learning experiment."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.options import HelpFormatter, positive_float, positive_int, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    from peftal.al.loop import RunConfig
    from peftal.al.stopping import STOPPING_CRITERIA
    from peftal.al.strategies import STRATEGIES
    from peftal.peft import METHODS

    d = RunConfig()
    parser = subparsers.add_parser(
        "run", help="run one active-learning experiment",
        description="Warm start, then train, evaluate and query until the label budget is spent. "
                    "Outputs: summary.json, learning_curve.png, results.sqlite, model/.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--dataset", default=d.dataset, help="built-in name or path to a file/folder")
    parser.add_argument("--model", default=None,
                        help="HF model id or local path (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--method", default=d.method,
                        help=f"PEFT method preset, e.g. lora[r=16]; one of: {', '.join(METHODS.names())}")
    parser.add_argument("--strategy", default=d.strategy,
                        help=f"query strategy; one of: {', '.join(STRATEGIES.names())}")
    parser.add_argument("--warm-start", type=positive_int, default=d.warm_start,
                        help="labels drawn at random before the first round")
    parser.add_argument("--query-size", type=positive_int, default=d.query_size,
                        help="labels the strategy picks per round")
    parser.add_argument("--budget", type=positive_int, default=d.budget,
                        help="total labels, warm start included")
    parser.add_argument("--epochs", type=positive_int, default=d.epochs, help="training epochs per round")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="learning rate of the method's parameters (default: the method's own)")
    parser.add_argument("--head-lr", type=positive_float, default=None,
                        help="learning rate of the task head (default: the method's own)")
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size,
                        help="training batch size")
    parser.add_argument("--max-length", type=positive_int, default=d.max_length,
                        help="texts are truncated to this many tokens")
    parser.add_argument("--pooling", choices=("mean", "cls"), default=d.pooling,
                        help="how the head reads the last layer: mean of the tokens or the first token")
    parser.add_argument("--pool-subsample", type=positive_int, default=None,
                        help="score only this many random unlabelled examples per round "
                             "(default: the whole pool)")
    parser.add_argument("--cka-probe-size", type=int, default=d.cka_probe_size,
                        help="test examples for the layer-wise CKA between the pretrained and the "
                             "final encoder (0 = no CKA); see `peftal analyze`")
    parser.add_argument("--cka-every-round", action="store_true",
                        help="measure CKA after every round, not only the last")
    parser.add_argument("--stratified-warm-start", action="store_true",
                        help="draw a class-balanced warm start")
    parser.add_argument("--warm-restart", action="store_true",
                        help="continue each round from the previous round's model instead of "
                             "retraining from the pretrained weights")
    parser.add_argument("--stop", action="append", default=None, metavar="CRITERION",
                        help="end the run early when this stopping criterion fires (repeatable), "
                             "e.g. kappa_average or max_rounds[rounds=3]; one of: "
                             f"{', '.join(STOPPING_CRITERIA.names())}")
    parser.add_argument("--acquisition-method", default=None, metavar="PRESET",
                        help="query with a model of this method every round (e.g. head: a linear probe "
                             "on frozen embeddings, seconds a round) and train --method only in the last "
                             "round and every --acquisition-every rounds (default: query with --method)")
    parser.add_argument("--acquisition-every", type=positive_int, default=None, metavar="K",
                        help="with --acquisition-method, also train --method every K rounds")
    parser.add_argument("--seed", type=int, default=d.seed,
                        help="seed of every random choice (warm start, batches, initialisation)")
    parser.add_argument("--precision", default=d.precision,
                        help="auto, fp32 or bf16 (autocast of training and inference); auto = bf16 where the "
                             "CPU (AMX/AVX512-BF16) or GPU has bf16 matmul units, else fp32")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch threads (default: one per CPU core this process may use)")
    parser.add_argument("--device", default=d.device,
                        help="auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda or cuda:N")
    parser.add_argument("--no-group-by-length", dest="group_by_length", action="store_false",
                        help="plain shuffled training batches (default: batches of examples of similar "
                             "length, less padding)")
    add_file_options(parser, d)
    parser.add_argument("--task", choices=("classification", "regression"), default=None,
                        help="task of a local file (default: classification)")
    parser.add_argument("--init-adapter", default=None, metavar="DIR",
                        help="start the method's weights from a `peftal pretrain` adapter folder")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/<dataset>-<method>-<strategy>-seed<seed>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a completed run in --out")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar on a terminal and no per-round log lines elsewhere")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (rounds, labels, pool, method, trainable parameters) and "
                             "a time estimate from a quick measurement, then exit without writing")
    parser.set_defaults(handler=main)


def add_file_options(parser: argparse.ArgumentParser, d) -> None:
    """Options that say how to read a user's CSV/TSV/JSONL/Parquet file or folder."""
    parser.add_argument("--text-column", default=d.text_column,
                        help="column holding the text: a name, or a 0-based position with --no-header")
    parser.add_argument("--text-pair-column", default=None,
                        help="column holding the second text of sentence pairs (default: none)")
    parser.add_argument("--label-column", default=d.label_column,
                        help="column holding the label: a name, or a 0-based position with --no-header")
    parser.add_argument("--no-header", action="store_true",
                        help="CSV/TSV files have no header row (default: the first row names the "
                             "columns); give columns as 0-based positions, e.g. --text-column 1 "
                             "--label-column 2 for id,text,label rows")
    parser.add_argument("--unlabeled-value", action="append", default=None, metavar="VALUE",
                        dest="unlabeled_values",
                        help="a label value that means 'no label' (repeatable), besides an empty label "
                             "and -1 in an otherwise non-negative integer column; such rows are not a "
                             "class and are left out of a simulated run")
    parser.add_argument("--min-class-count", type=int, default=0, metavar="N",
                        help="drop classes with fewer than N training examples (default: keep all; "
                             "classes with 1-2 examples get a warning)")


def main(args: argparse.Namespace) -> int:
    from peftal.al.loop import RunConfig
    from peftal.experiments.single import execute_run
    from peftal.training.precision import set_threads

    set_threads(args.threads)
    config = RunConfig(
        dataset=args.dataset, model=args.model, method=args.method, strategy=args.strategy,
        warm_start=args.warm_start, query_size=args.query_size, budget=args.budget,
        epochs=args.epochs, lr=args.lr, head_lr=args.head_lr, batch_size=args.batch_size,
        max_length=args.max_length, seed=args.seed, pooling=args.pooling,
        pool_subsample=args.pool_subsample, cka_probe_size=args.cka_probe_size,
        cka_every_round=args.cka_every_round, stratified_warm_start=args.stratified_warm_start,
        warm_restart=args.warm_restart, stop=tuple(args.stop or ()), text_column=args.text_column,
        text_pair_column=args.text_pair_column, label_column=args.label_column, task=args.task,
        no_header=args.no_header, unlabeled_values=tuple(args.unlabeled_values or ()),
        min_class_count=args.min_class_count, init_adapter=args.init_adapter,
        precision=args.precision, group_by_length=args.group_by_length,
        device=args.device, acquisition_method=args.acquisition_method,
        acquisition_every=args.acquisition_every,
    )
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
    from peftal.al.plan import plan_run
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
    from pathlib import Path as _Path

    dataset = _Path(config.dataset).stem if "/" in config.dataset else config.dataset
    safe = lambda s: "".join(c if c.isalnum() or c in "-_" else "_" for c in s).strip("_")  # noqa: E731
    return f"{safe(dataset)}-{safe(config.method)}-{safe(config.strategy)}-seed{config.seed}"
