"""The benchmark scripts run end to end on tiny settings and print the JSON lines they promise.

Nothing here is timed or compares speeds (that is what the scripts themselves are for); these
runs only keep the scripts working as the code they measure changes. Each takes minutes on two
cores, so those runs are in the `slow` tier (``python -m pytest -m slow``), not the default run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.integration


def run_bench(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # 1200 s: on a loaded two-core machine (the other worker training) the scoring benchmark ran past 600 s
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args],
                            capture_output=True, text=True, timeout=1200, cwd=REPO / "benchmarks",
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def bench(script: str, *args: str) -> list[dict]:
    result = run_bench(script, *args, "--threads", "1")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_scoring_benchmark():
    records = bench("bench_scoring.py", "--limit", "40", "--repeats", "1")
    (summary,) = [r for r in records if r.get("summary")]
    assert summary["ours"].startswith("peftal predict") and summary["ratio"] > 0
    assert {r["variant"] for r in records if not r.get("summary")} >= {
        "plain pad-to-64 fp32", "plain dynamic fp32", "plain dynamic sorted fp32",
        "plain dynamic sorted bf16"}
    assert all(r["peak_gflops"] > 0 for r in records if not r.get("summary"))


@pytest.mark.slow
def test_training_benchmark():
    records = bench("bench_training.py", "--examples", "16", "--repeats", "1", "--methods", "lora")
    assert {r["variant"] for r in records} == {"peftal train fp32", "peftal train bf16", "plain loop fp32"}
    assert all(r["examples_per_s"] > 0 and r["ratio_vs_plain"] > 0 for r in records)


@pytest.mark.slow
def test_mc_dropout_benchmark():
    records = bench("bench_mc_dropout.py", "--limit", "24", "--passes", "3", "--repeats", "1")
    (summary,) = [r for r in records if r.get("summary")]
    assert summary["ratio"] > 0
    variants = [r for r in records if not r.get("summary")]
    assert len(variants) == 4
    # the baseline agrees with itself exactly; every variant's mean probabilities are probabilities
    assert all(0 <= r["mean_abs_diff_of_mean_probs"] <= 1 for r in variants)


@pytest.mark.slow
def test_al_cell_benchmark_peftal_side():
    sides = ["peftal-lora"]
    if importlib.util.find_spec("accelerate") is not None:  # the `bench` extra: HF Trainer sides
        sides.append("trainer-lora")
    records = bench("bench_al_cell.py", "--sides", ",".join(sides), "--warm-start", "100",
                    "--query-size", "20", "--budget", "120", "--epochs", "1")
    per_side = {r["side"]: r for r in records if "side" in r}
    assert set(per_side) == set(sides)
    assert per_side["peftal-lora"]["labels"] == [100, 120]
    assert all(0 <= a <= 1 for r in per_side.values() for a in r["accuracy"])


@pytest.mark.slow
def test_label_efficiency_benchmark(tmp_path):
    common = ["--datasets", "trec", "--seeds", "0", "--warm-start", "20", "--query-size", "10",
              "--budget", "30", "--epochs", "1", "--max-length", "32", "--max-test", "40",
              "--pool-subsample", "60", "--setfit-preset", "setfit[max_pairs=16]",
              "--jsonl", str(tmp_path / "le.jsonl"), "--plot", str(tmp_path / "le.png")]
    records = bench("bench_label_efficiency.py", *common, "--sides", "peftal,frozen-lr,setfit")
    assert {(r["side"], r["labels"]) for r in records} == {
        (side, n) for side in ("peftal", "frozen-lr", "setfit") for n in (20, 30)}
    assert all(0 <= r["accuracy"] <= 1 and 0 <= r["f1_macro"] <= 1 for r in records)
    assert len((tmp_path / "le.jsonl").read_text().splitlines()) == len(records)
    assert (tmp_path / "le.png").stat().st_size > 0
    # a side added later is fitted on the stored AL cell's labelled ids, without running it again
    stored = [json.loads(line) for line in (tmp_path / "le.jsonl").read_text().splitlines()]
    assert all(len(r["ids"]) == r["labels"] for r in stored if r["side"] == "peftal")
    added = bench("bench_label_efficiency.py", *common, "--sides", "peftal,frozen-lr,tfidf-lr,setfit")
    assert {(r["side"], r["labels"]) for r in added} == {("tfidf-lr", 20), ("tfidf-lr", 30)}
    # the table: one row per dataset, labels and side, then the mean over datasets, then the checks
    rerun = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_label_efficiency.py"),
                            "--datasets", "trec", "--seeds", "0",
                            "--sides", "peftal,frozen-lr,tfidf-lr,setfit",
                            "--jsonl", str(tmp_path / "le.jsonl"), "--plot", str(tmp_path / "le2.png")],
                           capture_output=True, text=True, timeout=300, cwd=REPO / "benchmarks")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    lines = rerun.stdout.splitlines()
    assert lines[0].split()[:3] == ["dataset", "labels", "side"]
    assert sum(line.startswith("trec ") for line in lines) == 8  # cells come from the file, not rerun
    assert sum(line.startswith("mean (1)") for line in lines) == 8
    by = {(r["side"], r["labels"]): r["accuracy"] for r in stored}
    margin = 100 * (by[("peftal", 30)] - by[("frozen-lr", 30)])
    assert f"30 labels: default - frozen-lr = {margin:+.1f} points on average over 1 datasets" in rerun.stdout


@pytest.mark.slow
def test_label_efficiency_benchmark_multilabel(tmp_path):
    """GoEmotions: the AL cell with a multi-label strategy and the frozen one-vs-rest baseline on its
    ids, scored by micro-F1."""
    records = bench("bench_label_efficiency.py", "--datasets", "goemotions", "--seeds", "0",
                    "--warm-start", "20", "--query-size", "10", "--budget", "30", "--epochs", "1",
                    "--max-length", "32", "--max-test", "40", "--pool-subsample", "60",
                    "--sides", "peftal,frozen-lr", "--jsonl", str(tmp_path / "ml.jsonl"),
                    "--plot", str(tmp_path / "ml.png"))
    assert {(r["side"], r["labels"]) for r in records} == {
        (side, n) for side in ("peftal", "frozen-lr") for n in (20, 30)}
    assert all("accuracy" not in r and 0 <= r["f1_micro"] <= 1 and 0 <= r["f1_macro"] <= 1
               for r in records)


@pytest.mark.slow
def test_head_cell_benchmark():
    records = bench("bench_head_cell.py", "--budget", "30", "--warm-start", "20", "--query-size", "10",
                    "--pool-subsample", "60", "--max-length", "32")
    from peftal.defaults import DEFAULT_METHOD

    assert [r["method"] for r in records] == [DEFAULT_METHOD, "head"]
    assert all(r["labels"] == 30 and r["wall_seconds"] > 0 for r in records)


@pytest.mark.slow
def test_choose_recipe_scores_on_validation_data_only(tmp_path):
    jsonl = tmp_path / "recipes.jsonl"
    records = bench("choose_recipe.py", "--datasets", "trec", "--sizes", "20", "--seeds", "0",
                    "--epochs", "1", "--max-length", "32", "--max-validation", "60",
                    "--recipes", "lora", "head", "--json", str(jsonl), "--markdown")
    assert [r["recipe"] for r in records] == ["lora", "head"]
    # TREC has no validation split: the slice is carved from its training split, never the test split
    assert all(r["validation"] == "carved from train" and r["num_validation"] == 60 for r in records)
    assert all(0 <= r["accuracy"] <= 1 and r["size"] == 20 for r in records)
    assert all(r["epochs"] == 1 and r["max_length"] == 32 for r in records)
    again = subprocess.run([sys.executable, str(REPO / "benchmarks" / "choose_recipe.py"), "--datasets",
                            "trec", "--sizes", "20", "--seeds", "0", "--epochs", "1", "--recipes",
                            "lora", "head", "--json", str(jsonl), "--markdown"],
                           capture_output=True, text=True, timeout=300, cwd=REPO / "benchmarks")
    assert again.returncode == 0, again.stderr[-3000:]
    assert not any(line.startswith("{") for line in again.stdout.splitlines())  # stored cells skipped
    assert "| dataset | lora | head |" in again.stdout


@pytest.mark.slow
def test_serve_benchmark(tmp_path, data_dir):
    """Both servers answer every request of two clients for two seconds; the printed ratio is the
    ratio of the two sides' printed throughputs. (The benchmark has no --threads: each server is
    its own process.)"""
    run = tmp_path / "run"
    run_cli("train", "--dataset", "trec", "--method", "lora", "--num-train", "40", "--epochs", "1",
            "--max-length", "32", "--max-eval", "40", "--seed", "0", "--no-progress", "--out", str(run))
    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join((data_dir / "trec" / "test.jsonl").read_text().splitlines(keepends=True)[:20]))
    # the benchmark exports the run (int8) into a temporary folder: under tmp_path here
    result = run_bench("bench_serve.py", str(run), "--clients", "2", "--seconds", "2", "--data", str(texts),
                       env={"TMPDIR": str(tmp_path)})
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["side"] for r in records] == ["peftal serve", "baseline"]
    assert len(list(tmp_path.glob("tmp*/export/model.int8.onnx"))) == 1  # exported with --int8
    for r in records:
        assert r["answered"] > 0 and r["errors"] == 0 and r["dropped"] == 0
        assert 0 < r["p50_ms"] <= r["p99_ms"]
        assert r["answered"] / r["throughput_rps"] >= 2.0  # answered over at least the two seconds
    ratio = re.search(r"throughput ratio peftal serve / baseline: ([0-9.]+)x", result.stdout)
    assert ratio and float(ratio.group(1)) == pytest.approx(
        records[0]["throughput_rps"] / records[1]["throughput_rps"], abs=0.006)


def test_label_efficiency_checks_compare_the_seeds_both_sides_ran():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_label_efficiency import contract
    finally:
        sys.path.remove(str(REPO / "benchmarks"))

    def rec(side, seed, accuracy, dataset="trec"):
        return {"dataset": dataset, "seed": seed, "side": side, "labels": 300, "accuracy": accuracy}

    records = [rec("peftal", 0, 0.90), rec("peftal", 1, 0.50), rec("random", 0, 0.80),
               rec("frozen-lr", 0, 0.70), rec("frozen-lr", 1, 0.60),
               rec("peftal", 0, 0.60, "rte"), rec("frozen-lr", 0, 0.62, "rte")]
    assert contract(records) == [
        "300 labels: default - frozen-lr = +1.5 points on average over 2 datasets (want >= +3); "
        "worst rte -2.0 (want >= -1)",
        "300 labels: entropy - random = +10.0 points over 1 datasets (same seeds)"]


@pytest.mark.slow
def test_label_scale_benchmark(tmp_path):
    """A small pool through the real `peftal label start`: it serves, hands out and takes labels,
    and prints every measurement line (the default port is the benchmark's own)."""
    result = run_bench("label_scale.py", "--texts", "2000", "--labels", "8", "--pace", "0.05",
                       "--embed-seconds", "3", "--max-wait", "0", "--port", "8792",
                       env={"TMPDIR": str(tmp_path)})
    for start in ("wrote 2,000 texts", "created and serving after", "POST /api/next: median",
                  "POST /api/label: median", "suggestions: first", "embedding with no label given",
                  "RSS at the end"):
        assert start in result.stdout, result.stdout


@pytest.mark.slow
def test_label_replay_benchmark(tmp_path):
    """Gold labels replayed through the real app: one JSON line per side with every checkpoint."""
    result = run_bench("label_replay.py", "--datasets", "trec", "--texts", "200", "--pace", "0.02",
                       "--window", "5", "--port", "8794", "--seeds", "0,1", env={"TMPDIR": str(tmp_path)})
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(row["side"], row["seed"]) for row in rows] == [("this app", 0), ("this app", 1)]
    assert "means over seeds" in result.stdout and "trec | this app | 2 |" in result.stdout
    assert set(rows[0]) >= {"first_suggestion_after", "accuracy_at_20", "accuracy_at_50", "accuracy_at_100"}
    assert all(0.0 <= rows[0][f"accuracy_at_{n}"] <= 1.0 for n in (20, 50, 100))


