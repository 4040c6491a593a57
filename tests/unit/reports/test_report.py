"""``report.html`` and ``tables/*.csv`` from stored records (toy studies and a single run folder)."""

from __future__ import annotations

import base64
import subprocess
import sys

import pandas as pd
import pytest

from peftal.analysis.study_records import load_records
from peftal.analysis.tables import auc_table
from peftal.reports import sections
from peftal.reports.html import write_report
from peftal.store.results import STORE_NAME, ResultsStore
from tests.unit.analysis.test_tables import AL_STUDY, run_toy_study
from tests.unit.experiments.toy_kind import ToyConfig, run_toy

PNG = "data:image/png;base64,"


def embedded_pngs(page: str) -> list[bytes]:
    chunks = page.split(PNG)[1:]
    return [base64.b64decode(chunk.split('"', 1)[0]) for chunk in chunks]


def test_active_learning_report(tmp_path):
    records = run_toy_study(tmp_path, AL_STUDY)
    expected_auc = auc_table(records)
    records.close()
    page_path = write_report(tmp_path / "study")
    page = page_path.read_text()
    images = embedded_pngs(page)
    assert images and all(image.startswith(b"\x89PNG") for image in images)
    for heading in ("Learning curves", "Area under the learning curve",
                    "Relative improvement over passive learning (RIPL)", "Trainable parameters"):
        assert f"<h2>{heading}</h2>" in page
    assert "Metric by training-data fraction" not in page  # not a supervised study
    tables = tmp_path / "study" / "tables"
    assert {p.stem for p in tables.glob("*.csv")} == {"curves", "auc", "ripl", "parameters", "runs"}
    auc = pd.read_csv(tables / "auc.csv")
    assert auc["auc_mean"].tolist() == pytest.approx(expected_auc["auc_mean"].tolist())
    assert len(list((tmp_path / "study" / "figures").glob("*.png"))) == len(images)


def test_supervised_report_has_fraction_and_time_budget_sections(tmp_path):
    run_toy_study(tmp_path, "methods: [m1, m2]\nfractions: [0.1, 0.5]\ntime_budgets: [null, 30]\n"
                            "seeds: [0, 1]\n").close()
    page = write_report(tmp_path / "study").read_text()
    assert "<h2>Metric by training-data fraction</h2>" in page
    assert "<h2>Metric by training-time budget (seconds)</h2>" in page
    tables = {p.stem for p in (tmp_path / "study" / "tables").glob("*.csv")}
    assert {"metric_vs_fraction", "metric_vs_time_budget"} <= tables


def test_supervised_report_with_a_tapt_axis_compares_without_and_with(tmp_path):
    run_toy_study(tmp_path, "methods: [m1, m2]\ntapt: [false, true]\nseeds: [0, 1]\n").close()
    page = write_report(tmp_path / "study").read_text()
    assert "<h2>Metric without and with task-adaptive pretraining (TAPT)</h2>" in page
    table = pd.read_csv(tmp_path / "study" / "tables" / "metric_vs_tapt.csv")
    assert len(table) == 4 and set(table["n"]) == {2}  # method × tapt, two seeds each
    assert sorted(table["tapt"].astype(str).unique()) == ["False", "True"]


def test_the_runs_table_names_the_code_version_of_each_cell(tmp_path):
    records = run_toy_study(tmp_path, "methods: [m1]\nseeds: [0, 1]\n")
    provenance = {run["run_id"]: run["provenance"] for run in records.store.runs()}
    records.close()
    write_report(tmp_path / "study")
    runs = pd.read_csv(tmp_path / "study" / "tables" / "runs.csv", dtype={"code": str})
    assert len(runs) == 2
    for run_id, code in zip(runs["run_id"], runs["code"], strict=True):
        expected = provenance[run_id].get("git_commit")
        if expected is None:  # a source tree without git: the cell has no code version
            assert pd.isna(code)
        else:
            assert code == expected[:7] + ("+dirty" if provenance[run_id]["git_dirty"] else "")


def test_failed_cells_are_listed(tmp_path):
    run_toy_study(tmp_path, "grids:\n  - {seed: 0}\n  - {seed: 1, fail: true}\n").close()
    page = write_report(tmp_path / "study").read_text()
    assert "<h2>Failed cells</h2>" in page and "toy failure on purpose" in page
    assert "2 cells · 1 completed · 1 failed" in page


def test_report_of_a_single_run_folder(tmp_path):
    """A `peftal run` folder: one store, run id "run", no study.json."""
    config = ToyConfig(strategy="entropy")
    summary, records = run_toy(config)
    with ResultsStore(tmp_path / STORE_NAME) as store:
        store.begin_run("run", "active_learning", config.__dict__, {"seed": 0})
        for record in records:
            store.add_round("run", record)
        store.finish_run("run", summary)
    page = write_report(tmp_path).read_text()
    assert embedded_pngs(page)
    assert pd.read_csv(tmp_path / "tables" / "auc.csv")["auc_mean"].tolist() == pytest.approx(
        [summary["auc"]])
    assert "no &#x27;random&#x27; cell" in page or "no 'random' cell" in page


def test_a_registered_section_joins_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(sections.SECTIONS, "_items", dict(sections.SECTIONS._items))

    @sections.register_section("forgetting_test", order=60)
    def forgetting(records):
        counts = [len(records.store.labeled(run_id)) for run_id in records.completed["run_id"]]
        return sections.Section("Forgetting (test)", tables={"forgetting_test": pd.DataFrame(
            {"run_id": list(records.completed["run_id"]), "labeled": counts})})

    run_toy_study(tmp_path, "seeds: [0, 1]\n").close()
    page = write_report(tmp_path / "study").read_text()
    order = [page.index(f"<h2>{title}</h2>") for title in
             ("Trainable parameters", "Forgetting (test)", "Runs")]
    assert order == sorted(order)
    assert pd.read_csv(tmp_path / "study" / "tables" / "forgetting_test.csv")["labeled"].tolist() \
        == [30, 30]


def test_an_empty_folder_is_a_usage_error(tmp_path):
    from peftal.errors import UsageError

    with pytest.raises(UsageError, match="holds no results store"):
        load_records(tmp_path)


def test_reports_never_import_training():
    code = ("import sys, peftal.reports.html, peftal.cli.report; "
            "bad = [m for m in sys.modules if m.startswith(('peftal.training', 'peftal.al', "
            "'peftal.peft', 'torch'))]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_records_and_driver_agree_on_the_manifest_name():
    from peftal.analysis import study_records as records
    from peftal.experiments import study

    assert records.STUDY_FILE == study.STUDY_FILE  # analysis must not import the driver
