"""Claims through the real CLI: a tiny AL study on real TREC, `study validate`, `report`.

Every quantity that needs the real records of an AL run (AUC, RIPL against the paired random
run, CKA of the last round, the share of unforgettable queried examples) is judged once, and the
printed Claims table agrees with tables/claims.csv and with values recomputed from the stores.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from peftal.analysis.records import analyze
from tests.conftest import run_cli
from tests.integration.test_study_cli import SPEC, tiny_trec  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

CLAIMS = """\
claims:
  - says: entropy beats random
    check: ripl(strategy=entropy) > 0
  - check: auc(strategy=entropy) > auc(strategy=random)
    test: wilcoxon
  - check: cka[layers=1-2](strategy=entropy) = cka[layers=1-2](strategy=random) within 0.5
  - check: unforgettable[of=queried](strategy=entropy) < unforgettable[of=queried](strategy=random)
"""


def test_claims_are_validated_judged_printed_and_written(tmp_path, tiny_trec):  # noqa: F811
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.format(data=tiny_trec, seeds="[0, 1]")
                   + "claims:\n  - auc(method=full) > auc(method=lora)\n")
    result = run_cli("study", "validate", str(bad), check=False)
    assert result.returncode == 2
    assert "claim 1: no cell has method=full (values: lora)" in result.stderr

    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(data=tiny_trec, seeds="[0, 1]") + CLAIMS)
    run_cli("study", "validate", str(spec))
    out = tmp_path / "study"
    run_cli("study", "run", str(spec), "--out", str(out), "--threads", "1", "--no-progress")
    printed = run_cli("report", str(out)).stdout
    assert printed.startswith("Claims\n")
    table = pd.read_csv(out / "tables" / "claims.csv")
    assert table["claim"].tolist() == [1, 2, 3, 4]
    assert (table["n"] == 2).all()  # two seeds, paired
    assert set(table["verdict"]) <= {"holds", "does not hold", "within noise",
                                     "withheld: under-trained cells", "withheld: cells at chance"}
    assert table["test"].iloc[1] == "paired Wilcoxon signed-rank, one-sided, n=2 seeds"
    assert (table["p_holm"] >= table["p"]).all() and (table["paper_value"] == "not known").all()
    # a claim row is converged when every cell entering it is: here every row takes all cells
    runs = pd.read_csv(out / "tables" / "runs.csv")
    assert runs["converged"].notna().all()
    assert (table["converged"] == runs["converged"].all()).all()
    withheld = table["verdict"] == "withheld: under-trained cells"
    assert (withheld == ~table["converged"].astype(bool)).all()
    # every cell's last model is judged against chance; a converged row at chance is withheld
    assert runs["learned"].notna().all()
    at_chance = table["verdict"] == "withheld: cells at chance"
    assert (at_chance == (table["converged"].astype(bool) & ~table["learned"].astype(bool))).all()
    for line, row in zip(printed.splitlines()[3:7], table.itertuples(), strict=True):
        assert row.verdict in line and row.comparison in line
    assert "<h2>Claims</h2>" in (out / "report.html").read_text()

    # the CKA row, recomputed from the stored per-layer values
    cka = analyze(out)["cka"]
    by_strategy = {"entropy": [], "random": []}
    for cell in json.loads((out / "study.json").read_text())["cells"]:
        per_layer = cka[cell["cell_id"]]["per_layer"]
        by_strategy[cell["config"]["strategy"]].append(sum(per_layer[1:3]) / 2)
    assert table["left_mean"].iloc[2] == pytest.approx(sum(by_strategy["entropy"]) / 2)
    assert table["right_mean"].iloc[2] == pytest.approx(sum(by_strategy["random"]) / 2)
