"""Multi-label end to end on real GoEmotions: `peftal run` and `peftal train` train and evaluate,
`peftal predict` reproduces their micro-F1 exactly, an ONNX export predicts the same labels, and
single-/multi-label mix-ups stop with one line."""

from __future__ import annotations

import itertools
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


@pytest.mark.parametrize("options", [pytest.param((), marks=pytest.mark.slow),  # minutes: slow tier
                                     # fp32: bf16 autocast (auto on an AMX CPU) rounds differently
                                     # in predict's batches than in the run's, far above 1e-4
                                     ("--method", "head", "--threshold", "0.5", "--precision", "fp32")],
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
    # the run scored the same texts in other batches: a probability within float noise of its
    # threshold may fall on the other side there. The run's micro-F1 must be exactly the one of
    # these labels with some choice on those few near-threshold entries (none: exactly these).
    near = np.argwhere(np.abs(probs - np.array(meta["thresholds"])) < 1e-4)
    assert len(near) <= 8, f"{len(near)} probabilities within 1e-4 of their threshold"
    candidates = set()
    for flips in itertools.product((False, True), repeat=len(near)):
        labels = chosen.copy()
        for (i, j), flip in zip(near, flips):
            labels[i, j] ^= flip
        candidates.add(f1_score(_matrix(gold, names), labels, average="micro"))
    assert rounds[-1]["metrics"]["f1_micro"] in candidates
    assert f1_score(_matrix(gold, names), chosen, average="micro") > 0.0


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


def test_train_then_export_and_predict_agree(data_dir, tmp_path):
    """``peftal train`` on GoEmotions (the head method: seconds), then ``peftal predict`` on the run
    reproduces its eval metrics exactly, and on its ONNX export writes the same columns and labels
    with probabilities within 1e-4."""
    from sklearn.metrics import accuracy_score, hamming_loss

    from peftal.data.sampling import sample_training_ids
    from peftal.seeding import stream_rng

    run, export = tmp_path / "run", tmp_path / "export"
    run_cli("train", "--dataset", "goemotions", "--method", "head", "--num-train", "200", "--epochs", "1",
            "--max-length", "32", "--max-eval", "200", "--out", str(run), "--no-progress")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "multilabel" and summary["num_eval"] == 200
    meta = json.loads((run / "model" / "peftal_model.json").read_text())
    names, thresholds = meta["label_names"], np.array(meta["thresholds"])
    assert len(names) == len(thresholds) == 28
    assert len(set(meta["thresholds"])) > 1  # cross-validated per label, not one fixed cut
    run_cli("export", str(run), "--format", "onnx", "--out", str(export))
    info = json.loads((export / "export.json").read_text())
    assert info["task"] == "multilabel" and info["thresholds"] == meta["thresholds"]
    # the 200 test texts `peftal train` evaluated on: the seeded `eval_sample` draw (peftal.seeding)
    lines = (data_dir / "goemotions" / "test.jsonl").read_text().splitlines()
    ids = sample_training_ids(len(lines), 200, stream_rng(0, "eval_sample"))
    rows = [json.loads(lines[i]) for i in ids]
    source = tmp_path / "eval.jsonl"
    source.write_text("".join(json.dumps({"id": int(i), "text": r["text"]}) + "\n"
                              for i, r in zip(ids, rows)))
    written = {}
    for folder, name in ((run, "torch"), (export, "onnx")):
        run_cli("predict", "--run", str(folder), "--input", str(source), "--output", str(tmp_path / name))
        written[name] = [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
    torch_rows, onnx_rows = written["torch"], written["onnx"]
    assert list(torch_rows[0]) == ["id", "labels", *[f"prob_{n}" for n in names]]
    assert [list(r) for r in onnx_rows] == [list(r) for r in torch_rows]
    probs = {k: np.array([[r[f"prob_{n}"] for n in names] for r in v]) for k, v in written.items()}
    assert np.abs(probs["torch"] - probs["onnx"]).max() <= 1e-4
    near = (np.abs(probs["torch"] - thresholds) <= 1e-4).any(1)  # a cut the two may fall either side of
    assert [r["labels"] for r, n in zip(onnx_rows, near) if not n] == \
        [r["labels"] for r, n in zip(torch_rows, near) if not n]
    gold = _matrix([r["labels"] for r in rows], names)
    chosen = _matrix([r["labels"] for r in torch_rows], names)
    metrics = summary["metrics"]
    assert f1_score(gold, chosen, average="micro") == metrics["f1_micro"]
    assert f1_score(gold, chosen, average="macro", zero_division=0) == metrics["f1_macro"]
    assert accuracy_score(gold, chosen) == metrics["subset_accuracy"]
    assert hamming_loss(gold, chosen) == metrics["hamming_loss"]
    assert metrics["f1_micro"] > 0.1  # learned something: predicting nothing scores 0
