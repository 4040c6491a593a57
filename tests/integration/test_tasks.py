"""The task contract through the real CLI on the packaged MiniLM and ../shared/data, kept small:
supervised training on a fraction / a time budget / SQuAD, TAPT then training from the adapter,
AL on a regression task, the dataset list, and one-line errors for bad input."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration

SUMMARY_KEYS = {"dataset", "method", "seed", "fraction", "num_train", "time_budget", "train_seconds",
                "epochs_completed", "trainable_params", "total_params", "metrics", "eval_split"}


def _summary(folder):
    return json.loads((folder / "summary.json").read_text())


def _stored(folder):
    with sqlite3.connect(folder / "results.sqlite") as db:
        kind, status = db.execute("SELECT kind, status FROM runs").fetchone()
        labeled = [row[0] for row in db.execute("SELECT example_id FROM labeled")]
    return kind, status, labeled


def test_train_on_a_fraction_of_mrpc(tmp_path, data_dir):
    out = tmp_path / "mrpc"
    run_cli("train", "--dataset", "mrpc", "--method", "full", "--fraction", "0.05", "--epochs", "1",
            "--max-length", "64", "--max-eval", "300", "--out", str(out), "--no-progress")
    summary = _summary(out)
    assert SUMMARY_KEYS <= set(summary)
    assert {"accuracy", "f1", "f1_macro"} == set(summary["metrics"])
    assert all(0 <= v <= 1 for v in summary["metrics"].values())
    assert summary["num_train"] == 183 and summary["fraction"] == 0.05  # round(0.05 * 3668)
    assert summary["eval_split"] == "test" and summary["num_eval"] == 300
    assert summary["trainable_params"] == summary["total_params"] and summary["epochs_completed"] == 1
    kind, status, labeled = _stored(out)
    assert (kind, status) == ("supervised", "completed")
    assert len(set(labeled)) == 183 and max(labeled) < 3668
    # The saved model predicts like `peftal run`'s.
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"text": "He left.", "text_pair": "He went away."}) + "\n")
    run_cli("predict", "--run", str(out), "--input", str(pairs), "--output", str(tmp_path / "p.jsonl"))
    prediction = json.loads((tmp_path / "p.jsonl").read_text())
    assert prediction["label"] in ("equivalent", "not_equivalent")
    assert {"prob_equivalent", "prob_not_equivalent"} <= set(prediction)


def test_train_stsb_within_a_time_budget(tmp_path, data_dir):
    out = tmp_path / "stsb"
    run_cli("train", "--dataset", "stsb", "--method", "lora", "--time-budget", "10", "--num-train", "300",
            "--max-length", "64", "--max-eval", "300", "--out", str(out), "--no-progress")
    summary = _summary(out)
    assert {"pearson", "spearman", "mse"} == set(summary["metrics"])
    assert summary["time_budget"] == 10 and summary["task"] == "regression"
    # The budget is checked after every step, so it is overrun by less than one step (1 s slack for
    # the bookkeeping after the last check).
    assert summary["train_seconds"] <= 10 + summary["max_step_seconds"] + 1
    assert summary["stopped_by_budget"] or summary["epochs_completed"] == 3


@pytest.mark.slow  # minutes on two cores: not in the default run
def test_train_squad_then_answer_questions(tmp_path, data_dir):
    out = tmp_path / "squad"
    # --min-steps 0: one epoch of 200 questions, not LoRA's 1,000-step QA floor (a check of the
    # pipeline, not of what LoRA learns)
    run_cli("train", "--dataset", "squad", "--method", "lora", "--num-train", "200", "--epochs", "1",
            "--min-steps", "0", "--max-length", "192", "--max-eval", "100", "--out", str(out),
            "--no-progress")
    summary = _summary(out)
    assert set(summary["metrics"]) == {"exact_match", "f1"}
    assert 0 <= summary["metrics"]["exact_match"] <= summary["metrics"]["f1"] <= 1
    assert "split by article" in summary["split"] and summary["num_train"] == 200
    predictions = json.loads((out / "predictions.json").read_text())
    assert len(predictions) == 100
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "Who won?", "context": "The Broncos won the game."}) + "\n")
    run_cli("predict", "--run", str(out), "--input", str(questions), "--output", str(tmp_path / "a.jsonl"))
    answer = json.loads((tmp_path / "a.jsonl").read_text())["answer"]
    assert answer in "The Broncos won the game."


@pytest.mark.slow  # minutes on two cores: not in the default run
def test_tapt_adapter_feeds_training(tmp_path, data_dir):
    pre = tmp_path / "pre"
    result = run_cli("pretrain", "--dataset", "trec", "--method", "lora", "--epochs", "1",
                     "--max-texts", "200", "--max-length", "32", "--out", str(pre), "--no-progress")
    assert "no pretrained MLM head" in result.stdout
    summary = _summary(pre)
    assert summary["kind"] == "TAPT" and summary["num_texts"] == 200 and summary["epochs_completed"] == 1
    assert summary["losses"][0] > 0 and summary["mlm_head_from_scratch"]
    assert (pre / "adapter.safetensors").exists()
    out = tmp_path / "trec"
    run_cli("train", "--dataset", "trec", "--method", "lora", "--init-adapter", str(pre), "--num-train",
            "200", "--epochs", "2", "--max-length", "32", "--max-eval", "200", "--out", str(out),
            "--no-progress")
    trained = _summary(out)
    assert trained["init_adapter"] == str(pre) and trained["epochs_completed"] == 2
    assert {"accuracy", "f1_macro"} == set(trained["metrics"])
    al = tmp_path / "al"
    run_cli("run", "--dataset", "trec", "--method", "lora", "--strategy", "entropy", "--init-adapter",
            str(pre), "--warm-start", "20", "--query-size", "10", "--budget", "30", "--epochs", "1",
            "--max-length", "32", "--pool-subsample", "100", "--out", str(al), "--no-progress")
    assert len(_summary(al)["rounds"]) == 2
    wrong = run_cli("train", "--dataset", "trec", "--method", "lora[r=4]", "--init-adapter", str(pre),
                    "--out", str(tmp_path / "x"), check=False)
    assert wrong.returncode == 2 and "pretrained with method 'lora'" in wrong.stderr


def test_active_learning_on_a_regression_task(tmp_path, data_dir):
    out = tmp_path / "al"
    run_cli("run", "--dataset", "stsb", "--method", "lora", "--strategy", "random", "--warm-start", "20",
            "--query-size", "10", "--budget", "30", "--epochs", "1", "--max-length", "32",
            "--cka-probe-size", "0", "--out", str(out), "--no-progress")
    summary = _summary(out)
    assert [r["num_labeled"] for r in summary["rounds"]] == [20, 30]
    assert set(summary["rounds"][0]["metrics"]) == {"pearson", "spearman", "mse"}
    entropy = run_cli("run", "--dataset", "stsb", "--strategy", "entropy", "--out", str(tmp_path / "e"),
                      check=False)
    assert entropy.returncode == 2 and "use one of: random" in entropy.stderr


def test_datasets_json_lists_every_builtin(data_dir):
    rows = json.loads(run_cli("datasets", "--json").stdout)
    names = {"trec", "subj", "sst2", "ag_news", "mrpc", "rte", "cola", "stsb", "chemprot", "acl_arc",
             "sciie", "hyperpartisan", "imdb", "squad", "goemotions"}
    assert {row["name"] for row in rows} == names
    assert all(row["available_locally"] for row in rows)
    by_name = {row["name"]: row for row in rows}
    assert by_name["squad"]["metrics"] == ["exact_match", "f1"] and by_name["squad"]["task"] == "qa"
    assert {"pearson", "spearman"} <= set(by_name["stsb"]["metrics"])
    assert "mcc" in by_name["cola"]["metrics"] and "f1" in by_name["mrpc"]["metrics"]


def _bad_qa_file(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"q{k}", "title": f"t{k}", "question": "Who won?",
                                          "context": "The Broncos won.",
                                          "answers": {"text": ["Panthers"], "answer_start": [4]}})
                              for k in range(3)))
    return path


def _bad_regression_file(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text("text,label\n" + "\n".join(f"sentence {k},{'high' if k % 2 else 1.5}" for k in range(10)))
    return path


@pytest.mark.parametrize("args, message", [
    (["--fraction", "1.5"], "--fraction must lie in (0, 1], got 1.5"),
    (["--fraction", "0.1", "--num-train", "50"], "give either --fraction or --num-train, not both"),
    (["--time-budget", "-5"], "--time-budget must be a positive number of seconds, got -5.0"),
    (["--dataset", "{qa}", "--task", "qa"], "answer 'Panthers' of question 'q0' is not found in its context"),
    (["--dataset", "{reg}", "--task", "regression"], "regression labels must be numbers"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, data_dir, args, message):
    files = {"{qa}": str(_bad_qa_file(tmp_path)), "{reg}": str(_bad_regression_file(tmp_path))}
    args = [files.get(a, a) for a in args]
    result = run_cli("train", *args, "--out", str(tmp_path / "out"), check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("peftal: error: ") and message in lines[0]
    assert not (tmp_path / "out").exists()
