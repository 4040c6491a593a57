"""One AL cell end to end: peftal vs small-text and plain HF ``Trainer`` loops (full, and LoRA with ``peft``).

The cell (the performance issue's): TREC, a random warm start of 100 (the same ids on every side),
entropy sampling, 50 per query, 4 queries to 300 labels, 10 epochs, batch 16, max length 64, the
model retrained from the pretrained weights every round, test accuracy after every round. Sides:

* ``peftal-full``, ``peftal-lora``: ``peftal.experiments.active_learning.run_active_learning``
  with its defaults (``--precision auto``, length-grouped training batches, sorted inference
  batches of 128).
* ``small-text-full``: small-text 2.0 ``TransformerBasedClassification`` (full fine-tuning) in a
  ``PoolBasedActiveLearner`` with ``PredictionEntropy``: its defaults (texts padded to max length,
  10% of the labels held out for model selection, a model loaded from disk every round, the whole
  dataset scored every query), except the cell's epochs, batch 16, inference batch 64 and
  peftal's learning rate for ``full``.
* ``trainer-full`` (HF ``Trainer`` + ``AutoModelForSequenceClassification``) and ``trainer-lora``
  (HF ``Trainer`` + ``AutoModelForSequenceClassification`` wrapped by ``peft.get_peft_model`` with
  peftal's LoRA settings, r=8, alpha=16 on query and value, the classifier trained in full): the loop
  a user writes with the HF and peft docs. Tokenised once, ``DataCollatorWithPadding``
  (dynamic padding), fp32 (the Trainer's default), the model loaded from disk every round, the
  unlabelled pool scored with ``Trainer.predict`` (inference batch 64), peftal's learning rates.

``peftal-ia3`` is the default method's cell; ``peftal-ia3-int8`` and ``peftal-lora-int8`` the same
cells with ``--scoring-precision int8``, compared on their query phase (pool scoring plus the
strategy, the int8 copy's build included).

Each side runs in this process, one after the other, with the same torch threads; the machine's
matmul peak is measured before and after. Wall-clock seconds cover everything from texts in memory
to the last round's test accuracy (model loading, tokenisation, training, pool scoring, test
evaluation). Accuracy is on the 500 TREC test questions.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_al_cell.py
    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_al_cell.py --budget 150 --epochs 1   # smoke
    # int8 pool scoring against fp32 on the default method (query phase; needs peftal[export])
    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_al_cell.py --sides peftal-ia3,peftal-ia3-int8
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from _common import json_line, matmul_peak, print_table

from peftal.al.strategies.base import top_n
from peftal.al.strategies.uncertainty import entropy
from peftal.al.warm_start import draw_warm_start
from peftal.experiments.active_learning import RunConfig, prepare, run_active_learning
from peftal.models.backbone import resolve_model
from peftal.peft import parse_method
from peftal.training import softmax
from peftal.training.precision import set_threads

SIDES = ("peftal-full", "peftal-lora", "small-text-full", "trainer-full", "trainer-lora", "peftal-ia3",
         "peftal-ia3-int8", "peftal-lora-int8")
# (fp32 side, int8 side): the query phase (pool scoring and the strategy) compared, goal 2.5x
INT8_COMPARISONS = (("peftal-ia3", "peftal-ia3-int8"), ("peftal-lora", "peftal-lora-int8"))
# (ours, theirs, goal): the comparisons the issue sets
COMPARISONS = (("peftal-full", "small-text-full", 2.0), ("peftal-lora", "trainer-lora", 2.0),
               ("peftal-full", "trainer-full", None))


@dataclass
class Cell:
    """The cell's settings and data, shared by every side."""

    texts: list[str]
    labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray
    num_classes: int
    warm: np.ndarray
    query_size: int
    budget: int
    epochs: int
    seed: int
    batch_size: int = 16
    max_length: int = 64
    eval_batch_size: int = 64


@dataclass
class SideResult:
    seconds: float = 0.0
    accuracy: list[float] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    query_seconds: list[float] = field(default_factory=list)


def run_peftal(cell: Cell, method: str, scoring_precision: str = "fp32") -> SideResult:
    config = RunConfig(dataset="trec", method=method, strategy="entropy", warm_start=len(cell.warm),
                       query_size=cell.query_size, budget=cell.budget, epochs=cell.epochs,
                       batch_size=cell.batch_size, max_length=cell.max_length, seed=cell.seed,
                       cka_probe_size=0, scoring_precision=scoring_precision)
    start = time.perf_counter()
    summary, _ = run_active_learning(config, progress=False)
    seconds = time.perf_counter() - start
    rounds = summary["rounds"]
    return SideResult(seconds=seconds, accuracy=[r["metrics"]["accuracy"] for r in rounds],
                      labels=[r["num_labeled"] for r in rounds],
                      train_seconds=[r["train_seconds"] for r in rounds],
                      query_seconds=[r["query_seconds"] for r in rounds])


