"""``peftal train --task multilabel`` on a tiny random BERT: binary cross-entropy through the gradient
trainer, the fixed ``--threshold`` saved with the model (the cross-validated thresholds are tested
on GoEmotions in tests/integration/test_multilabel_cli.py), and the five multi-label metrics on the
test split, which ``peftal predict`` on the saved model reproduces (recomputed with scikit-learn);
every registered method runs multi-label AL (``peftal run``) and predicts the same way."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, hamming_loss

from peftal.cli import main
from peftal.peft import METHODS

LABELS = ["cats", "dogs", "rain"]


def _rows(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        chosen = [label for label in LABELS if rng.random() < 0.4]
        words = [w for label in chosen for w in (label, label)] + list(rng.choice(["a", "the", "so"], 4))
        rng.shuffle(words)
        rows.append({"id": i, "text": " ".join(words), "labels": chosen})
    return rows


def _data(tmp_path):
    data = tmp_path / "toy"
    data.mkdir()
    for split, n, seed in (("train", 60, 0), ("test", 30, 1)):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(n, seed)))
    return data


def _train(model_dir, data, out, method, *options) -> dict:
    assert main(["train", "--dataset", str(data), "--task", "multilabel", "--label-column", "labels",
                 "--model", str(model_dir), "--method", method, "--max-length", "16", *options,
                 "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    meta = json.loads((out / "model" / "peftal_model.json").read_text())
    assert summary["task"] == meta["task"] == "multilabel" and meta["label_names"] == LABELS
    assert set(summary["metrics"]) == {"f1_micro", "f1_macro", "f1_samples", "subset_accuracy",
                                       "hamming_loss"}
    return summary


def test_train_multilabel_then_predict_reproduces_metrics(tiny_model_dir, tmp_path):
    data = _data(tmp_path)
    out = tmp_path / "run"
    summary = _train(tiny_model_dir, data, out, "lora", "--epochs", "2", "--threshold", "0.4")
    meta = json.loads((out / "model" / "peftal_model.json").read_text())
    assert meta["thresholds"] == [0.4] * 3
    assert main(["predict", "--run", str(out), "--input", str(data / "test.jsonl"),
                 "--output", str(tmp_path / "pred.jsonl")]) == 0
    predicted = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    gold = [json.loads(line)["labels"] for line in (data / "test.jsonl").read_text().splitlines()]

    def matrix(lists):
        return np.array([[int(name in labels) for name in LABELS] for labels in lists])

    y_true, y_pred = matrix(gold), matrix([row["labels"] for row in predicted])
    metrics = summary["metrics"]
    assert f1_score(y_true, y_pred, average="micro", zero_division=0) == metrics["f1_micro"]
    assert f1_score(y_true, y_pred, average="samples", zero_division=0) == metrics["f1_samples"]
    assert accuracy_score(y_true, y_pred) == metrics["subset_accuracy"]
    assert hamming_loss(y_true, y_pred) == metrics["hamming_loss"]


TINY = {"setfit": "setfit[num_iterations=1]"}  # one pass of pairs exercises the same code


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_runs_and_predicts_multilabel(name, tiny_model_dir, tmp_path):
    """``peftal run … --epochs 1`` then ``peftal predict`` reproduces the run's final micro-F1."""
    data = _data(tmp_path)
    out = tmp_path / "run"
    assert main(["run", "--dataset", str(data), "--task", "multilabel", "--label-column", "labels",
                 "--model", str(tiny_model_dir), "--method", TINY.get(name, name), "--max-length", "16",
                 "--strategy", "br_entropy_mean", "--warm-start", "20", "--query-size", "10",
                 "--budget", "30", "--epochs", "1", "--threshold", "0.5", "--cka-probe-size", "0",
                 "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "multilabel" and [r["num_labeled"] for r in summary["rounds"]] == [20, 30]
    assert main(["predict", "--run", str(out), "--input", str(data / "test.jsonl"),
                 "--output", str(tmp_path / "pred.jsonl")]) == 0
    predicted = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    gold = [json.loads(line)["labels"] for line in (data / "test.jsonl").read_text().splitlines()]
    assert all(sorted(k for k in row if k.startswith("prob_")) == [f"prob_{n}" for n in LABELS]
               for row in predicted)
    y_true = np.array([[int(n in labels) for n in LABELS] for labels in gold])
    y_pred = np.array([[int(n in row["labels"]) for n in LABELS] for row in predicted])
    assert (f1_score(y_true, y_pred, average="micro", zero_division=0)
            == summary["rounds"][-1]["metrics"]["f1_micro"])
