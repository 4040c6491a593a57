"""A method's recipe per task type: its table entry where it has one, its own rates otherwise, and
the options given always win."""

from types import SimpleNamespace

import pytest

from peftal.peft import METHODS
from peftal.peft.recipes import Recipe, method_recipe, resolve_recipe, task_type, train_config


class _Method:
    lr = 2e-3
    head_lr = 5e-3
    recipes = {"qa": Recipe(lr=1e-3, head_lr=1e-2, min_steps=700)}


def test_table_entry_for_its_task_type_and_own_rates_elsewhere():
    assert method_recipe(_Method, "qa") == Recipe(lr=1e-3, head_lr=1e-2, min_steps=700)
    assert method_recipe(_Method, "classification") == Recipe(lr=2e-3, head_lr=5e-3, min_steps=0)


def test_options_given_replace_each_value_of_the_recipe():
    assert resolve_recipe(_Method, "qa", lr=3e-4) == Recipe(lr=3e-4, head_lr=1e-2, min_steps=700)
    assert resolve_recipe(_Method, "qa", min_steps=0).min_steps == 0  # 0 turns the floor off
    config = train_config(_Method, "qa", SimpleNamespace(lr=None, head_lr=4e-3, min_steps=None),
                          epochs=2, batch_size=16)
    assert (config.lr, config.head_lr, config.min_steps, config.epochs) == (1e-3, 4e-3, 700, 2)


def test_pairs_are_their_own_task_type():
    assert task_type("classification", is_pair=True) == "pair"
    assert task_type("classification") == "classification"
    assert task_type("qa") == "qa"


@pytest.mark.parametrize("name", ["lora", "unipelt", "unipelt_prompt"])
def test_qa_recipes_floor_the_steps_and_leave_classification_alone(name):
    method = METHODS.get(name)
    qa = method_recipe(method, "qa")
    assert qa.min_steps >= 1000
    assert method_recipe(method, "classification") == Recipe(method.lr, method.head_lr)


def test_linear_probe_start_is_off_unless_a_recipe_or_an_option_turns_it_on():
    assert not train_config(_Method, "classification", SimpleNamespace(), epochs=1).linear_probe_init
    on = train_config(_Method, "classification", SimpleNamespace(linear_probe_init=True), epochs=1)
    assert on.linear_probe_init

    class _LpFt(_Method):
        recipes = {"classification": Recipe(lr=1e-3, head_lr=1e-2, linear_probe_init=True)}

    assert train_config(_LpFt, "classification", SimpleNamespace(), epochs=1).linear_probe_init
    off = train_config(_LpFt, "classification", SimpleNamespace(linear_probe_init=False), epochs=1)
    assert not off.linear_probe_init  # --no-linear-probe-init over a recipe that turns it on


def test_every_recipe_option_is_a_spec_recipe_key_and_pairs_claims_across_it():
    from peftal.claims import grammar
    from peftal.experiments import spec
    from peftal.peft.recipes import RECIPE_KEYS

    assert spec.RECIPE_KEYS == grammar.RECIPE_KEYS == RECIPE_KEYS