@pytest.mark.slow
def test_int8_scoring_comparison(tmp_path, data_dir):
    """A tiny study run both ways, then the script that pairs its cells."""
    spec = tmp_path / "int8.yaml"
    spec.write_text("name: int8-tiny\nkind: active_learning\ndatasets: [trec]\nmethods: [lora]\n"
                    "strategies: [entropy]\nseeds: [0, 1]\nwarm_start: 10\nquery_size: 10\nbudget: 30\n"
                    "epochs: 1\npool_subsample: 60\nmax_length: 16\n"
                    "grids:\n  - {scoring_precision: fp32}\n  - {scoring_precision: int8}\n")
    out = tmp_path / "study"
    run_cli("study", "run", str(spec), "--out", str(out), "--threads", "1", "--no-progress")
    result = run_bench("int8_scoring.py", str(out))
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(row["dataset"], row["seed"]) for row in rows] == [("trec", 0), ("trec", 1)]
    for row in rows:
        assert 0 <= row["overlap_first_query"] <= 1 and 0 <= row["overlap_all_queries"] <= 1
        assert row["query_s_fp32"] > 0 and row["query_s_int8"] > 0
    assert "2 pairs; int8 - fp32 on average: AUC" in result.stdout
    # the interval is the t interval of the pairs' final-metric differences, recomputed here
    diffs = [100 * (row["final_int8"] - row["final_fp32"]) for row in rows]
    low, high = scipy.stats.t.interval(0.95, 1, loc=np.mean(diffs), scale=scipy.stats.sem(diffs))
    assert f"final [{low:+.2f}, {high:+.2f}] points" in result.stdout


@pytest.mark.slow
def test_int8_kernel_benchmark():
    records = bench("bench_int8_scoring.py", "--limit", "60")
    sides = [r for r in records if not r.get("summary")]
    assert [r["side"] for r in sides][:2] == ["pytorch fp32", "pytorch dynamic int8, per-tensor"]
    assert len(sides) == 6 and all(0 <= r["argmax_agreement"] <= 1 and r["score_s"] > 0 for r in sides)
    (summary,) = [r for r in records if r.get("summary")]
    assert 0 < summary["weight_products_share_fp32"] <= 1 and summary["int8_products_speedup"] > 0
