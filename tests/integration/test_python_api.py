"""The Python API as docs/python.md shows it: every Python block of the page runs, as written, in
a fresh interpreter on the packaged MiniLM and real TREC data; the page's plug-in strategy works
from the real CLI through PEFTAL_PLUGINS; every public name imports."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import peftal
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_public_name_imports():
    assert "run" in peftal.__all__ and "RoundRecord" in peftal.__all__
    for name in peftal.__all__:
        assert getattr(peftal, name) is not None, name
    with pytest.raises(AttributeError):
        peftal.not_a_public_name  # noqa: B018


def test_the_docs_have_five_python_blocks():
    assert len(_blocks("python")) == 5


def _check_curve(lines: list[str], output: str, tmp_path, data_dir) -> None:
    # the first block's curve: three rounds, accuracies of a model that learned something
    curve = [line for line in lines if line.endswith(tuple("0123456789")) and "labels: accuracy" in line]
    assert [int(line.split()[0]) for line in curve] == [30, 60, 90]
    assert all(0.2 < float(line.split()[-1]) <= 1 for line in curve)  # 6 classes: chance is ~0.17
    assert any(line.startswith("AUC 0.") for line in lines)


def _check_folder(lines: list[str], output: str, tmp_path, data_dir) -> None:
    # the folder written in the second block holds a run the CLI reads too
    assert (tmp_path / "trec-random" / "summary.json").is_file()
    assert "[30, 60] accuracy" in output


def _check_custom(lines: list[str], output: str, tmp_path, data_dir) -> None:
    # the custom strategy's run: a learning curve of three rounds
    custom = [line for line in lines if line.startswith("[(30, ")]
    assert len(custom) == 1 and custom[0].count("(") == 3


def _check_train(lines: list[str], output: str, tmp_path, data_dir) -> None:
    # the supervised run's metrics and its step count
    accuracy = re.search(r"'accuracy': (?:np\.float64\()?([0-9.]+)", lines[-1])
    assert accuracy and 0 < float(accuracy.group(1)) <= 1, lines[-1]
    assert int(lines[-1].rsplit(" ", 1)[1]) > 0


def _check_multilabel(lines: list[str], output: str, tmp_path, data_dir) -> None:
    # the multi-label run: a micro-F1 curve of two rounds, then a list of labels per text
    [curve] = [line for line in lines if line.startswith("f1_micro [(50, ")]
    assert [n for n, _ in ast.literal_eval(curve.split(" ", 1)[1])] == [50, 100]
    assert all(0 < f1 <= 1 for _, f1 in ast.literal_eval(curve.split(" ", 1)[1]))
    names = {label for line in (data_dir / "goemotions" / "train.jsonl").read_text().splitlines()
             for label in json.loads(line)["labels"]}
    predicted = [ast.literal_eval(line.split(" ", 1)[1].rsplit(" p(gratitude) ", 1)[0])
                 for line in lines if line.startswith("labels [")]
    assert len(predicted) == 2 and all(set(p) <= names for p in predicted)


# One test per block (each block imports what it needs), so that the workers share them out.
@pytest.mark.parametrize("index, check", list(enumerate([_check_curve, _check_folder, _check_custom,
                                                          _check_train, _check_multilabel])),
                         ids=["curve", "folder", "custom-strategy", "train", "multilabel"])
def test_the_python_blocks_of_the_docs_run(tmp_path, data_dir, index, check):
    script = tmp_path / "notebook.py"
    script.write_text(_blocks("python")[index])
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    check(result.stdout.splitlines(), result.stdout, tmp_path, data_dir)


def test_the_docs_plug_in_strategy_runs_from_the_cli(tmp_path, data_dir, monkeypatch):
    [strategy_block] = [b for b in _blocks("python") if "class RarestClass" in b]
    plugin = tmp_path / "rarest.py"
    plugin.write_text(strategy_block.split("\n\nresult = ")[0])  # the class, not the example run
    out = tmp_path / "run"
    env_run = ("--dataset", "trec", "--strategy", "rarest_class", "--warm-start", "20",
               "--query-size", "10", "--budget", "30", "--epochs", "1", "--max-length", "32",
               "--pool-subsample", "100", "--cka-probe-size", "0", "--no-progress", "--out", str(out))
    monkeypatch.setenv("PEFTAL_PLUGINS", str(plugin))
    run_cli("run", *env_run)
    strategies = run_cli("strategies").stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "rarest_class" and len(summary["rounds"]) == 2
    scores = summary["rounds"][0]["scores_queried"]
    assert len(scores) == 10 and scores == sorted(scores, reverse=True)
    assert "rarest_class" in strategies
    monkeypatch.setenv("PEFTAL_PLUGINS", str(tmp_path / "nope.py"))
    bad = run_cli("strategies", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("peftal: error: PEFTAL_PLUGINS: no such file")
