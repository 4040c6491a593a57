"""``peftal train``: one supervised run on a data fraction or a time budget (no active learning)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.options import positive_int, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    from peftal.experiments.supervised import SupervisedConfig
    from peftal.peft import METHODS

    d = SupervisedConfig()
    parser = subparsers.add_parser(
        "train", help="train once on a fraction of the data or for a time budget, then evaluate",
        description="Supervised training of one method on a seeded, stratified subset of the training "
                    "split (--fraction or --num-train) and/or for a wall-clock budget (--time-budget), "
                    "then evaluation on the test split (validation where there is no labelled test). "
                    "Outputs: summary.json, results.sqlite, model/ (and predictions.json for QA).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default=d.dataset, help="built-in name or path to a file/folder")
    parser.add_argument("--model", default=None,
                        help="HF model id or local path, e.g. a `peftal pretrain --method full` folder "
                             "(default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--method", default=d.method,
                        help=f"PEFT method preset, e.g. lora[r=16]; one of: {', '.join(METHODS.names())}")
    # Plain types: out-of-range values are checked by SupervisedConfig and reported on one line.
    parser.add_argument("--fraction", type=float, default=None,
                        help="train on this share (0, 1] of the training split, seeded and stratified")
    parser.add_argument("--num-train", type=int, default=None,
                        help="or on this many training examples (QA: questions); default: all")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="stop training after this many seconds (checked every step), then evaluate")
    parser.add_argument("--epochs", type=positive_int, default=d.epochs,
                        help="passes over the training subset (an upper limit with --time-budget)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate of the method's parameters (default: the method's own)")
    parser.add_argument("--head-lr", type=float, default=None,
                        help="learning rate of the task head (default: the method's own)")
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    parser.add_argument("--max-length", type=positive_int, default=None,
                        help="tokens per example; longer texts are truncated (default 128; QA: 384, "
                             "with long contexts cut into overlapping windows)")
    parser.add_argument("--pooling", choices=("mean", "cls"), default=d.pooling)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--init-adapter", default=None, metavar="DIR",
                        help="start the method's weights from a `peftal pretrain` adapter folder")
    parser.add_argument("--max-eval", type=positive_int, default=None,
                        help="evaluate on a seeded sample of this many evaluation examples (quick checks)")
    parser.add_argument("--text-column", default=d.text_column)
    parser.add_argument("--text-pair-column", default=None)
    parser.add_argument("--label-column", default=d.label_column)
    parser.add_argument("--task", choices=("classification", "regression", "qa"), default=None,
                        help="task of a local file (default: classification)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/train-<dataset>-<method>-seed<seed>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a completed run in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.experiments.supervised import SupervisedConfig, execute_train

    config = SupervisedConfig(
        dataset=args.dataset, model=args.model, method=args.method, fraction=args.fraction,
        num_train=args.num_train, time_budget=args.time_budget, epochs=args.epochs, lr=args.lr,
        head_lr=args.head_lr, batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
        pooling=args.pooling, init_adapter=args.init_adapter, max_eval=args.max_eval,
        text_column=args.text_column, text_pair_column=args.text_pair_column,
        label_column=args.label_column, task=args.task,
    )
    out = args.out or Path("runs") / default_name("train", config.dataset, config.method, config.seed)
    summary = execute_train(config, out, overwrite=args.overwrite, progress=not args.no_progress)
    budget = "" if summary["time_budget"] is None else f", budget {summary['time_budget']:g} s"
    print(f"{summary['dataset']} · {summary['model']} · {summary['method']} · seed {summary['seed']} · "
          f"{summary['num_train']} training examples · {summary['trainable_params']:,} of "
          f"{summary['total_params']:,} parameters trained")
    print(f"trained {summary['train_seconds']:.1f} s, {summary['epochs_completed']} epoch(s) completed, "
          f"{summary['steps']} steps{budget}"
          + (" (stopped by the budget)" if summary["stopped_by_budget"] else ""))
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
