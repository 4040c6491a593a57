"""The first hour with your own data, through the real CLI: header-less files, unlabelled and
suspicious labels, log lines off a terminal, SIGTERM, comparing runs, predictions that join back.

Runs use a tiny random BERT (``tiny_model_dir``) so that each takes seconds; accuracy is not the
point here.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration

TINY = ("--epochs", "1", "--max-length", "32", "--cka-probe-size", "0", "--threads", "1",
        "--batch-size", "8")


def _peftal(*args, timeout=600):
    """The CLI with Python warnings shown (peftal's own warnings are the subject here)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run([sys.executable, "-m", "peftal", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def headerless_csv(tmp_path_factory):
    """id,text,label rows of TREC without a header, plus one typo label that occurs once."""
    value = os.environ.get("PEFTAL_DATA_DIR")
    if not value or not (Path(value) / "trec").is_dir():
        pytest.skip("no local data folder (PEFTAL_DATA_DIR)")
    data_dir = Path(value)
    rows = [json.loads(line) for line in (data_dir / "trec" / "train.jsonl").open()][:240]
    path = tmp_path_factory.mktemp("files") / "questions.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows([i, row["text"], row["label"]] for i, row in enumerate(rows))
        writer.writerow([999, "What is a typo label ?", "DESK"])
    return path


@pytest.fixture(scope="module")
def two_runs(headerless_csv, tiny_model_dir, tmp_path_factory):
    """Two finished runs on the header-less file (seeds 0 and 1), with their stderr."""
    root = tmp_path_factory.mktemp("runs")
    logs = {}
    for seed in ("0", "1"):
        out = root / f"seed{seed}"
        result = _peftal("run", "--dataset", str(headerless_csv), "--no-header", "--text-column", "1",
                         "--label-column", "2", "--model", str(tiny_model_dir), "--warm-start", "20",
                         "--query-size", "10", "--budget", "40", "--seed", seed, "--out", str(out), *TINY)
        assert result.returncode == 0, result.stderr[-3000:]
        logs[out] = result.stderr
    return logs


def test_headerless_csv_runs_with_positions_and_logs_each_round(two_runs):
    out, stderr = next(iter(two_runs.items()))
    summary = json.loads((out / "summary.json").read_text())
    assert [r["num_labeled"] for r in summary["rounds"]] == [20, 30, 40]
    # stderr is a pipe, not a terminal: one line per round with the elapsed time
    for n in (1, 2, 3):
        assert f"round {n}/3 done" in stderr
    assert "left" in stderr.split("round 1/3 done", 1)[1].splitlines()[0]
    # the label that occurs once is named in a warning before training
    warning = next(line for line in stderr.splitlines() if "check the labels" in line)
    assert "'DESK' (1)" in warning and "'DESC'" in warning and "--min-class-count" in warning
    assert stderr.index("check the labels") < stderr.index("round 1/3")


def test_without_no_header_the_error_names_the_option(headerless_csv, tmp_path):
    for columns in ((), ("--text-column", "1", "--label-column", "2")):
        result = run_cli("run", "--dataset", str(headerless_csv), *columns, "--out", str(tmp_path / "x"),
                         check=False)
        assert result.returncode == 2
        assert "--no-header --text-column 1 --label-column 2" in result.stderr
        assert not (tmp_path / "x").exists()


def test_minus_one_validation_labels_are_not_a_class(data_dir, tiny_model_dir, tmp_path):
    rows = [json.loads(line) for line in (data_dir / "sst2" / "train.jsonl").open()][:120]
    folder = tmp_path / "glue"
    folder.mkdir()
    numbered = [{"text": r["text"], "label": 1 if r["label"] == "positive" else 0} for r in rows]
    for name, part in (("train", numbered[:80]), ("test", numbered[80:])):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    (folder / "dev.jsonl").write_text("".join(json.dumps({**r, "label": -1}) + "\n" for r in numbered[80:]))
    out = tmp_path / "run"
    result = _peftal("run", "--dataset", str(folder), "--model", str(tiny_model_dir), "--warm-start", "20",
                     "--query-size", "10", "--budget", "30", "--out", str(out), *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation split has no labels" in result.stderr
    meta = json.loads((out / "model" / "peftal_model.json").read_text())
    assert meta["label_names"] == ["0", "1"]
    assert json.loads((out / "summary.json").read_text())["eval_split"] == "test"


def test_sigterm_leaves_a_failed_store_whose_finished_rounds_report_shows(headerless_csv, tiny_model_dir,
                                                                          tmp_path):
    out = tmp_path / "stopped"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    process = subprocess.Popen(
        [sys.executable, "-m", "peftal", "run", "--dataset", str(headerless_csv), "--no-header",
         "--text-column", "1", "--label-column", "2", "--model", str(tiny_model_dir), "--warm-start", "10",
         "--query-size", "2", "--budget", "190", "--out", str(out), *TINY],
        stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    for line in process.stderr:  # SIGTERM once two rounds are stored
        if "round 2/" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=120) == 143
    assert "terminated" in rest
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT status, error FROM runs").fetchall() == [("failed", "terminated")]
        finished = db.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]
    assert finished >= 2 and not (out / "summary.json").exists()
    run_cli("report", str(out))
    with (out / "tables" / "unfinished.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == finished and {r["error"] for r in rows} == {"terminated"}
    assert [int(r["num_labeled"]) for r in rows[:2]] == [10, 12]
    analyzed = run_cli("analyze", str(out)).stdout
    assert "(failed)" in analyzed


def test_report_and_analyze_compare_runs_named_by_folder(two_runs, tmp_path):
    a, b = two_runs
    result = run_cli("report", str(a), str(b), "--out", str(tmp_path / "cmp"))
    assert "runs: seed0, seed1" in result.stdout
    with (tmp_path / "cmp" / "tables" / "runs.csv").open() as handle:
        runs = list(csv.DictReader(handle))
    assert [r["run_id"] for r in runs] == ["seed0", "seed1"] and {r["status"] for r in runs} == {"completed"}
    with (tmp_path / "cmp" / "tables" / "curves.csv").open() as handle:
        assert {r["source"] for r in csv.DictReader(handle)} == {"seed0", "seed1"}
    page = (tmp_path / "cmp" / "report.html").read_text()
    assert "seed0" in page and "seed1" in page
    # a parent folder, and --name
    run_cli("report", str(a.parent), "--out", str(tmp_path / "parent"))
    with (tmp_path / "parent" / "tables" / "runs.csv").open() as handle:
        assert [r["run_id"] for r in csv.DictReader(handle)] == ["seed0", "seed1"]
    analyzed = run_cli("analyze", str(a), str(b), "--name", "first", "--name", "second").stdout
    assert "first" in analyzed and "second" in analyzed


def test_predict_keeps_ids_and_names_probabilities(two_runs, tmp_path):
    run = next(iter(two_runs))
    source = tmp_path / "new.csv"
    source.write_text("id,text,origin\nq1,What is the capital of France ?,web\nq2,Who wrote Hamlet ?,mail\n")
    run_cli("predict", "--run", str(run), "--input", str(source), "--output", str(tmp_path / "p.csv"),
            "--keep", "origin", "--header")  # the run read a header-less file
    with (tmp_path / "p.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    labels = json.loads((run / "model" / "peftal_model.json").read_text())["label_names"]
    assert list(rows[0])[:3] == ["id", "origin", "label"]
    assert [r["id"] for r in rows] == ["q1", "q2"] and [r["origin"] for r in rows] == ["web", "mail"]
    assert list(rows[0])[3:] == [f"prob_{label}" for label in labels]
    for row in rows:
        probs = {label: float(row[f"prob_{label}"]) for label in labels}
        assert abs(sum(probs.values()) - 1) < 1e-4 and row["label"] == max(probs, key=probs.get)
    source.write_text("origin,question\nweb,What is the capital of France ?\n")  # position 1: the text
    run_cli("predict", "--run", str(run), "--input", str(source), "--output", str(tmp_path / "p.jsonl"),
            "--header")
    row = json.loads((tmp_path / "p.jsonl").read_text())
    assert row["row"] == 0 and row["label"] in labels


def test_dry_run_prints_the_plan_and_writes_nothing(headerless_csv, tiny_model_dir, tmp_path):
    out = tmp_path / "never"
    result = run_cli("run", "--dataset", str(headerless_csv), "--no-header", "--text-column", "1",
                     "--label-column", "2", "--model", str(tiny_model_dir), "--warm-start", "20",
                     "--query-size", "10", "--budget", "40", "--out", str(out), "--dry-run", *TINY)
    assert "3 rounds, labels per round: 20, 30, 40" in result.stdout
    assert "estimated time: about" in result.stdout and "parameters trained" in result.stdout
    assert not out.exists()


def test_dry_run_of_a_frozen_encoder_counts_each_embedding_once(headerless_csv, tiny_model_dir):
    """``head`` embeds every pool and test example once per run, not once per round."""
    from peftal.experiments.active_learning import RunConfig
    from peftal.experiments.plan import plan_run

    base = RunConfig(dataset=str(headerless_csv), no_header=True, text_column="1", label_column="2",
                     model=str(tiny_model_dir), warm_start=20, query_size=10, budget=50, epochs=1,
                     max_length=32, cka_probe_size=0, batch_size=8)
    lora = plan_run(base)
    head = plan_run(dataclasses.replace(base, method="head"))
    assert lora["rounds"] == head["rounds"] == 4
    assert lora["scored_examples"] == sum(lora["pool"] - n for n in (20, 30, 40))
    assert head["scored_examples"] == head["pool"]
    assert head["training_steps"] == 4
