"""The claim grammar of study specs: parsing, and every problem reported by `study validate`."""

from __future__ import annotations

import pytest

from peftal.claims.grammar import parse_claim
from peftal.experiments.spec import SpecError
from peftal.experiments.study import plan_study
from tests.unit.experiments.toy_kind import TOY

GRID = f"""name: toy
kind: {TOY}
methods: [m1, m2]
strategies: [random, entropy]
seeds: [0, 1, 2]
"""


def plan(tmp_path, claims: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text(GRID + "claims:\n" + claims)
    return plan_study(spec)


def test_a_claim_parses_into_two_sides_and_options():
    claim = parse_claim({"says": "PEFT wins", "check": "auc(method=m2|m3, fraction=0.3) > auc(method=m1)",
                         "per": ["dataset"], "paper": "Table 2"}, 1)
    assert claim.left.quantity == "auc" and claim.op == ">"
    assert claim.left.select == {"method": ("m2", "m3"), "fraction": (0.3,)}
    assert claim.right.select == {"method": ("m1",)}
    assert (claim.per, claim.test, claim.alpha, claim.paper) == (("dataset",), "t", 0.05, "Table 2")


def test_presets_keep_their_commas_and_numbers_and_bands_parse():
    claim = parse_claim("final[metric=f1](method=lora[r=8,alpha=16], tapt=true) = "
                        "final[metric=f1](method=full) within 0.02", 2)
    assert claim.left.select == {"method": ("lora[r=8,alpha=16]",), "tapt": (True,)}
    assert claim.left.options == {"metric": "f1"} and claim.margin == 0.02
    constant = parse_claim("ripl(strategy=entropy) > 0", 3)
    assert constant.right is None and constant.number == 0.0


@pytest.mark.parametrize(("check", "message"), [
    ("accuracy(method=m1) > auc(method=m2)", "unknown quantity 'accuracy'"),
    ("auc(method=m1) = auc(method=m2)", "'=' needs a band"),
    ("auc(method=m1) > auc(method=m2|m3)", "one value per key"),
    ("auc(method=m1) > final(method=m2)", "same quantity"),
    ("cka[depth=3](method=m1) > 0", "bad option 'depth=3'"),
    ("cka[layers=early](method=m1) > 0", "layers must read FIRST-LAST"),
    ("unforgettable[of=some](method=m1) > 0", "'of' must be all or queried"),
    ("auc method m1 > full", "'check' must read like"),
    ("ripl(strategy=random) > 0", "ripl of the 'random' strategy"),
])
def test_malformed_claims_are_refused_with_the_reason(check, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_claim({"check": check}, 1)


def test_validate_collects_every_claim_problem_with_the_others(tmp_path):
    with pytest.raises(SpecError) as caught:
        plan(tmp_path, """\
  - check: auc(method=m2) > auc(method=m1)                 # fine
  - check: auc(method=m9) > auc(method=m1)                 # no cell has m9
  - check: auc(method=m2) > auc(method=m1)
    per: [datasett]                                        # not an option
  - {check: "auc(method=m2) > 0", alpha: 0.7}              # alpha out of range
  - {check: "auc(method=m2) > 0", colour: red}             # unknown key
""")
    problems = caught.value.problems
    assert len(problems) == 4
    assert "claim 2: no cell has method=m9 (values: m1, m2)" in problems
    assert "claim 3: 'datasett' is not an option of the study's cells" in problems
    assert any(p.startswith("claim 4: alpha must lie in (0, 0.5)") for p in problems)
    assert any(p.startswith("claim 5: unknown key 'colour'") for p in problems)


def test_a_claim_without_partner_cells_is_refused(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: toy\nkind: {TOY}\ngrids:\n  - {{method: m1, seeds: [0, 1]}}\n"
                    "  - {method: m2, seeds: [0, 1, 2]}\nclaims:\n"
                    "  - auc(method=m2) > auc(method=m1)\n")
    with pytest.raises(SpecError, match="1 of the 3 cells of auc\\(method=m2\\) have no partner"):
        plan_study(spec)


def test_valid_claims_pass_and_ripl_needs_its_random_cells(tmp_path):
    _, cells = plan(tmp_path, "  - ripl(strategy=entropy) > 0\n  - auc(method=m2) > auc(method=m1)\n")
    assert len(cells) == 12
    spec = tmp_path / "ripl.yaml"
    spec.write_text(f"name: toy\nkind: {TOY}\nstrategies: [entropy]\nclaims:\n  - ripl() > 0\n")
    with pytest.raises(SpecError, match="ripl needs a 'random' cell"):
        plan_study(spec)


def test_claims_do_not_change_cell_ids(tmp_path):
    bare = tmp_path / "bare.yaml"
    bare.write_text(GRID)
    _, with_claims = plan(tmp_path, "  - auc(method=m2) > auc(method=m1)\n")
    assert [c.cell_id for c in with_claims] == [c.cell_id for c in plan_study(bare)[1]]


def test_a_paper_value_needs_its_source_and_may_be_per_group():
    with pytest.raises(ValueError, match="paper_value needs paper_source"):
        parse_claim({"check": "auc(method=m2) > auc(method=m1)", "paper_value": 0.85}, 1)
    with pytest.raises(ValueError, match="paper_value must be a number"):
        parse_claim({"check": "auc(method=m2) > 0", "paper_value": "high", "paper_source": "T2"}, 1)
    claim = parse_claim({"check": "auc(method=m2) > auc(method=m1)", "paper_source": "Table 2",
                         "paper_value": {"trec": 0.9, "subj": "0.95"}}, 1)
    assert claim.paper_value == {"trec": 0.9, "subj": 0.95} and claim.paper_source == "Table 2"


def test_a_claim_the_study_cannot_test_validates_without_its_cells(tmp_path):
    _, cells = plan(tmp_path, """\
  - says: "comparable to DAPT+TAPT"
    check: final(method=m2) = final(dapt=true) within 0.02
    not_judged: "no DAPT cells"
""")
    assert len(cells) == 12
    claim = parse_claim({"check": "final(method=m2) = final(dapt=true) within 0.02",
                         "not_judged": "no DAPT cells"}, 1)
    assert claim.not_judged == "no DAPT cells"


def test_a_metric_no_dataset_of_the_claim_records_is_refused(tmp_path):
    spec = tmp_path / "spec.yaml"
    body = "name: s\nkind: supervised\ndatasets: [cola, mrpc]\nmethods: [full, bitfit]\nclaims:\n"
    spec.write_text(body + "  - final[metric=mcc|f1](method=bitfit) > final[metric=mcc|f1](method=full)\n")
    plan_study(spec)  # CoLA records MCC, MRPC F1
    spec.write_text(body + "  - final[metric=mcc](method=bitfit) > final[metric=mcc](method=full)\n")
    with pytest.raises(SpecError, match="dataset 'mrpc' records none of mcc"):
        plan_study(spec)


def test_a_pair_by_method_ignores_the_methods_recipes_and_nothing_else():
    from peftal.claims.grammar import identity

    bitfit = {"dataset": "cola", "method": "bitfit", "lr": 1e-3, "min_steps": None, "seed": 0}
    full = {"dataset": "cola", "method": "full", "lr": None, "min_steps": None, "seed": 0}
    assert identity(bitfit, ["method"]) == identity(full, ["method"])
    assert identity(bitfit, ["seed"]) != identity({**bitfit, "lr": 1e-2}, ["seed"])  # a real change
    assert identity(bitfit, ["method"]) != identity({**full, "seed": 1}, ["method"])