def run_small_text(cell: Cell, lr: float) -> SideResult:
    from small_text import PoolBasedActiveLearner, PredictionEntropy
    from small_text.integrations.transformers import (
        TransformerBasedClassificationFactory,
        TransformerModelArguments,
    )
    from small_text.integrations.transformers.datasets import TransformersDataset
    from transformers import AutoTokenizer

    result = SideResult()
    start = time.perf_counter()
    path = resolve_model(None)
    tokenizer = AutoTokenizer.from_pretrained(path)
    targets = np.arange(cell.num_classes)
    train = TransformersDataset.from_arrays(cell.texts, cell.labels, tokenizer,
                                            max_length=cell.max_length, target_labels=targets)
    test = TransformersDataset.from_arrays(cell.test_texts, cell.test_labels, tokenizer,
                                           max_length=cell.max_length, target_labels=targets)
    with tempfile.TemporaryDirectory() as cache:
        factory = TransformerBasedClassificationFactory(
            TransformerModelArguments(path, train_batch_size=cell.batch_size,
                                      predict_batch_size=cell.eval_batch_size, show_progress_bar=False),
            cell.num_classes,
            classification_kwargs={"num_epochs": cell.epochs, "lr": lr, "device": "cpu",
                                   "verbosity": logging.ERROR, "cache_dir": cache})
        learner = PoolBasedActiveLearner(factory, PredictionEntropy(), train)
        labelled = len(cell.warm)
        tick = time.perf_counter()
        learner.initialize(cell.warm.copy())
        result.train_seconds.append(time.perf_counter() - tick)
        while True:
            result.labels.append(labelled)
            result.accuracy.append(float((learner.classifier.predict(test) == cell.test_labels).mean()))
            if labelled >= cell.budget:
                break
            tick = time.perf_counter()
            queried = learner.query(num_samples=min(cell.query_size, cell.budget - labelled))
            result.query_seconds.append(time.perf_counter() - tick)
            tick = time.perf_counter()
            learner.update(cell.labels[queried])
            result.train_seconds.append(time.perf_counter() - tick)
            labelled += len(queried)
    result.query_seconds.append(0.0)
    result.seconds = time.perf_counter() - start
    return result


def run_trainer(cell: Cell, method: str, lr: float) -> SideResult:
    """The plain HF loop: a fresh model from disk, ``Trainer`` (with ``peft`` for LoRA), predict, query."""
    import datasets
    from transformers import AutoTokenizer, DataCollatorWithPadding, TrainingArguments
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    result = SideResult()
    start = time.perf_counter()
    path = resolve_model(None)
    tokenizer = AutoTokenizer.from_pretrained(path)

    def tokenised(texts, labels):
        encoding = tokenizer(texts, truncation=True, max_length=cell.max_length)
        return datasets.Dataset.from_dict({**encoding, "labels": labels.tolist()})

    pool, test = tokenised(cell.texts, cell.labels), tokenised(cell.test_texts, cell.test_labels)
    collator = DataCollatorWithPadding(tokenizer)
    labelled = np.sort(cell.warm)
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(
            output_dir=output_dir, num_train_epochs=cell.epochs, learning_rate=lr,
            per_device_train_batch_size=cell.batch_size, per_device_eval_batch_size=cell.eval_batch_size,
            warmup_steps=0.1, weight_decay=0.01, save_strategy="no", logging_strategy="no",
            report_to=[], disable_tqdm=True, use_cpu=True, seed=cell.seed, dataloader_num_workers=0)
        while True:  # one round per pass; ends once the budget is labelled
            tick = time.perf_counter()
            trainer = _trainer(method, path, cell, args, pool.select(labelled.tolist()), collator)
            trainer.train()
            result.train_seconds.append(time.perf_counter() - tick)
            result.labels.append(len(labelled))
            logits = trainer.predict(test).predictions
            result.accuracy.append(float((logits.argmax(1) == cell.test_labels).mean()))
            if len(labelled) >= cell.budget:
                result.query_seconds.append(0.0)
                break
            tick = time.perf_counter()
            unlabelled = np.setdiff1d(np.arange(len(cell.texts)), labelled)
            probabilities = softmax(trainer.predict(pool.select(unlabelled.tolist())).predictions)
            queried = unlabelled[top_n(entropy(probabilities), min(cell.query_size,
                                                                   cell.budget - len(labelled)))]
            result.query_seconds.append(time.perf_counter() - tick)
            labelled = np.sort(np.concatenate([labelled, queried]))
    result.seconds = time.perf_counter() - start
    return result


