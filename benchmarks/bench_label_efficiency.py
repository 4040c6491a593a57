"""Label efficiency: peftal's default AL cell against the baselines a practitioner tries first, on
the same labelled ids.

For each dataset and seed, one AL cell with peftal's defaults (``RunConfig``'s method and
strategy: ``ia3``, ``lora`` on text pairs, ``entropy``, 10 epochs): a random warm start of 100, 100
per query, to 300 labels. On the labelled ids of each of its rounds, the baselines are trained and
tested on the same test examples:

* ``frozen-lr``: scikit-learn ``LogisticRegression`` (its defaults) on mean-pooled embeddings of the
  packaged MiniLM, frozen (text pairs go in as the model's pair input, as for every peftal method);
  computed here with scikit-learn, not through peftal's ``head`` method;
* ``tfidf-lr``: ``TfidfVectorizer`` (word 1-2-grams, sublinear tf, fitted on the pool's texts,
  which needs no labels) + ``LogisticRegression(C=10)``; pairs are joined with `` [SEP] ``;
* ``setfit``: peftal's ``setfit`` method (Tunstall et al. 2022), preset ``--setfit-preset``;
* any method name (``--sides`` with e.g. ``full`` or ``lora``): that method trained with its own
  learning rates and the run's epochs on the AL cell's ids (``full``: the pair-task check);
* ``random`` (``--sides`` with ``random``): the same AL cell with the ``random`` strategy, for the
  entropy-vs-random check (its own labelled ids);
* ``acq-head`` (``--sides`` with ``acq-head``): the same AL cell with ``--acquisition-method head``:
  the queries come from a linear probe on frozen embeddings, and the default method trains only in
  the last round (its earlier rows are the probe's accuracy); its own labelled ids.

Multi-label data (``--datasets goemotions``): the AL cell's strategy is ``br_entropy_mean`` (or
``--strategy``), ``frozen-lr`` and ``tfidf-lr`` are scikit-learn's ``OneVsRestClassifier`` of the same
logistic regressions (one per label, predicting at probability 0.5), method sides train as a run's
round does (cross-validated thresholds), and micro-F1 takes accuracy's place in every table.

Reported per round: test accuracy and macro-F1; per side: CPU seconds (``time.process_time``,
this process, all threads) and wall seconds. One table of mean ± std over seeds, a PNG plot and
JSON lines (appended to ``--jsonl`` as each cell ends, so partial results survive; cells already in
that file are skipped on a rerun).

    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_label_efficiency.py \\
        --seeds 0 --pool-subsample 1000 --max-test 1000 --threads 1
    # the multi-label contract: GoEmotions, 3 seeds, default method, against frozen one-vs-rest LR
    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_label_efficiency.py --datasets goemotions \
        --sides peftal,frozen-lr,random --jsonl goemotions.jsonl --plot goemotions.png
    # smoke
    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_label_efficiency.py --datasets trec \\
        --warm-start 20 --query-size 10 --budget 30 --epochs 1 --max-length 32 --max-test 50 \\
        --pool-subsample 100 --sides peftal,frozen-lr,tfidf-lr --threads 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import json_line, print_table

from peftal.al.rounds import fit_round
from peftal.data.encoding import encode
from peftal.experiments.active_learning import RunConfig, prepare, run_active_learning
from peftal.models.backbone import load_backbone
from peftal.models.heads import TextClassifier
from peftal.peft import build_model, parse_method
from peftal.records import RoundRecord
from peftal.seeding import torch_seeded
from peftal.training import TrainConfig, embed, predict
from peftal.training.metrics import decisions
from peftal.training.precision import set_threads

DATASETS = ("trec", "subj", "sst2", "ag_news", "mrpc", "rte", "chemprot", "imdb")
# any other side is a peftal method preset trained on the AL cell's ids each round (``full``, ``lora``)
SIDES = ("peftal", "frozen-lr", "tfidf-lr", "setfit", "random", "acq-head")
_AL_CELLS = ("peftal", "random", "acq-head")


def _metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1; micro- and macro-F1 of a multi-label ``(n, labels)`` matrix."""
    from sklearn.metrics import accuracy_score, f1_score

    if labels.ndim == 2:
        return {"f1_micro": float(f1_score(labels, predicted, average="micro", zero_division=0)),
                "f1_macro": float(f1_score(labels, predicted, average="macro", zero_division=0))}
    return {"accuracy": float(accuracy_score(labels, predicted)),
            "f1_macro": float(f1_score(labels, predicted, average="macro"))}


def _score(record: dict) -> float:
    """A record's headline metric: micro-F1 for multi-label data, else accuracy."""
    return record["f1_micro"] if "f1_micro" in record else record["accuracy"]


