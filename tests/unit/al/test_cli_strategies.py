"""``peftal strategies`` and the input checks of ``peftal run`` that concern strategies and stopping."""

from __future__ import annotations

import json

import pytest

from peftal.al.strategies import STRATEGIES
from peftal.cli import main
from peftal.errors import UsageError
from peftal.experiments.active_learning import RunConfig, prepare


def test_strategies_json_lists_every_registered_strategy(capsys):
    assert main(["strategies", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == STRATEGIES.names() and len(rows) == 16
    assert all(row["description"] for row in rows)
    tasks = {row["name"]: row["tasks"] for row in rows}
    assert tasks["cvirs"] == ["multilabel"] and tasks["entropy"] == ["classification"]
    assert tasks["random"] == ["classification", "multilabel", "regression"]


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy", "nope"], "unknown strategy 'nope'; valid strategy names: random, entropy"),
    (["--strategy", "bald[samples=3]"], "bald: unknown key 'samples'; valid keys: passes"),
    (["--stop", "soon"], "unknown stopping criterion 'soon'"),
    (["--stop", "kappa_average[window=0]"], "window must be >= 1"),
])
def test_bad_run_options_exit_2_with_one_line(args, message, capsys, tmp_path):
    assert main(["run", "--out", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("peftal: error: ") and message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_regression_names_the_strategies_that_apply(data_dir):
    with pytest.raises(UsageError, match="'badge' needs class probabilities .* use one of: "
                                         "random, coreset, kmeans, dal$"):
        prepare(RunConfig(dataset="stsb", strategy="badge"))
    with pytest.raises(UsageError, match="'overall_uncertainty' needs single-label class predictions"):
        prepare(RunConfig(dataset="stsb", strategy="coreset", stop=("overall_uncertainty",)))
    with pytest.raises(UsageError, match="stratified-warm-start"):
        prepare(RunConfig(dataset="stsb", strategy="dal", stratified_warm_start=True))
    prepare(RunConfig(dataset="stsb", strategy="kmeans", stop=("max_rounds",)))
