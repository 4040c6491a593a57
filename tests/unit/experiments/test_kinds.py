"""Validation of active-learning specs through the real registries, before any compute."""

from __future__ import annotations

import json
import textwrap

import pytest

from peftal.al.strategies import STRATEGIES, strategies_for
from peftal.experiments.spec import SpecError
from peftal.experiments.study import plan_study
from peftal.experiments.study_kinds import STUDY_KINDS
from peftal.peft import METHODS


def tiny_dataset(folder, num_train=30, regression=False, multilabel=False):
    folder.mkdir()
    for split, size in (("train", num_train), ("test", 10)):
        with open(folder / f"{split}.jsonl", "w") as handle:
            for i in range(size):
                label = float(i % 5) if regression else ("a" if i % 2 else "b")
                label = [["a"], ["b"], ["a", "b"], []][i % 4] if multilabel else label
                handle.write(json.dumps({"text": f"example {i}", "label": label}) + "\n")
    return folder


def plan(tmp_path, body):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(body))
    return plan_study(path)


def test_active_learning_is_registered_with_the_run_options():
    kind = STUDY_KINDS.get("active_learning")
    assert kind.config_cls.__name__ == "RunConfig"


def test_every_registered_method_and_strategy_validates(tmp_path):
    data = tiny_dataset(tmp_path / "d", num_train=40)
    _, cells = plan(tmp_path, f"""
        datasets: [{data}]
        methods: {json.dumps(METHODS.names())}
        strategies: {json.dumps(strategies_for("classification"))}
        warm_start: 10
        budget: 20
    """)
    assert len(cells) == len(METHODS) * len(strategies_for("classification"))
    multilabel = tiny_dataset(tmp_path / "ml", num_train=40, multilabel=True)
    methods = [name for name, cls in METHODS.items() if "multilabel" in cls.tasks]
    _, cells = plan(tmp_path, f"""
        datasets: [{multilabel}]
        task: multilabel
        methods: {json.dumps(methods)}
        strategies: {json.dumps(strategies_for("multilabel"))}
        warm_start: 10
        budget: 20
    """)
    assert len(cells) == len(methods) * len(strategies_for("multilabel"))
    applicable = set(strategies_for("classification")) | set(strategies_for("multilabel"))
    assert applicable == set(STRATEGIES.names())


def test_all_problems_of_an_active_learning_spec_at_once(tmp_path):
    small = tiny_dataset(tmp_path / "small", num_train=30)
    scores = tiny_dataset(tmp_path / "scores", regression=True)
    with pytest.raises(SpecError) as caught:
        plan(tmp_path, f"""
            grids:
              - {{datasets: [{small}, nowhere, squad], methods: [lora, lorra], budget: 40}}
              - {{dataset: {scores}, task: regression, strategies: [entropy, random, mystery]}}
            warm_start: 10
            budget: 20
        """)
    problems = caught.value.problems
    assert any(p.startswith("unknown method 'lorra'; valid method names: ") for p in problems)
    assert any(p.startswith("unknown strategy 'mystery'") for p in problems)
    assert any(p.startswith("unknown dataset 'nowhere'") for p in problems)
    assert any("'squad' is a question-answering task" in p for p in problems)
    assert any(p.endswith(f"--budget (40) is larger than the pool of '{small}' (30 training examples)")
               for p in problems)
    assert any("strategy 'entropy' needs class probabilities" in p for p in problems)
    assert len(problems) == 6


def test_run_config_checks_reach_the_spec(tmp_path):
    with pytest.raises(SpecError, match=r"--budget \(20\) must be larger than --warm-start \(40\)"):
        plan(tmp_path, "datasets: [trec]\nwarm_start: 40\nbudget: 20\n")


@pytest.mark.parametrize("written", ["least-confidence", "Least_Confidence", "bald[passes=4]"])
def test_a_strategy_needing_probabilities_fails_validation_on_regression_however_written(tmp_path,
                                                                                          written):
    """Validation calls the run's own checks, so no spelling of a preset slips past it."""
    scores = tiny_dataset(tmp_path / "scores", regression=True)
    with pytest.raises(SpecError) as caught:
        plan(tmp_path, f"""
            dataset: {scores}
            task: regression
            strategies: ["{written}"]
            warm_start: 10
            budget: 20
        """)
    [problem] = caught.value.problems
    assert "needs class probabilities and does not apply to the regression task" in problem