def _strategy(dataset: str, args: argparse.Namespace) -> str:
    """The AL cell's strategy: ``--strategy``, else the default for the dataset's task."""
    return args.strategy or RunConfig(dataset=dataset).strategy_preset


def _logistic(c: float, multilabel: bool):
    """scikit-learn's logistic regression, one per label (one-vs-rest) for multi-label targets."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    model = LogisticRegression(C=c, max_iter=1000)
    return OneVsRestClassifier(model) if multilabel else model


def _joined(split) -> list[str]:
    if split.text_pairs is None:
        return list(split.texts)
    return [f"{a} [SEP] {b}" for a, b in zip(split.texts, split.text_pairs, strict=True)]


class Baselines:
    """The baselines of one (dataset, seed) cell; fitted on any labelled ids of the pool."""

    def __init__(self, task, args: argparse.Namespace) -> None:
        self.task, self.args = task, args
        self.encoder, tokenizer = load_backbone(None)
        self.pool = encode(tokenizer, task.train, args.max_length)
        self.test = encode(tokenizer, task.test, args.max_length)
        self._frozen = TextClassifier(self.encoder, task.num_labels)  # mean pooling, no training
        self._test_vectors = None
        self._tfidf = None

    def frozen_lr(self, ids: np.ndarray) -> np.ndarray:
        if self._test_vectors is None:
            self._test_vectors = embed(self._frozen, self.test, np.arange(len(self.test)))
        vectors = embed(self._frozen, self.pool, ids)  # (labels, hidden)
        return self._fit(1.0, vectors, ids).predict(self._test_vectors)

    def _fit(self, c: float, features, ids: np.ndarray):
        import warnings

        with warnings.catch_warnings():  # one-vs-rest: a label no labelled text has is predicted never
            warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
            return _logistic(c, self.task.task == "multilabel").fit(features, self.task.train.labels[ids])

    def tfidf_lr(self, ids: np.ndarray) -> np.ndarray:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self._tfidf is None:
            vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
            self._tfidf = (vectorizer.fit_transform(_joined(self.task.train)),
                           vectorizer.transform(_joined(self.task.test)))
        pool, test = self._tfidf
        return self._fit(10.0, pool[ids], ids).predict(test)

    def method(self, preset: str, ids: np.ndarray, seed: int) -> np.ndarray:
        """A peftal method trained on ``ids`` as a run's round trains it: the method's own learning
        rates, the run's epochs."""
        spec = parse_method(preset)
        if self.task.task == "multilabel":  # as a run's round: thresholds cross-validated on ``ids``
            model, _ = fit_round(spec, self.encoder, self.pool, ids, self.task.train.labels[ids],
                                 self._train_config(spec), task="multilabel",
                                 num_outputs=self.task.num_labels, pooling="mean", seed=seed, device="cpu")
            return decisions(predict(model, self.test, np.arange(len(self.test))), "multilabel",
                             model.thresholds)
        model = build_model(self.encoder, spec, self.task.num_labels, seed=seed)
        train_config = self._train_config(spec)
        with torch_seeded(seed):  # dropout draws, without resetting the global generator
            spec.fit(model, self.pool, ids, self.task.train.labels[ids], train_config,
                     task="classification", rng=np.random.default_rng(seed))
        return predict(model, self.test, np.arange(len(self.test))).argmax(1)

    def _train_config(self, spec) -> TrainConfig:
        return TrainConfig(epochs=self.args.epochs, batch_size=16, lr=spec.method.lr or 0.0,
                           head_lr=spec.method.head_lr or 0.0)


def _al_cell(dataset: str, seed: int, strategy: str, args, task,
             acquisition: str | None = None) -> tuple[list[dict], float, float]:
    """The AL run's rounds ``{num_labeled, ids, metrics}``, its CPU and wall seconds."""
    config = RunConfig(dataset=dataset, strategy=strategy, warm_start=args.warm_start,
                       query_size=args.query_size, budget=args.budget, epochs=args.epochs,
                       max_length=args.max_length, seed=seed, pool_subsample=args.pool_subsample,
                       cka_probe_size=0, acquisition_method=acquisition)
    _, method, parsed = prepare(config)
    rounds: list[dict] = []

    def on_round(record: RoundRecord) -> None:
        rounds.append({"num_labeled": record.num_labeled, "ids": list(record.correct_ids),
                       "metrics": dict(record.metrics)})

    cpu, wall = time.process_time(), time.perf_counter()
    run_active_learning(config, on_round=on_round, progress=False, prepared=(task, method, parsed))
    return rounds, time.process_time() - cpu, time.perf_counter() - wall


