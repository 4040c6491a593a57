"""Report tables from stored records: curves, AUC and RIPL over seeds, parameters, metric vs option.

The toy kind's curves are known in closed form (see ``toy_accuracy``), so every expected value is
computed here independently of the code under test.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from peftal.analysis.study_records import load_records
from peftal.analysis.tables import auc_table, curve_table, metric_vs, parameter_table, ripl_table
from tests.unit.experiments.test_study import CountingExecutor
from tests.unit.experiments.toy_kind import TOY, ToyConfig, toy_accuracy


def run_toy_study(tmp_path, body: str):
    from peftal.experiments.study import run_study

    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: toy\nkind: {TOY}\n" + textwrap.dedent(body))
    run_study(spec, tmp_path / "study", CountingExecutor(), progress=False)
    return load_records(tmp_path / "study")


def expected_auc(**config) -> float:
    values = [toy_accuracy(ToyConfig(**config), n) for n in range(10, config.get("budget", 30) + 1, 10)]
    return float(np.mean([(a + b) / 2 for a, b in zip(values[:-1], values[1:], strict=True)]))


AL_STUDY = """
methods: [m1, m2]
grids:
  - {strategies: [random, entropy], seeds: [0, 1]}
  - {strategy: entropy, budget: 40, seeds: [0, 1]}   # no random baseline at this budget
"""


@pytest.fixture
def al_records(tmp_path):
    records = run_toy_study(tmp_path, AL_STUDY)
    yield records
    records.close()


def test_axes_are_the_varying_config_keys(al_records):
    assert set(al_records.axes) == {"method", "strategy", "seed", "budget"}
    assert al_records.group_keys("dataset", "method", "strategy") == [
        "dataset", "method", "strategy", "budget"]


def test_auc_table_is_mean_and_sample_std_over_seeds(al_records):
    table = auc_table(al_records)
    assert len(table) == 2 * 2 + 2  # (m1, m2) × (random, entropy) + (m1, m2) × entropy at budget 40
    for row in table.itertuples():
        seeds = [expected_auc(method=row.method, strategy=row.strategy, seed=s, budget=row.budget)
                 for s in (0, 1)]
        assert row.n == 2
        assert row.auc_mean == pytest.approx(np.mean(seeds))
        assert row.auc_std == pytest.approx(np.std(seeds, ddof=1))


def test_ripl_is_paired_with_random_of_the_same_dataset_method_seed(al_records):
    table = ripl_table(al_records)
    assert list(zip(table["method"], table["strategy"], table["budget"], strict=True)) == [
        ("m1", "entropy", 30), ("m2", "entropy", 30)]  # budget 40 has no random baseline
    for row in table.itertuples():
        per_seed = []
        for seed in (0, 1):
            al = expected_auc(method=row.method, strategy="entropy", seed=seed)
            passive = expected_auc(method=row.method, strategy="random", seed=seed)
            per_seed.append((al - passive) / (1 - passive))
        assert row.ripl_mean == pytest.approx(np.mean(per_seed))
        assert row.ripl_std == pytest.approx(np.std(per_seed, ddof=1))
        assert row.ripl_mean > 0  # the toy's entropy curve lies above its random curve


def test_curve_table_aggregates_each_label_count(al_records):
    table = curve_table(al_records)
    rows = table[(table["method"] == "m2") & (table["strategy"] == "random")]
    assert rows["num_labeled"].tolist() == [10, 20, 30]
    for row in rows.itertuples():
        values = [toy_accuracy(ToyConfig(method="m2", strategy="random", seed=s), row.num_labeled)
                  for s in (0, 1)]
        assert row.value_mean == pytest.approx(np.mean(values))
        assert row.n == 2


def test_parameter_table(al_records):
    table = parameter_table(al_records)
    assert table[["method", "trainable_params"]].values.tolist() == [["m1", 10], ["m2", 20]]
    assert table["trainable_percent"].tolist() == pytest.approx([1.0, 2.0])
    assert set(table["model"]) == {"toy-model"}


def test_metric_vs_fraction_and_time_budget(tmp_path):
    records = run_toy_study(tmp_path, """
        methods: [m1, m2]
        fractions: [0.1, 1.0]
        time_budgets: [null, 60]
        seeds: [0, 1, 2]
    """)
    try:
        by_fraction = metric_vs(records, "fraction")
        assert len(by_fraction) == 2 * 2 * 2  # method × time budget (null kept) × fraction
        assert set(by_fraction["n"]) == {3}
        assert by_fraction["time_budget"].isna().sum() == 4
        row = by_fraction.iloc[0]
        finals = [toy_accuracy(ToyConfig(method=row["method"], seed=s), 30) for s in (0, 1, 2)]
        assert row["value_mean"] == pytest.approx(np.mean(finals))
        assert len(metric_vs(records, "time_budget")) == 8
        assert metric_vs(records, "budget").empty  # not an axis of this study
        assert ripl_table(records).empty  # no AL strategies besides random
    finally:
        records.close()


def test_convergence_reaches_runs_and_tables(tmp_path):
    """A cell whose trainings did not converge is marked in its run row and in every group it is in."""
    records = run_toy_study(tmp_path, """
methods: [m1, m2]
grids:
  - {strategies: [random, entropy], seeds: [0, 1]}
  - {method: m2, strategy: entropy, seeds: [2], unconverged: true}
""")
    try:
        runs = records.completed.set_index(["method", "strategy", "seed"])
        assert str(runs.loc[("m2", "entropy", 2), "converged"]) == "False"
        assert str(runs.loc[("m1", "random", 0), "converged"]) == "True"
        flags = {(row.method, row.strategy): str(row.converged)
                 for row in auc_table(records).itertuples()}
        assert flags == {("m1", "random"): "True", ("m1", "entropy"): "True",
                         ("m2", "random"): "True", ("m2", "entropy"): "False"}
    finally:
        records.close()