def _trainer(method, path, cell, args, train_dataset, collator):
    from transformers import AutoModelForSequenceClassification, Trainer

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=cell.num_classes)
    if method != "full":
        from peft import LoraConfig, get_peft_model

        # peft's sequence-classification task type keeps the new classifier trainable
        model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16,
                                                 target_modules=["query", "value"]))
    return Trainer(model=model, args=args, train_dataset=train_dataset, data_collator=collator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default=",".join(SIDES), help=f"comma-separated, of: {', '.join(SIDES)}")
    parser.add_argument("--warm-start", type=int, default=100)
    parser.add_argument("--query-size", type=int, default=50)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    sides = args.sides.split(",")
    unknown = sorted(set(sides) - set(SIDES))
    if unknown:
        parser.error(f"unknown side(s) {', '.join(unknown)}; choose from {', '.join(SIDES)}")
    threads = set_threads(args.threads)
    warnings.filterwarnings("ignore")
    config = RunConfig(dataset="trec", warm_start=args.warm_start, budget=args.budget, seed=args.seed)
    task, _, _ = prepare(config)
    warm = draw_warm_start(task.train.labels, config.warm_start, np.random.default_rng(args.seed),
                           stratified=config.stratified_warm_start)  # run_active_learning's draw
    cell = Cell(texts=list(task.train.texts), labels=np.asarray(task.train.labels),
                test_texts=list(task.test.texts), test_labels=np.asarray(task.test.labels),
                num_classes=task.num_labels, warm=np.asarray(warm), query_size=args.query_size,
                budget=args.budget, epochs=args.epochs, seed=args.seed)
    lr = {name: parse_method(name).method.lr for name in ("full", "lora")}
    runners = {
        "peftal-full": lambda: run_peftal(cell, "full"),
        "peftal-lora": lambda: run_peftal(cell, "lora"),
        "small-text-full": lambda: run_small_text(cell, lr["full"]),
        "trainer-full": lambda: run_trainer(cell, "full", lr["full"]),
        "trainer-lora": lambda: run_trainer(cell, "lora", lr["lora"]),
        "peftal-ia3": lambda: run_peftal(cell, "ia3"),
        "peftal-ia3-int8": lambda: run_peftal(cell, "ia3", "int8"),
        "peftal-lora-int8": lambda: run_peftal(cell, "lora", "int8"),
    }
    peak_before = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    results = {}
    for side in sides:
        print(f"running {side} ...", flush=True)
        torch.manual_seed(args.seed)
        with contextlib.redirect_stdout(io.StringIO()):  # small-text and Trainer print per epoch
            results[side] = runners[side]()
        r = results[side]
        print(f"  {r.seconds:.1f} s; accuracy {', '.join(f'{a:.3f}' for a in r.accuracy)}", flush=True)
    peak_after = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}

    print(f"\nTREC AL cell: warm start {args.warm_start}, query {args.query_size}, budget {args.budget}, "
          f"{args.epochs} epochs, batch 16, max length 64, entropy, seed {args.seed}, {threads} threads; "
          f"matmul peak fp32 {peak_before['fp32']:.0f}/{peak_after['fp32']:.0f}, bf16 "
          f"{peak_before['bf16']:.0f}/{peak_after['bf16']:.0f} GFLOP/s (before/after)")
    rows = []
    for side, r in results.items():
        rows.append([side, r.seconds, sum(r.train_seconds), sum(r.query_seconds),
                     " ".join(f"{a:.3f}" for a in r.accuracy)])
        json_line({"benchmark": "al_cell", "side": side, "seconds": r.seconds, "labels": r.labels,
                   "accuracy": r.accuracy, "train_seconds": r.train_seconds,
                   "query_seconds": r.query_seconds, "threads": threads,
                   "peak_gflops_before": peak_before, "peak_gflops_after": peak_after})
    print_table(["side", "seconds", "training s", "querying s",
                 "test accuracy at " + "/".join(map(str, next(iter(results.values())).labels))], rows)
    for fp32, int8 in INT8_COMPARISONS:
        if fp32 in results and int8 in results:
            ratio = sum(results[fp32].query_seconds) / sum(results[int8].query_seconds)
            print(f"{int8} vs {fp32}: query phase {ratio:.2f}× faster (goal 2.5×: "
                  f"{'met' if ratio >= 2.5 else 'not met'}); accuracy at the end "
                  f"{results[int8].accuracy[-1]:.3f} vs {results[fp32].accuracy[-1]:.3f}")
            json_line({"benchmark": "al_cell", "comparison": f"{int8} vs {fp32} (query phase)",
                       "ratio": ratio, "goal": 2.5, "int8_query_seconds": results[int8].query_seconds,
                       "fp32_query_seconds": results[fp32].query_seconds,
                       "int8_accuracy": results[int8].accuracy, "fp32_accuracy": results[fp32].accuracy})
    for ours, theirs, goal in COMPARISONS:
        if ours in results and theirs in results:
            ratio = results[theirs].seconds / results[ours].seconds
            print(f"{ours} vs {theirs}: {ratio:.2f}× faster"
                  + (f" (goal {goal:.0f}×: {'met' if ratio >= goal else 'not met'})" if goal else ""))
            json_line({"benchmark": "al_cell", "comparison": f"{ours} vs {theirs}", "ratio": ratio,
                       "goal": goal, "ours_seconds": results[ours].seconds,
                       "theirs_seconds": results[theirs].seconds,
                       "ours_accuracy": results[ours].accuracy, "theirs_accuracy": results[theirs].accuracy})


if __name__ == "__main__":
    main()
