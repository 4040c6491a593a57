"""The specs in configs/: each says how to run it, and each expands with the keys of its kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from peftal.experiments.spec import expand, load_spec
from peftal.experiments.study import plan_study
from peftal.experiments.study_kinds import STUDY_KINDS

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
SPECS = sorted(CONFIGS.glob("*.yaml"))
PAPERS = ("jukic2023", "doering2024", "chen2024")


def test_every_paper_has_a_spec_a_smoke_and_a_medium_variant():
    names = {path.stem for path in SPECS}
    for paper in PAPERS:
        assert {paper, f"{paper}-smoke", f"{paper}-medium"} <= names
    assert "example" in names


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_header_gives_the_command(path):
    header = path.read_text().split("\nname:", 1)[0]
    assert header.startswith("#")
    assert f"peftal study run configs/{path.name}" in header or (
        f"peftal study validate configs/{path.name}" in header)
    spec = load_spec(path)
    assert spec.name == path.stem


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_keys_and_values_are_valid_for_the_kind(path):
    spec = load_spec(path)
    if spec.kind not in STUDY_KINDS:
        pytest.skip(f"study kind {spec.kind!r} is not registered in this build")
    assert expand(spec, STUDY_KINDS.get(spec.kind).config_cls)


def test_the_example_validates_and_has_the_issue_s_eight_cells(data_dir):
    _, cells = plan_study(CONFIGS / "example.yaml")
    assert len(cells) == 8


@pytest.mark.parametrize("paper", PAPERS)
def test_medium_specs_validate_with_three_seeds_claims_and_a_stated_wall_time(paper, data_dir):
    path = CONFIGS / f"{paper}-medium.yaml"
    spec, cells = plan_study(path)  # every cell and every claim is checked
    assert len({cell.config.seed for cell in cells}) >= 3
    assert len(spec.raw["claims"]) >= 3
    header = path.read_text().split("\nname:", 1)[0]
    assert "Wall time:" in header and ("MEASURED" in header or "ESTIMATED" in header)


# Phrases of each abstract's findings that a claim of the medium specs must quote
ABSTRACT_FINDINGS = {
    "jukic2023-medium": ["superiority of PEFT over full-fine tuning", "this advantage persists in AL setups",
                         "more stable representations of early and middle layers",
                         "synergistic potential of AL and PEFT"],
    "doering2024-medium": ["matches full fine-tuning performance across varying amounts of training data",
                           "time constraints", "remarkable stability even with only 30% of data",
                           "outperforming full fine-tuning at intermediate data levels",
                           "Adapter modules exhibit high variability, with inconsistent gains"],
    "chen2024-medium": ["comparable to full model fine-tuning", "DAPT+TAPT", "UniPELT strategies",
                        "fewer or equivalent amount of parameters", "expedites the adaptation process"],
    "chen2024-medium-squad": ["comparable to full model fine-tuning", "UniPELT strategies",
                              "expedites the adaptation process"],
}


@pytest.mark.parametrize("name", sorted(ABSTRACT_FINDINGS))
def test_every_abstract_finding_is_a_claim(name):
    says = [claim.get("says", "") for claim in load_spec(CONFIGS / f"{name}.yaml").raw["claims"]]
    missing = [phrase for phrase in ABSTRACT_FINDINGS[name] if not any(phrase in s for s in says)]
    assert missing == []
