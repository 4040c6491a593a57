"""Choose each method's default learning rates on VALIDATION data (never the test split).

Carves a seeded validation set out of the training split of a dataset (TREC has no validation
split), trains on seeded random labelled sets of the AL sizes of interest drawn from the rest, and
prints validation accuracy per (method, lr, head_lr). The defaults in peftal/peft/*.py come from it.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/tune_defaults.py --methods lora full \
        --sizes 100 200 --seeds 0 1 --json tuning.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch

from peftal.data import load_task
from peftal.data.encoding import encode
from peftal.models.backbone import load_backbone
from peftal.peft import METHODS, build_model, parse_method
from peftal.training import TrainConfig, predict, train

GRIDS = {
    "lora": {"lr": [3e-4, 1e-3, 3e-3], "head_lr": [1e-3, 3e-3]},
    "full": {"lr": [3e-5, 1e-4, 3e-4], "head_lr": [1e-3]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="trec")
    parser.add_argument("--methods", nargs="+", default=["lora", "full"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 200])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--validation-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--json", default=None, help="append one JSON line per setting here")
    parser.add_argument("--lrs", nargs="+", type=float, default=None,
                        help="learning rates to try (default: the method's grid, else its default)")
    parser.add_argument("--head-lrs", nargs="+", type=float, default=None,
                        help="head learning rates to try (default: the method's grid, else its default)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    task = load_task(args.dataset)
    encoder, tokenizer = load_backbone(None)
    pool = encode(tokenizer, task.train, args.max_length)
    rng = np.random.default_rng(12345)
    order = rng.permutation(len(task.train))
    validation, rest = order[: args.validation_size], order[args.validation_size :]
    for method in args.methods:
        defaults = {"lr": [METHODS.get(method).lr], "head_lr": [METHODS.get(method).head_lr]}
        grid = dict(GRIDS.get(method, defaults))
        grid["lr"] = args.lrs or grid["lr"]
        grid["head_lr"] = args.head_lrs or grid["head_lr"]
        for lr, head_lr in itertools.product(grid["lr"], grid["head_lr"]):
            scores = {}
            start = time.perf_counter()
            for size, seed in itertools.product(args.sizes, args.seeds):
                labeled = np.random.default_rng(seed).choice(rest, size=size, replace=False)
                model = build_model(encoder, parse_method(method), task.num_labels, seed=seed)
                torch.manual_seed(seed)
                train(model, pool, labeled, task.train.labels[labeled],
                      TrainConfig(epochs=args.epochs, lr=lr, head_lr=head_lr), task=task.task,
                      rng=np.random.default_rng(seed))
                accuracy = float((predict(model, pool, validation).argmax(1)
                                  == task.train.labels[validation]).mean())
                scores.setdefault(size, []).append(accuracy)
            row = {"dataset": args.dataset, "method": method, "lr": lr, "head_lr": head_lr,
                   "epochs": args.epochs,
                   **{f"val_acc@{size}": round(float(np.mean(v)), 4) for size, v in scores.items()},
                   "seconds": round(time.perf_counter() - start, 1)}
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a") as handle:
                    handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
