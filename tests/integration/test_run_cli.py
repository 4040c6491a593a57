"""`peftal run` through the real CLI, on the packaged MiniLM and real TREC data."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import run_cli, trec_slice

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def small_trec(tmp_path_factory):
    """Real TREC cut to the first 100 training questions of each class (586) and the first 100
    test questions: the repeat and kill tests check records, not learning, and on the whole of
    TREC most of their time went to evaluating 500 test questions a round."""
    return trec_slice(tmp_path_factory.mktemp("small-trec"), 100, 100)


def test_contract_cell_learns_trec(data_dir, tmp_path):
    """The README's cell at the defaults that matter for learning (LoRA, entropy, 10 epochs,
    warm start 100, 50 a query), two rounds, the pool scored through a subsample of 1,000."""
    out = tmp_path / "run"
    result = run_cli("run", "--dataset", "trec", "--method", "lora", "--strategy", "entropy",
                     "--warm-start", "100", "--query-size", "50", "--budget", "150", "--epochs", "10",
                     "--pool-subsample", "1000", "--seed", "0", "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert {"dataset", "model", "method", "strategy", "seed", "trainable_params", "total_params",
            "rounds", "auc"} <= set(summary)
    rounds = summary["rounds"]
    assert [r["num_labeled"] for r in rounds] == [100, 150]
    assert rounds[-1]["metrics"]["accuracy"] >= 0.60  # majority class is 27.6%
    assert all({"accuracy", "f1_macro"} <= set(r["metrics"]) for r in rounds)
    queried = [i for r in rounds for i in r["indices_queried"]]
    assert len(queried) == len(set(queried)) == 50
    assert all(0 <= i < 5452 for i in queried)
    assert rounds[-1]["indices_queried"] == []
    assert 0 < summary["trainable_params"] < summary["total_params"] / 100
    assert 0.0 <= summary["auc"] <= 1.0
    assert (out / "learning_curve.png").exists() and (out / "results.sqlite").exists()
    assert "AUC (accuracy)" in result.stdout
    with sqlite3.connect(out / "results.sqlite") as db:
        acquired = dict(db.execute("SELECT example_id, round_acquired FROM labeled"))
    assert len(acquired) == 150 and sorted(set(acquired.values())) == [0, 1]
    assert {i for i, r in acquired.items() if r > 0} == set(queried)


def _small_cell(data, out, seed="0"):
    return ("run", "--dataset", str(data), "--method", "lora", "--strategy", "entropy", "--warm-start", "40",
            "--query-size", "20", "--budget", "60", "--epochs", "2", "--max-length", "32",
            "--pool-subsample", "300", "--cka-probe-size", "16", "--seed", seed, "--out", str(out),
            "--no-progress")


def test_same_command_same_results(small_trec, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli(*_small_cell(small_trec, a))
    run_cli(*_small_cell(small_trec, b))
    first, second = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert [r["indices_queried"] for r in first["rounds"]] == [r["indices_queried"] for r in second["rounds"]]
    assert [r["metrics"] for r in first["rounds"]] == [r["metrics"] for r in second["rounds"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dataset", "nope"), "unknown dataset 'nope'"),
        (("--method", "lorra"), "unknown method 'lorra'; valid method names: "),
        (("--strategy", "entropi"), "unknown strategy 'entropi'; valid strategy names: "),
        (("--warm-start", "100", "--budget", "100"), "must be larger than --warm-start"),
        (("--budget", "99999"), "is larger than the pool"),
        (("--precision", "fp16"), "--precision must be one of auto, fp32, bf16, got 'fp16'"),
    ],
)
def test_bad_input_is_one_line_exit_2(data_dir, tmp_path, args, message):
    out = tmp_path / "run"
    result = run_cli("run", *args, "--out", str(out), check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("peftal: error: ") and message in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"", (), "the file is empty"),
        (b"\xff\xfe\x00bad", (), "not valid UTF-8"),
        (b"sentence,label\na,x\nb,y\nc,x\nd,y\n", (), "column 'text' not found"),
        (b"text,label\na,x\n,y\nc,x\nd,y\n", (), "empty text"),
        (b"text,tag\na,x\nb,y\nc,x\nd,y\n", ("--label-column", "label"), "column 'label' not found"),
    ],
)
def test_bad_files_exit_2(tmp_path, content, extra, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    result = run_cli("run", "--dataset", str(path), *extra, "--out", str(tmp_path / "out"), check=False)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_killed_run_leaves_no_complete_summary(small_trec, tmp_path):
    out = tmp_path / "run"
    args = list(_small_cell(small_trec, out))
    args[args.index("--budget") + 1] = "100"
    process = subprocess.Popen([sys.executable, "-m", "peftal", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            if (out / "results.sqlite").exists():
                with sqlite3.connect(out / "results.sqlite") as db:
                    if db.execute("SELECT COUNT(*) FROM rounds").fetchone()[0] >= 1:
                        break
            time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert not (out / "summary.json").exists()
    with sqlite3.connect(out / "results.sqlite") as db:
        status, = db.execute("SELECT status FROM runs").fetchone()
        assert status == "running"  # never marked completed
        assert db.execute("SELECT COUNT(*) FROM rounds").fetchone()[0] >= 1  # finished rounds kept
    # the folder can be run again and then completes
    run_cli(*args)
    assert json.loads((out / "summary.json").read_text())["rounds"][-1]["num_labeled"] == 100
