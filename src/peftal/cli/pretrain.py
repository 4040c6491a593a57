"""``peftal pretrain``: continued masked-LM pretraining on a task's texts (TAPT) or a corpus (DAPT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.options import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    from peftal.experiments.pretrain import PretrainConfig
    from peftal.peft import METHODS

    d = PretrainConfig()
    parser = subparsers.add_parser(
        "pretrain", help="continue masked-LM pretraining on a dataset's texts (TAPT) or a corpus (DAPT)",
        description="Masked-LM training (15%% of tokens masked) of the backbone with one method. "
                    "--method full writes a whole model for later --model DIR; a PEFT method writes "
                    "its adapter weights for later --init-adapter DIR. The packaged MiniLM has no "
                    "MLM head: its head starts from random weights (the output projection is tied "
                    "to the word embeddings).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default=d.dataset,
                        help="built-in name (its training texts), a .txt file (one document per line), "
                             "or a CSV/TSV/JSONL/Parquet file or folder")
    parser.add_argument("--model", default=None, help="model to continue from (default: packaged MiniLM)")
    parser.add_argument("--method", default=d.method,
                        help=f"full or a PEFT method preset; one of: {', '.join(METHODS.names())}")
    parser.add_argument("--epochs", type=positive_int, default=d.epochs)
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate of the method's parameters (default: the method's own)")
    parser.add_argument("--head-lr", type=float, default=None,
                        help="learning rate of the MLM head (default: the method's head default)")
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    parser.add_argument("--max-length", type=positive_int, default=d.max_length,
                        help="tokens per sequence; longer texts are cut into several sequences")
    parser.add_argument("--mlm-probability", type=float, default=d.mlm_probability)
    parser.add_argument("--max-texts", type=positive_int, default=None,
                        help="pretrain on a seeded sample of this many texts")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="stop after this many seconds (checked every step)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--text-column", default=d.text_column)
    parser.add_argument("--text-pair-column", default=None)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/pretrain-<dataset>-<method>-seed<seed>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a completed run in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.cli.train import default_name
    from peftal.experiments.pretrain import PretrainConfig, execute_pretrain

    config = PretrainConfig(
        dataset=args.dataset, model=args.model, method=args.method, epochs=args.epochs, lr=args.lr,
        head_lr=args.head_lr, batch_size=args.batch_size, max_length=args.max_length,
        mlm_probability=args.mlm_probability, seed=args.seed, max_texts=args.max_texts,
        time_budget=args.time_budget, text_column=args.text_column,
        text_pair_column=args.text_pair_column,
    )
    out = args.out or Path("runs") / default_name("pretrain", config.dataset, config.method, config.seed)
    summary = execute_pretrain(config, out, overwrite=args.overwrite, progress=not args.no_progress)
    if summary["mlm_head_from_scratch"]:
        print(f"note: {summary['model']} has no pretrained MLM head; these head weights started from "
              f"random values: {', '.join(summary['mlm_head_from_scratch'])} (the output projection "
              "is tied to the word embeddings)")
    losses = ", ".join(f"{loss:.3f}" for loss in summary["losses"])
    print(f"{summary['kind']} · {summary['corpus']} · {summary['model']} · {summary['method']} · "
          f"{summary['num_texts']} texts, {summary['num_sequences']} sequences · "
          f"{summary['trainable_params']:,} of {summary['total_params']:,} parameters trained")
    print(f"trained {summary['train_seconds']:.1f} s, {summary['epochs_completed']} epoch(s); "
          f"MLM loss per epoch: {losses or '-'}")
    print(f"use it with: {summary['use_with']}")
    return 0
