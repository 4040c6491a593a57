"""The study contract through the real CLI: kill -9 mid-study, resume, report; the same on Ray.

The issue's example spec, shrunk so the whole file runs in a few minutes on 2 busy cores: TREC cut
to 200 training and 60 test questions (written for the test, never into the repo), one epoch,
two rounds (10 → 20 labels), max length 32, one torch thread per cell.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from peftal.store.results import STORE_NAME, ResultsStore
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

SPEC = """\
name: example-tiny
kind: active_learning
datasets: [{data}]
methods: [lora]
strategies: [random, entropy]
seeds: {seeds}
warm_start: 10
query_size: 10
budget: 20
epochs: 1
pool_subsample: 50
max_length: 32
"""


@pytest.fixture(scope="module")
def tiny_trec(tmp_path_factory):
    value = os.environ.get("PEFTAL_DATA_DIR")
    if not value or not os.path.isdir(os.path.join(value, "trec")):
        pytest.skip("PEFTAL_DATA_DIR (../shared/data) is not available")
    folder = tmp_path_factory.mktemp("tiny_trec")
    for split, size in (("train", 200), ("test", 60)):
        with open(os.path.join(value, "trec", f"{split}.jsonl"), encoding="utf-8") as source:
            rows = [json.loads(line) for line in source][:: 7 if split == "train" else 5][:size]
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as target:
            for row in rows:
                target.write(json.dumps({"text": row["text"], "label": row["label"]}) + "\n")
    return folder


def completed(store_path) -> dict[str, float]:
    """Completed run id → finish time, read without disturbing the writer."""
    if not store_path.exists():
        return {}
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT run_id, finished_at FROM runs WHERE status = 'completed'")
        return dict(rows.fetchall())
    except sqlite3.OperationalError:  # the schema is not written yet
        return {}
    finally:
        db.close()


def test_kill_9_then_resume_then_report(tmp_path, tiny_trec):
    spec = tmp_path / "example.yaml"
    spec.write_text(SPEC.format(data=tiny_trec, seeds="[0, 1]"))
    out = tmp_path / "study"
    store = out / "results.sqlite"
    command = [sys.executable, "-m", "peftal", "study", "run", str(spec), "--out", str(out),
               "--threads", "1", "--no-progress"]
    with open(tmp_path / "first.log", "w") as log:
        driver = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 900
        while len(completed(store)) < 2 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and its cell worker, like kill -9
        driver.wait()
    before = completed(store)
    assert 2 <= len(before) < 4, (tmp_path / "first.log").read_text()[-2000:]

    run_cli("study", "run", str(spec), "--out", str(out), "--threads", "1", "--no-progress")
    status = json.loads(run_cli("study", "status", str(out), "--json").stdout)
    assert status == {"total": 4, "done": 4, "failed": 0}
    after = completed(store)
    assert {run_id: after[run_id] for run_id in before} == before  # completed cells were not re-run
    manifest = json.loads((out / "study.json").read_text())
    assert sorted(after) == sorted(cell["cell_id"] for cell in manifest["cells"])
    db = sqlite3.connect(store)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM runs").fetchone() == (4, 4)
    rounds = db.execute("SELECT run_id, COUNT(*) FROM rounds GROUP BY run_id").fetchall()
    assert sorted(count for _, count in rounds) == [2, 2, 2, 2]  # 10 and 20 labels, once each
    provenance = [json.loads(p) for (p,) in db.execute("SELECT provenance FROM runs")]
    db.close()
    assert all(p["peak_memory_mb"] > 0 and p["wall_seconds"] > 0 and p["executor"] == "local"
               for p in provenance)

    result = run_cli("report", str(out))
    assert "report.html" in result.stdout
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 1
    assert "<h2>Area under the learning curve</h2>" in page
    assert "<h2>Relative improvement over passive learning (RIPL)</h2>" in page
    auc = (out / "tables" / "auc.csv").read_text().splitlines()
    assert auc[0] == "dataset,method,strategy,metric,auc_mean,auc_std,n,converged"
    assert len(auc) == 3 and all(line.split(",")[6] == "2" for line in auc[1:])
    # every line's convergence flag: the cells' own, read back from runs.csv
    runs = pd.read_csv(out / "tables" / "runs.csv")
    for line in auc[1:]:
        strategy, flag = line.split(",")[2], line.split(",")[7]
        assert flag == str(bool(runs[runs["strategy"] == strategy]["converged"].all()))
    ripl = (out / "tables" / "ripl.csv").read_text().splitlines()
    assert len(ripl) == 2 and ",entropy," in ripl[1]

    # A re-run of chosen cells after a fix keeps the earlier result; bad filters change nothing.
    for bad, problem in (("colour=red", "no option colour"), ("method=ia3", "selects no cell")):
        refused = run_cli("study", "run", str(spec), "--out", str(out), "--rerun", bad, check=False)
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
        assert refused.stderr.startswith("peftal: error: --rerun") and problem in refused.stderr
    assert completed(store) == after
    chosen = [cell["cell_id"] for cell in manifest["cells"]
              if cell["config"]["strategy"] == "entropy" and cell["config"]["seed"] == 0]
    rerun = run_cli("study", "run", str(spec), "--out", str(out), "--threads", "1", "--no-progress",
                    "--rerun", "strategy=entropy", "--rerun", "seed=0")
    assert rerun.stdout.startswith("re-running 1 cells")
    assert "1 superseded results kept" in run_cli("study", "status", str(out)).stdout
    now = completed(store)
    assert sorted(now) == sorted(after) and now[chosen[0]] > after[chosen[0]]
    assert {k: v for k, v in now.items() if k not in chosen} == {
        k: v for k, v in after.items() if k not in chosen}
    db = sqlite3.connect(store)
    kept = db.execute("SELECT run_id, finished_at FROM runs WHERE status = 'superseded'").fetchall()
    assert kept == [(f"{chosen[0]}@superseded-1", after[chosen[0]])]
    assert db.execute("SELECT COUNT(*) FROM rounds WHERE run_id = ?", (kept[0][0],)).fetchone() == (2,)
    db.close()
    run_cli("report", str(out))
    assert pd.read_csv(out / "tables" / "runs.csv")["run_id"].nunique() == 4


@pytest.mark.slow  # minutes on two cores: not in the default run
def test_ray_executor(tmp_path, tiny_trec, one_ray_at_a_time):
    pytest.importorskip("ray")
    spec = tmp_path / "example.yaml"
    spec.write_text(SPEC.format(data=tiny_trec, seeds="[0]"))
    out = tmp_path / "study-ray"
    run_cli("study", "run", str(spec), "--out", str(out), "--executor", "ray", "--no-progress")
    status = json.loads(run_cli("study", "status", str(out), "--json").stdout)
    assert status == {"total": 2, "done": 2, "failed": 0}
    db = sqlite3.connect(out / "results.sqlite")
    executors = {json.loads(p)["executor"] for (p,) in db.execute("SELECT provenance FROM runs")}
    db.close()
    assert executors == {"ray"}


def test_bad_specs_exit_2_with_every_problem(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("datasets: [trec]\nmethods: [lora, lorra]\nstratgies: [random]\nseeds: []\n")
    result = run_cli("study", "validate", str(spec), check=False)
    assert result.returncode == 2
    assert "3 problems" in result.stderr
    assert "did you mean 'strategies'" in result.stderr and "unknown method 'lorra'" in result.stderr
    result = run_cli("study", "run", str(spec), "--out", str(tmp_path / "x"), check=False)
    assert result.returncode == 2 and not (tmp_path / "x").exists()  # nothing written, nothing run


def test_validate_checks_every_method_of_a_supervised_grid(tmp_path):
    # the second method only fails: each distinct cell is checked, not the first per dataset; the
    # message names the method and why no --max-length helps (the prompt alone exceeds the positions)
    spec = tmp_path / "prompt.yaml"
    spec.write_text('name: prompt\nkind: supervised\ndatasets: [mrpc]\n'
                    'methods: [full, "prompt_tuning[prompt_length=600]"]\nseeds: [0]\nnum_train: 50\n')
    result = run_cli("study", "validate", str(spec), check=False)
    assert result.returncode == 2, result.stdout
    assert "1 problem" in result.stderr and "prompt_tuning" in result.stderr
    assert "too long for the model's 512 positions" in result.stderr and "-88" not in result.stderr


def test_a_full_cell_after_dapt_and_tapt_records_both_pretrainings(tmp_path, data_dir):
    """DAPT on the CS domain corpus (a sample), then TAPT on ACL-ARC, then training: one study cell."""
    spec = tmp_path / "dapt.yaml"
    spec.write_text("name: dapt\nkind: supervised\ndatasets: [acl_arc]\nmethods: [full]\nseeds: [0]\n"
                    "num_train: 40\nepochs: 1\nmax_length: 32\nmax_eval: 50\ntapt: true\n"
                    "tapt_max_texts: 48\ndapt: true\ndapt_max_texts: 48\n")
    out = tmp_path / "study"
    run_cli("study", "run", str(spec), "--out", str(out), "--threads", "1", "--no-progress")
    with ResultsStore(out / STORE_NAME) as store:
        (run,) = store.runs()
    summary = run["summary"]
    assert summary["dapt"] is True and summary["tapt"] is True
    assert summary["dapt_corpus"].startswith("cs domain: acl_arc (train, validation); sciie")
    assert summary["tapt_corpus"] == "acl_arc (training split)"
    # each pretraining's own flag: one masked-LM epoch is "unknown" by the criterion (docs/methods.md)
    assert "dapt_converged" in summary and summary["dapt_converged"] is None
    assert "tapt_converged" in summary and summary["tapt_converged"] is None
    assert summary["config"]["dapt_max_texts"] == summary["config"]["tapt_max_texts"] == 48
    assert summary["config"]["model"] is None and summary["dapt_num_texts"] == summary["tapt_num_texts"] == 48
    assert summary["num_train"] == 40 and set(summary["metrics"]) == {"accuracy", "f1_macro", "f1_micro"}
