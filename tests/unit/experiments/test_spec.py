"""Spec parsing and grid expansion: axes, sub-grids, every error at once, stable cell ids."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from peftal.errors import UsageError
from peftal.experiments.active_learning import RunConfig
from peftal.experiments.spec import SpecError, cell_id_of, expand, parse_spec
from tests.unit.experiments.toy_kind import ToyConfig

ISSUE_EXAMPLE = """
name: example
kind: active_learning
datasets: [trec]
methods: [lora, full]
strategies: [random, entropy]
seeds: [0, 1]
warm_start: 40
query_size: 20
budget: 80
epochs: 2
pool_subsample: 300
"""


def spec_of(text: str, **kwargs):
    return parse_spec(textwrap.dedent(text), **kwargs)


def test_issue_example_expands_to_the_cartesian_product():
    cells = expand(spec_of(ISSUE_EXAMPLE), RunConfig)
    assert len(cells) == 8
    combos = {(c.config.method, c.config.strategy, c.config.seed) for c in cells}
    assert combos == {(m, s, seed) for m in ("lora", "full") for s in ("random", "entropy")
                      for seed in (0, 1)}
    for cell in cells:  # scalars reach every cell; the rest keep RunConfig's defaults
        assert (cell.config.dataset, cell.config.warm_start, cell.config.budget) == ("trec", 40, 80)
        assert cell.config.pool_subsample == 300
        assert cell.config.batch_size == RunConfig().batch_size
        assert set(cell.axes) == {"method", "strategy", "seed"}
    assert len({c.cell_id for c in cells}) == 8


def test_supervised_keys_expand_generically():
    spec = spec_of("""
        kind: toy_test
        datasets: [a, b]
        fractions: [0.1, 0.5, 1]
        time_budgets: [null, 60]
        tapt: [false, true]
        seed: 3
    """)
    cells = expand(spec, ToyConfig)
    assert len(cells) == 2 * 3 * 2 * 2
    assert {c.config.fraction for c in cells} == {0.1, 0.5, 1.0}
    assert all(isinstance(c.config.fraction, float) for c in cells)  # int 1 coerced to the field type
    assert {c.config.time_budget for c in cells} == {None, 60.0}
    assert {c.config.tapt for c in cells} == {False, True}
    assert {c.config.seed for c in cells} == {3}


def test_plural_key_with_a_scalar_and_cli_spelling():
    cells = expand(spec_of("kind: toy_test\nseeds: 4\nmarker-dir: /x\n"), ToyConfig)
    assert [(c.config.seed, c.config.marker_dir) for c in cells] == [(4, "/x")]


def test_a_list_for_a_sequence_option_sets_it():
    (cell,) = expand(spec_of("kind: toy_test\ntags: [a, b]\n"), ToyConfig)
    assert cell.config.tags == ("a", "b")
    cells = expand(spec_of("kind: toy_test\ntagss: [[a], [b, c]]\n"), ToyConfig)
    assert [c.config.tags for c in cells] == [("a",), ("b", "c")]


def test_grids_are_a_union_of_sub_grids_overriding_the_top_level():
    spec = spec_of("""
        kind: toy_test
        methods: [m1, m2]
        grids:
          - {fractions: [0.1, 0.5, 1.0]}
          - {fraction: 1.0, time_budgets: [null, 30, 60]}   # (1.0, null) is in both: one cell
    """)
    cells = expand(spec, ToyConfig)
    assert len(cells) == 2 * 3 + 2 * 2
    assert {(c.config.fraction, c.config.time_budget) for c in cells} == {
        (0.1, None), (0.5, None), (1.0, None), (1.0, 30.0), (1.0, 60.0)}


def test_every_problem_is_reported_at_once():
    spec = spec_of("""
        kind: toy_test
        stratgies: [random]
        budget: [5, 30]
        seeds: []
        warmstart: 3
    """, source="bad.yaml")
    with pytest.raises(SpecError) as caught:
        expand(spec, ToyConfig)
    problems = caught.value.problems
    text = str(caught.value)
    assert text.startswith("bad.yaml: ")
    assert any("'stratgies'" in p and "did you mean 'strategies'" in p for p in problems)
    assert any("'warmstart'" in p for p in problems)
    assert any("'seeds' is an empty list" in p for p in problems)
    assert any("--budget must be >= 10, got 5" in p for p in problems)
    assert len(problems) == 4


def test_a_bad_value_shared_by_many_cells_is_reported_once():
    spec = spec_of("kind: toy_test\nseeds: [0, 1, 2]\nbudget: 5\n")
    with pytest.raises(SpecError) as caught:
        expand(spec, ToyConfig)
    assert len(caught.value.problems) == 1
    assert "3 cells" in caught.value.problems[0]


def test_wrong_type_names_the_value():
    with pytest.raises(SpecError, match="cell.budget must be int, got 'many'"):
        expand(spec_of("kind: toy_test\nbudget: many\n"), ToyConfig)


def test_key_given_as_singular_and_plural():
    with pytest.raises(SpecError, match="'seed' is given twice"):
        expand(spec_of("kind: toy_test\nseed: 1\nseeds: [2, 3]\n"), ToyConfig)


def test_duplicate_cells_are_refused():
    with pytest.raises(SpecError, match="duplicate cell"):
        expand(spec_of("kind: toy_test\nseeds: [1, 1]\n"), ToyConfig)


@pytest.mark.parametrize("text, message", [
    ("datasets: [trec\nmethods: lora\n", "malformed YAML at line"),
    ("- just\n- a list\n", "a study spec is a YAML mapping"),
    ("", "the spec is empty"),
    ("grids: []\n", "'grids' is an empty list"),
    ("grids: {fraction: 1}\n", "'grids' must be a list of mappings"),
])
def test_unreadable_specs(text, message):
    with pytest.raises(UsageError, match=message):
        parse_spec(text, source="s.yaml")


def test_cell_ids_are_stable_and_ignore_order_and_explicit_defaults():
    a = expand(spec_of(ISSUE_EXAMPLE), RunConfig)
    b = expand(spec_of(ISSUE_EXAMPLE.replace("[lora, full]", "[full, lora]")
                       + f"\nbatch_size: {RunConfig().batch_size}\n"), RunConfig)
    assert {c.cell_id for c in a} == {c.cell_id for c in b}
    changed = expand(spec_of(ISSUE_EXAMPLE.replace("budget: 80", "budget: 100")), RunConfig)
    assert not {c.cell_id for c in a} & {c.cell_id for c in changed}
    for cell in a:
        assert cell.cell_id == cell_id_of("active_learning", dataclasses.replace(cell.config))
        assert cell.cell_id != cell_id_of("supervised", cell.config)


def test_cell_ids_survive_a_new_option_with_a_default():
    @dataclasses.dataclass(frozen=True)
    class Old:
        seed: int = 0
        budget: int = 30

    @dataclasses.dataclass(frozen=True)
    class New:
        seed: int = 0
        budget: int = 30
        precision: str = "auto"

    assert cell_id_of("k", Old(seed=1, budget=50)) == cell_id_of("k", New(seed=1, budget=50))
    assert cell_id_of("k", Old(seed=1)) != cell_id_of("k", New(seed=1, precision="bf16"))


def test_cell_ids_name_the_method_a_cell_trains():
    """Ids compare the method with ``lora``, the default when ids were first made: a stored ``lora``
    cell keeps its id, and a cell leaving the method to the default shares the id of the cell
    naming the method it trains (``ia3``; ``lora`` on pairs)."""
    import hashlib
    import json

    first = hashlib.sha256(json.dumps({"kind": "k", "config": {"seed": 1}}, sort_keys=True)
                           .encode()).hexdigest()[:16]
    assert cell_id_of("k", RunConfig(seed=1, method="lora")) == first
    assert cell_id_of("k", RunConfig(seed=1)) == cell_id_of("k", RunConfig(seed=1, method="ia3")) != first
    assert (cell_id_of("k", RunConfig(dataset="mrpc"))
            == cell_id_of("k", RunConfig(dataset="mrpc", method="lora")))


def test_a_cell_leaving_the_method_to_the_default_stores_the_method_it_trains():
    text = ISSUE_EXAMPLE.replace("datasets: [trec]", "datasets: [trec, mrpc]").replace(
        "methods: [lora, full]\n", "")
    cells = expand(spec_of(text), RunConfig)
    stored = {(c.config.dataset, c.config_dict["method"]) for c in cells}
    assert stored == {("trec", "ia3"), ("mrpc", "lora")}
    assert all(c.config.method is None for c in cells)


def test_a_studys_recipes_set_each_methods_rates_under_what_the_spec_sets():
    spec = spec_of("""
        datasets: [trec]
        methods: [lora, full, "houlsby[reduction_factor=8]"]
        seeds: [0]
        recipes:
          full: {lr: 3.0e-5, min-steps: 100}
          "houlsby[reduction_factor=8]": {lr: 1.0e-3, linear_probe_init: true}
          lora: {lr: 1.0e-2}
        grids:
          - {}
          - {methods: [lora], lr: 5.0e-4, seeds: [1]}
    """)
    by_cell = {(c.config.method, c.config.seed): c.config for c in expand(spec, RunConfig)}
    assert (by_cell["full", 0].lr, by_cell["full", 0].min_steps) == (3e-5, 100)
    assert (by_cell["houlsby[reduction_factor=8]", 0].lr, by_cell["lora", 0].lr) == (1e-3, 1e-2)
    assert by_cell["lora", 1].lr == 5e-4  # a sub-grid's lr wins over the study's recipe
    assert by_cell["lora", 0].min_steps is None  # the method's own step floor
    assert by_cell["houlsby[reduction_factor=8]", 0].linear_probe_init  # LP-FT start
    assert by_cell["full", 0].linear_probe_init is None  # the method's own (off)


@pytest.mark.parametrize("recipes, message", [
    ("{bitfit: {lr: 1.0e-3}}", "recipes: 'bitfit' is not a method of the study's cells (full, lora)"),
    ("{lora: {epochs: 3}}", "recipes: lora: unknown key 'epochs'; a recipe sets lr, head_lr, min_steps, "
                                       "linear_probe_init"),
    ("[lora]", "'recipes' must map a method to its settings"),
])
def test_bad_recipes_are_refused(recipes, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        expand(spec_of(f"datasets: [trec]\nmethods: [lora, full]\nrecipes: {recipes}\n"), RunConfig)
