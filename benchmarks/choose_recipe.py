"""Choose the default training recipe on VALIDATION data of many datasets (never a test split).

For each dataset: its validation split where it has one, else a seeded slice carved from its
training split (never the test split); labelled sets of each size drawn (seeded, uniformly) from
the rest of the training split; every recipe trains on the same labelled ids and is scored on the
same validation examples. Prints, per recipe, the mean validation score (accuracy; Pearson's r for
a regression dataset such as stsb) per size and the mean
rank over the (dataset, size, seed) cells — the recipe with the best mean rank is the candidate
default, not the one with the best number on any single dataset.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/choose_recipe.py --threads 1 \
        --json recipes.jsonl            # appends one line per cell; a rerun skips stored cells
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

from peftal.al.rounds import fit_round
from peftal.data import load_task
from peftal.data.dataset import Split
from peftal.data.encoding import encode
from peftal.models.backbone import load_backbone
from peftal.peft import parse_method
from peftal.training import TrainConfig, predict

# name -> (method preset, TrainConfig changes from the method's defaults)
RECIPES = {
    "lora": ("lora", {}),
    "lora+steps": ("lora", {"min_steps": 200}),
    "lora+lpft": ("lora", {"linear_probe_init": True}),
    "lora+lpft+steps": ("lora", {"linear_probe_init": True, "min_steps": 200}),
    "head": ("head", {}),
    # the head learns 10x faster than the LoRA weights (as DoRA's default)
    "lora+hlr": ("lora", {"head_lr": 1e-2}),
    "lora+hlr+steps": ("lora", {"head_lr": 1e-2, "min_steps": 200}),
    "setfit": ("setfit[max_pairs=500]", {}),
    # other methods as the default, each with its own learning rates (docs/methods.md)
    "bitfit": ("bitfit", {}),
    "ia3": ("ia3", {}),
}


# the TrainConfig fields a grid point may set, with how its value is read (and the head's pooling)
GRID_KEYS = {"pooling": str, "lr": float, "head_lr": float, "min_steps": int, "warmup_ratio": float,
             "linear_probe_init": lambda value: value not in ("0", "false")}


def grid_recipe(name: str) -> tuple[str, dict]:
    """A recipe named ``METHOD@lr=X,head_lr=Y,min_steps=Z`` (any of the keys; missing ones keep the
    method's own; ``linear_probe_init=1`` starts from a linear-probe head, LP-FT; ``pooling=cls``
    reads the first token instead of the mean): a point of a per-method recipe grid (issue: recipes
    that converge per method)."""
    method, _, settings = name.partition("@")
    changes: dict = {}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        if key not in GRID_KEYS:
            raise SystemExit(f"choose_recipe.py: error: unknown recipe key {key!r} in {name!r}")
        changes[key] = GRID_KEYS[key](value)
    return method, changes


def recipe(name: str) -> tuple[str, dict]:
    """``(method preset, TrainConfig changes)`` of a named recipe or a grid point."""
    return RECIPES[name] if name in RECIPES else grid_recipe(name)


# short and long texts, 2 to 13 classes, single texts and pairs, general and domain data
DATASETS = ("trec", "sst2", "ag_news", "subj", "mrpc", "rte", "chemprot", "sciie", "acl_arc",
            "hyperpartisan")


def _splits(task, seed: int, max_validation: int, carve: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """``(validation ids, the rest of the pool, where validation came from)`` as positions of one
    stacked pool (training split first, then the dataset's validation split, if any). ``carve``:
    carve from the training split even where a validation split exists (GLUE's validation split
    is the studies' evaluation split: a recipe for them must not be chosen on it)."""
    rng = np.random.default_rng([seed, 12345])
    n_train = len(task.train)
    if not carve and task.validation is not None and len(task.validation) >= 100:
        validation = n_train + np.arange(len(task.validation))
        rest, source = np.arange(n_train), "validation split"
    else:
        order = rng.permutation(n_train)
        carve = min(max_validation, n_train // 3)  # a small pool keeps two thirds to label
        validation, rest, source = order[:carve], order[carve:], "carved from train"
    if len(validation) > max_validation:
        validation = np.sort(rng.choice(validation, size=max_validation, replace=False))
    return validation, rest, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--recipes", nargs="+", metavar="RECIPE",
                        help=f"names from {sorted(RECIPES)} or grid points METHOD@lr=X,min_steps=N",
                        default=["lora", "lora+steps", "lora+lpft", "lora+lpft+steps", "head"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 200])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--max-validation", type=int, default=500)
    parser.add_argument("--carve-validation", action="store_true",
                        help="carve the validation slice from the training split even where the "
                             "dataset has a validation split (use for a study's evaluation split)")
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per cell here")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="training and scoring precision (bf16: what auto picks on an AMX CPU)")
    parser.add_argument("--markdown", action="store_true", help="also print per-dataset tables")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    done = {(r["dataset"], r["size"], r["seed"], r["recipe"]) for r in _stored_rows(args.json, args.epochs)}
    encoder, tokenizer = load_backbone(None)
    for dataset in args.datasets:
        task = load_task(dataset)
        splits = [task.train] + ([task.validation] if task.validation is not None else [])
        texts = [t for split in splits for t in split.texts]
        pairs = [t for split in splits for t in split.text_pairs] if task.is_pair else None
        labels = np.concatenate([split.labels for split in splits])
        for seed in args.seeds:
            validation, rest, source = _splits(task, seed, args.max_validation, args.carve_validation)
            chosen = {size: np.sort(np.random.default_rng([seed, size]).choice(rest, size=size,
                                                                                replace=False))
                      for size in args.sizes}
            # only the examples this seed uses are encoded (sst2's pool has 67k texts)
            needed = np.unique(np.concatenate([validation, *chosen.values()]))
            pool = encode(tokenizer, Split([texts[i] for i in needed], labels[needed],
                                           [pairs[i] for i in needed] if pairs else None),
                          args.max_length)
            for size, name in itertools.product(args.sizes, args.recipes):
                if (dataset, size, seed, name) in done:
                    continue
                row = _cell(name, encoder, pool, labels[needed], np.searchsorted(needed, chosen[size]),
                            np.searchsorted(needed, validation),
                            task, args, seed)
                row.update(dataset=dataset, size=size, seed=seed, validation=source,
                           num_validation=len(validation), classes=task.num_labels,
                           epochs=args.epochs, max_length=args.max_length)
                print(json.dumps(row), flush=True)
                if args.json is not None:
                    with args.json.open("a") as handle:
                        handle.write(json.dumps(row) + "\n")
    if args.json is not None:
        rows = _stored_rows(args.json, args.epochs)
        chosen = [row for row in rows if row["recipe"] in args.recipes]
        # grid points compete within their method: one recipe is chosen per method
        for method in dict.fromkeys(recipe(name)[0] for name in args.recipes):
            print(f"\n== {method}")
            summarise([row for row in chosen if recipe(row["recipe"])[0] == method])
        if args.markdown:
            markdown(chosen)


def _stored_rows(path: Path | None, epochs: int) -> list[dict]:
    """The rows of a ``--json`` file trained at ``epochs`` epochs (rows written before ``epochs``
    was recorded count for any)."""
    if path is None or not path.exists():
        return []
    return [row for row in map(json.loads, path.read_text().splitlines())
            if row and row.get("epochs", epochs) == epochs]


def _cell(name, encoder, pool, labels, labeled, validation, task, args, seed) -> dict:
    preset, changes = recipe(name)
    pooling = changes.pop("pooling", "mean")  # a model option, not a TrainConfig field
    spec = parse_method(preset)
    config = dataclasses.replace(TrainConfig(epochs=args.epochs, lr=spec.method.lr,
                                             head_lr=spec.method.head_lr, precision=args.precision),
                                 **changes)
    inputs = spec.method.inputs(encoder, pool)
    start = time.perf_counter()
    model, result = fit_round(spec, encoder, inputs, labeled, labels[labeled], config,
                              task=task.task, num_outputs=task.num_labels, pooling=pooling, seed=seed,
                              device=torch.device("cpu"))
    outputs = predict(model, inputs, validation, precision=args.precision)
    if task.task == "regression":  # STS-B: Pearson's r is the score recipes are ranked by
        guess, gold = outputs[:, 0], labels[validation].astype(np.float64)
        scores = {"pearson": round(float(pearsonr(gold, guess).statistic), 4) if np.std(guess) else 0.0,
                  "spearman": round(float(spearmanr(gold, guess).statistic), 4) if np.std(guess) else 0.0}
        scores["score"] = scores["pearson"]
    else:
        guess, gold = outputs.argmax(1), labels[validation]
        scores = {"accuracy": round(float((guess == gold).mean()), 4),
                  "f1_macro": round(float(f1_score(gold, guess, average="macro")), 4),
                  "mcc": round(float(matthews_corrcoef(gold, guess)), 4)}
        scores["score"] = scores["accuracy"]
    return {"recipe": name, **scores, **({"precision": args.precision} if args.precision != "fp32" else {}),
            "converged": result.converged,
            "steps": result.steps, "seconds": round(time.perf_counter() - start, 1),
            # the last epoch's training loss and accuracy on its own labelled set: did it converge?
            "train_loss": round(float(result.epochs[-1]["loss"]), 4) if result.epochs else None,
            # (none for regression: JSON has no NaN)
            "train_accuracy": (round(float(result.epochs[-1]["train_accuracy"]), 4)
                               if result.epochs and result.epochs[-1].get("train_accuracy") is not None
                               and np.isfinite(result.epochs[-1]["train_accuracy"]) else None)}


def summarise(rows: list[dict]) -> None:
    """Mean validation accuracy per recipe and size, and the mean rank over cells (1 = best)."""
    cells: dict[tuple, dict[str, float]] = {}
    for row in rows:
        # the score recipes are ranked by: accuracy, or Pearson's r for regression (older rows: accuracy)
        score = row.get("score", row.get("accuracy"))
        cells.setdefault((row["dataset"], row["size"], row["seed"]), {})[row["recipe"]] = score
    recipes = sorted({row["recipe"] for row in rows})
    complete = {key: scores for key, scores in cells.items() if set(scores) == set(recipes)}
    ranks: dict[str, list[float]] = {name: [] for name in recipes}
    for scores in complete.values():
        ordered = sorted(scores.values(), reverse=True)
        for name, value in scores.items():  # ties share the mean of their ranks
            positions = [i + 1 for i, v in enumerate(ordered) if v == value]
            ranks[name].append(float(np.mean(positions)))
    sizes = sorted({key[1] for key in complete})
    print(f"\n{len(complete)} complete cells ({len({k[0] for k in complete})} datasets)")
    print("recipe".ljust(18) + "".join(f"score@{s}".rjust(10) for s in sizes) + "mean rank".rjust(12))
    for name in sorted(recipes, key=lambda n: np.mean(ranks[n]) if ranks[n] else 99):
        accs = [np.mean([c[name] for k, c in complete.items() if k[1] == s]) for s in sizes]
        print(name.ljust(18) + "".join(f"{a:10.3f}" for a in accs)
              + f"{np.mean(ranks[name]) if ranks[name] else float('nan'):12.2f}")


def markdown(rows: list[dict]) -> None:
    """One Markdown table per (size, seed): validation accuracy per dataset and recipe (best bold)."""
    recipes = list(dict.fromkeys(row["recipe"] for row in rows))
    for size, seed in sorted({(row["size"], row["seed"]) for row in rows}):
        cells = {(row["dataset"], row["recipe"]): row.get("score", row.get("accuracy")) for row in rows
                 if row["size"] == size and row["seed"] == seed}
        datasets = [d for d in dict.fromkeys(row["dataset"] for row in rows)
                    if all((d, r) in cells for r in recipes)]
        if not datasets:
            continue
        print(f"\n{size} labels, seed {seed}\n")
        print("| dataset | " + " | ".join(recipes) + " |")
        print("|---|" + "---|" * len(recipes))
        for dataset in datasets:
            best = max(cells[dataset, r] for r in recipes)
            print(f"| {dataset} | " + " | ".join(
                (f"**{cells[dataset, r]:.3f}**" if cells[dataset, r] == best else f"{cells[dataset, r]:.3f}")
                for r in recipes) + " |")
        means = [np.mean([cells[d, r] for d in datasets]) for r in recipes]
        print("| mean | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
