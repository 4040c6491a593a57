"""The default method: ``ia3``, ``lora`` on text pairs, unless a method is named."""

import argparse

import pytest

from peftal.data.builtin import has_pairs
from peftal.defaults import DEFAULT_METHOD, DEFAULT_PAIR_METHOD, default_method
from peftal.experiments.active_learning import RunConfig


def test_pairs_are_known_before_loading():
    assert has_pairs("mrpc", None) and has_pairs("rte", None) and has_pairs("stsb", None)
    assert not has_pairs("trec", None) and not has_pairs("data.csv", None)
    assert has_pairs("data.csv", "question")
    assert default_method(True) == DEFAULT_PAIR_METHOD == "lora"
    assert default_method(False) == DEFAULT_METHOD == "ia3"


@pytest.mark.parametrize(("options", "preset"), [
    ({}, "ia3"),
    ({"dataset": "mrpc"}, "lora"),
    ({"dataset": "data.csv", "text_pair_column": "b"}, "lora"),
    ({"dataset": "mrpc", "method": "ia3"}, "ia3"),
    ({"method": "bitfit"}, "bitfit"),
])
def test_a_run_trains_the_named_method_or_the_default_for_its_data(options, preset):
    config = RunConfig(**options)
    assert config.method_preset == preset
    assert config.method == options.get("method")  # what the user gave, as given


def test_the_label_app_stores_the_default_for_its_data(tmp_path):
    from peftal.cli.label import open_or_create

    data = tmp_path / "d.csv"
    data.write_text("text,pair\n" + "".join(f"t{i},p{i}\n" for i in range(6)))
    methods = []
    for name, pair in (("single", None), ("pairs", "pair")):
        # as the parser leaves it: the shared option blocks' options only when given
        args = argparse.Namespace(project=tmp_path / name, data=data, labels="a,b", method=None,
                                  strategy=None, query_size=None, budget=None, cold_start=None,
                                  cv_folds=None, pool_subsample=None, candidates=None, lease_seconds=None,
                                  overlap=None, multi_label=None,
                                  **({"text_pair_column": pair} if pair else {}))
        _, settings, created = open_or_create(args)
        methods.append((created, settings.method))
    assert methods == [(True, "ia3"), (True, "lora")]


@pytest.mark.parametrize(("options", "preset"), [
    ({}, "entropy"),
    ({"dataset": "goemotions"}, "br_entropy_mean"),
    ({"dataset": "data.csv", "task": "multilabel"}, "br_entropy_mean"),
    ({"dataset": "data.csv", "task": "regression"}, "entropy"),
    ({"dataset": "goemotions", "strategy": "lci"}, "lci"),
])
def test_a_run_queries_with_the_named_strategy_or_the_default_for_its_data(options, preset):
    config = RunConfig(**options)
    assert config.strategy_preset == preset
    assert config.strategy == options.get("strategy")


def test_a_default_strategy_keeps_the_cell_ids_of_stored_studies():
    from peftal.experiments.spec import cell_id_of

    # leaving the strategy to the default and naming the strategy it resolves to are one cell
    assert cell_id_of("active_learning", RunConfig()) == cell_id_of("active_learning",
                                                                     RunConfig(strategy="entropy"))
    multi = RunConfig(dataset="goemotions")
    assert cell_id_of("active_learning", multi) == cell_id_of(
        "active_learning", RunConfig(dataset="goemotions", strategy="br_entropy_mean"))
    assert cell_id_of("active_learning", multi) != cell_id_of(
        "active_learning", RunConfig(dataset="goemotions", strategy="entropy"))