def _load(dataset: str, seed: int, args):
    task, _, _ = prepare(RunConfig(dataset=dataset, seed=seed, budget=args.budget,
                                   warm_start=args.warm_start, strategy=_strategy(dataset, args)))
    if args.max_test is not None and args.max_test < len(task.test):  # a seeded, fixed test sample
        keep = np.sort(np.random.default_rng([seed, 17]).choice(len(task.test), args.max_test,
                                                               replace=False))
        task = dataclasses.replace(task, test=task.test.subset(keep))
    return task


def run_cell(dataset: str, seed: int, args, done: set, records: list[dict],
             write: Callable[[list[dict]], None]) -> None:
    """Every side of one (dataset, seed) not yet in ``done``; each side's records (one a round) go to
    ``write`` as soon as the side ends. The AL cell's labelled ids are stored with its records, so a
    baseline side added later reuses them (from ``records``) instead of running the AL cell again."""
    task = _load(dataset, seed, args)

    def emit(side: str, rounds: list[dict], cpu: float, wall: float) -> None:
        method = RunConfig(dataset=dataset).method_preset if side in _AL_CELLS else side
        write([{"dataset": dataset, "seed": seed, "side": side, "method": method,
                "labels": r["num_labeled"],
                **{k: r["metrics"][k] for k in ("accuracy", "f1_micro", "f1_macro") if k in r["metrics"]},
                "cpu_seconds": cpu, "wall_seconds": wall,
                **({"ids": r["ids"]} if side == "peftal" else {})} for r in rounds])

    todo = [side for side in args.sides if (dataset, seed, side) not in done]
    al = [{"num_labeled": r["labels"], "ids": r["ids"]} for r in records
          if r["side"] == "peftal" and r["dataset"] == dataset and r["seed"] == seed and "ids" in r]
    if "peftal" in todo or (not al and set(todo) - {"random", "acq-head"}):
        al, cpu, wall = _al_cell(dataset, seed, _strategy(dataset, args), args, task)
        emit("peftal", al, cpu, wall)
    on_ids = [side for side in todo if side not in _AL_CELLS]
    baselines = Baselines(task, args) if on_ids else None

    def fit_for(side: str) -> Callable[[np.ndarray], np.ndarray]:
        if side == "frozen-lr":
            return baselines.frozen_lr
        if side == "tfidf-lr":
            return baselines.tfidf_lr
        preset = args.setfit_preset if side == "setfit" else side
        return lambda ids: baselines.method(preset, ids, seed)

    for side in on_ids:
        fit = fit_for(side)
        rounds, cpu, wall = [], time.process_time(), time.perf_counter()
        for r in al:
            ids = np.asarray(r["ids"], dtype=np.int64)
            rounds.append({"num_labeled": r["num_labeled"],
                           "metrics": _metrics(task.test.labels, fit(ids))})
        emit(side, rounds, time.process_time() - cpu, time.perf_counter() - wall)
    if "random" in todo:
        emit("random", *_al_cell(dataset, seed, "random", args, task))
    if "acq-head" in todo:
        emit("acq-head", *_al_cell(dataset, seed, _strategy(dataset, args), args, task,
                                   acquisition="head"))


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def _select(records: list[dict], dataset: str, n: int, side: str) -> list[dict]:
    return [r for r in records if r["dataset"] == dataset and r["labels"] == n and r["side"] == side]


def summarise(records: list[dict], sides: list[str]) -> list[list]:
    """Rows ``dataset, labels, side, accuracy, macro-F1, CPU s`` (mean ± std over seeds; CPU
    seconds of the side's whole cell), then ``mean``: the mean over datasets of per-dataset means."""
    rows = []
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    labels = sorted({r["labels"] for r in records})
    for dataset in datasets:
        for n in labels:
            for side in sides:
                sel = _select(records, dataset, n, side)
                if sel:
                    rows.append([dataset, n, side, _mean_std([_score(r) for r in sel]),
                                 _mean_std([r["f1_macro"] for r in sel]),
                                 f"{statistics.mean(r['cpu_seconds'] for r in sel):.0f}"])
    for n in labels:
        for side in sides:
            per = [p for p in (_select(records, d, n, side) for d in datasets) if p]
            if per:
                means = [[statistics.mean(key(r) if callable(key) else r[key] for r in p) for p in per]
                         for key in (_score, "f1_macro", "cpu_seconds")]
                rows.append([f"mean ({len(per)})", n, side, f"{100 * statistics.mean(means[0]):.1f}",
                             f"{100 * statistics.mean(means[1]):.1f}", f"{statistics.mean(means[2]):.0f}"])
    return rows


