"""``peftal pretrain``: continued masked-LM pretraining on a task's texts (TAPT) or a corpus (DAPT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.config_options import add_config_options, config_from_args
from peftal.cli.options import HelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    from peftal.experiments.pretrain import PretrainConfig
    from peftal.peft import METHODS

    parser = subparsers.add_parser(
        "pretrain", help="continue masked-LM pretraining on a dataset's texts (TAPT) or a corpus (DAPT)",
        description="Masked-LM training (15%% of tokens masked) of the backbone with one method. "
                    "--method full writes a whole model for later --model DIR; a PEFT method writes "
                    "its adapter weights for later --init-adapter DIR. The packaged MiniLM has no "
                    "MLM head: its head starts from random weights (the output projection is tied "
                    "to the word embeddings). Options may also come from a --config YAML file; "
                    "options given here win.",
        formatter_class=HelpFormatter,
    )
    add_config_options(parser, PretrainConfig, example="epochs: 2", positive=("max_texts",),
                       skip=("pooling",), extra={
        "method": {"help_suffix": f"; one of: {', '.join(METHODS.names())}"},
        "time_budget": {"metavar": "SECONDS"},
    })
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/pretrain-<dataset>-<method>-seed<seed>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a completed run in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.cli.train import default_name
    from peftal.experiments.pretrain import PretrainConfig, execute_pretrain

    config = config_from_args(args, PretrainConfig)
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
