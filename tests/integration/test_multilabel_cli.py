"""Multi-label end to end on real GoEmotions: `peftal run` trains and evaluates, `peftal predict`
reproduces the run's final micro-F1 exactly, and single-/multi-label mix-ups stop with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import f1_score

from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def _matrix(label_lists, names):
    return np.array([[int(name in labels) for name in names] for labels in label_lists])


@pytest.mark.parametrize("options", [(), ("--method", "head", "--threshold", "0.5")],
                         ids=["default-method-cv-thresholds", "head-fixed-threshold"])
def test_run_then_predict_reproduces_micro_f1(data_dir, tmp_path, options):
    out = tmp_path / "run"
    run_cli("run", "--dataset", "goemotions", "--task", "multilabel", "--strategy", "br_entropy_mean",
            "--warm-start", "100", "--query-size", "50", "--budget", "150", "--epochs", "1",
            "--max-length", "64", "--pool-subsample", "400", "--cka-probe-size", "0", "--out", str(out),
            "--no-progress", *options)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "multilabel" and summary["metric"] == "f1_micro"
    rounds = summary["rounds"]
    assert [r["num_labeled"] for r in rounds] == [100, 150]
    assert set(rounds[-1]["metrics"]) == {"f1_micro", "f1_macro", "f1_samples", "subset_accuracy",
                                          "hamming_loss"}
    meta = json.loads((out / "model" / "peftal_model.json").read_text())
    names = meta["label_names"]
    assert len(names) == 28 and len(meta["thresholds"]) == 28
    if options:
        assert set(meta["thresholds"]) == {0.5}
    predictions = tmp_path / "pred.jsonl"
    run_cli("predict", "--run", str(out), "--input", str(data_dir / "goemotions" / "test.jsonl"),
            "--output", str(predictions))
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    test_file = data_dir / "goemotions" / "test.jsonl"
    gold = [json.loads(line)["labels"] for line in test_file.read_text().splitlines()]
    assert len(rows) == len(gold) == 1632
    assert all(isinstance(row["labels"], list) and len([k for k in row if k.startswith("prob_")]) == 28
               for row in rows)
    # the predicted label lists are each label whose probability reaches its saved threshold
    probs = np.array([[row[f"prob_{name}"] for name in names] for row in rows])
    chosen = _matrix([row["labels"] for row in rows], names)
    margin = np.abs(probs - np.array(meta["thresholds"])) > 1e-5  # rounding of the written probabilities
    assert np.array_equal(chosen[margin], (probs >= np.array(meta["thresholds"]))[margin])
    micro = f1_score(_matrix(gold, names), chosen, average="micro")
    assert micro == rounds[-1]["metrics"]["f1_micro"]
    assert micro > 0.0


def _stderr(*args):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    result = subprocess.run([sys.executable, "-m", "peftal", *args], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 2
    return result.stderr.strip()


def test_list_labels_in_a_single_label_run_name_the_option(data_dir, tmp_path):
    err = _stderr("run", "--dataset", str(data_dir / "goemotions"), "--label-column", "labels",
                  "--out", str(tmp_path / "a"))
    assert err.startswith("peftal: error: ") and "\n" not in err and len(err) < 400
    assert "holds lists of labels" in err and "--task multilabel" in err
    err = _stderr("run", "--dataset", str(data_dir / "trec"), "--task", "multilabel",
                  "--out", str(tmp_path / "b"))
    assert err.startswith("peftal: error: ") and "\n" not in err and "--label-separator" in err
    err = _stderr("run", "--dataset", "goemotions", "--strategy", "entropy", "--out", str(tmp_path / "c"))
    assert "does not apply to the multilabel task" in err and "br_entropy_mean" in err and "\n" not in err


def test_python_api_predicts_label_lists(data_dir, tmp_path):
    """``peftal.run`` in memory on a slice of GoEmotions written as a user's CSV with a label
    separator; ``Run.predict`` on the test texts reproduces the last round's micro-F1."""
    import pandas as pd

    import peftal

    folder = tmp_path / "ge"
    folder.mkdir()
    for split, size in (("train", 300), ("test", 120)):
        rows = [json.loads(line) for line in
                (data_dir / "goemotions" / f"{split}.jsonl").read_text().splitlines()[:size]]
        pd.DataFrame({"text": [r["text"] for r in rows], "emotions": [";".join(r["labels"]) for r in rows]}
                     ).to_csv(folder / f"{split}.csv", index=False)
    run = peftal.run(dataset=str(folder), task="multilabel", label_column="emotions", label_separator=";",
                     method="head", strategy="lci", warm_start=60, query_size=40, budget=100,
                     cka_probe_size=0)
    assert [r.num_labeled for r in run.records] == [60, 100] and run.metric == "f1_micro"
    test = pd.read_csv(folder / "test.csv", keep_default_na=False)
    predicted = run.predict(list(test["text"]))
    assert all(set(p["labels"]) <= set(p["probs"]) for p in predicted)
    names = sorted({label for p in predicted for label in p["probs"]})
    gold = _matrix([[x for x in value.split(";") if x] for value in test["emotions"]], names)
    micro = f1_score(gold, _matrix([p["labels"] for p in predicted], names), average="micro")
    assert micro == run.records[-1].metrics["f1_micro"]