def plot(records: list[dict], sides: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    cols = min(4, len(datasets))
    rows = -(-len(datasets) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, dataset in zip(axes.flat, datasets, strict=False):
        for side in sides:
            sel = [r for r in records if r["dataset"] == dataset and r["side"] == side]
            labels = sorted({r["labels"] for r in sel})
            if labels:
                means = [100 * statistics.mean(_score(r) for r in sel if r["labels"] == n)
                         for n in labels]
                ax.plot(labels, means, marker="o", label=side)
        ax.set_title(dataset)
        ax.set_xlabel("labels")
        ax.set_ylabel("test micro-F1 (%)" if "f1_micro" in sel[0] else "test accuracy (%)")
    for ax in list(axes.flat)[len(datasets):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated built-in datasets")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--sides", default="peftal,frozen-lr,tfidf-lr,setfit",
                        help=f"comma-separated, of {', '.join(SIDES)}")
    parser.add_argument("--warm-start", type=int, default=100)
    parser.add_argument("--query-size", type=int, default=100)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=RunConfig.epochs)
    parser.add_argument("--max-length", type=int, default=RunConfig.max_length)
    parser.add_argument("--pool-subsample", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=None, help="a seeded sample of the test split")
    parser.add_argument("--setfit-preset", default="setfit")
    parser.add_argument("--strategy", default=None,
                        help="the AL cell's strategy (default: entropy; br_entropy_mean on multi-label data)")
    parser.add_argument("--jsonl", type=Path, default=Path("label_efficiency.jsonl"))
    parser.add_argument("--plot", type=Path, default=Path("label_efficiency.png"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    args.sides = [s for s in args.sides.split(",") if s]
    from peftal.peft import METHODS

    unknown = [s for s in args.sides if s not in SIDES and s not in METHODS]
    if unknown:
        parser.error(f"unknown side {unknown[0]!r}; sides: {', '.join(SIDES)} or a method name")
    return args


def contract(records: list[dict]) -> list[str]:
    """The issue's checks, as lines: per label count, the default's mean margin over ``frozen-lr``
    (same ids) and its worst dataset; ``entropy`` (the default's AL cell) vs ``random``."""
    lines = []
    datasets = list(dict.fromkeys(r["dataset"] for r in records))

    def margins_over(n: int, side: str) -> dict[str, float]:
        """Per dataset, the default's mean accuracy margin over ``side`` on the seeds both ran."""
        margins = {}
        for dataset in datasets:
            ours, theirs = _select(records, dataset, n, "peftal"), _select(records, dataset, n, side)
            seeds = sorted({r["seed"] for r in ours} & {r["seed"] for r in theirs})
            if seeds:
                margins[dataset] = statistics.mean(
                    next(_score(r) for r in ours if r["seed"] == s)
                    - next(_score(r) for r in theirs if r["seed"] == s) for s in seeds)
        return margins

    for n in sorted({r["labels"] for r in records}):
        margins = margins_over(n, "frozen-lr")
        if margins:
            worst = min(margins, key=margins.get)
            lines.append(f"{n} labels: default - frozen-lr = {100 * statistics.mean(margins.values()):+.1f} "
                         f"points on average over {len(margins)} datasets (want >= +3); worst "
                         f"{worst} {100 * margins[worst]:+.1f} (want >= -1)")
        random_margins = margins_over(n, "random")
        if random_margins:
            strategy = "the AL strategy" if any("f1_micro" in r for r in records) else "entropy"
            lines.append(f"{n} labels: {strategy} - random = "
                         f"{100 * statistics.mean(random_margins.values()):+.1f} points over "
                         f"{len(random_margins)} datasets (same seeds)")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        set_threads(args.threads)
    records = ([json.loads(line) for line in args.jsonl.read_text().splitlines() if line.strip()]
               if args.jsonl.exists() else [])
    done = {(r["dataset"], r["seed"], r["side"]) for r in records}

    def write(cell: list[dict]) -> None:
        with args.jsonl.open("a") as out:
            for record in cell:
                out.write(json.dumps(record, sort_keys=True) + "\n")
                json_line({k: v for k, v in record.items() if k != "ids"})
        records.extend(cell)
        done.update((r["dataset"], r["seed"], r["side"]) for r in cell)

    for dataset in args.datasets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            if all((dataset, seed, side) in done for side in args.sides):
                continue
            run_cell(dataset, seed, args, done, records, write)
    shown = [r for r in records if r["side"] in args.sides and r["dataset"] in args.datasets.split(",")]
    print_table(["dataset", "labels", "side", "accuracy % (micro-F1 % multi-label)", "macro-F1 %", "CPU s"],
                summarise(shown, args.sides))
    for line in contract(shown):
        print(line)
    plot(shown, args.sides, args.plot)
    print(f"plot: {args.plot}; JSON lines: {args.jsonl}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
