"""The study driver with a toy kind: resume, failures, crashed workers, changed specs, provenance."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from peftal.errors import UsageError
from peftal.experiments.executors import LocalExecutor, make_executor
from peftal.experiments.spec import SpecError
from peftal.experiments.study import (
    SPEC_COPY,
    STUDY_FILE,
    parse_rerun,
    plan_study,
    record_outcome,
    run_study,
    select_cells,
    study_status,
)
from peftal.experiments.worker import execute_cell
from peftal.records import RoundRecord
from peftal.store.results import STORE_NAME, ResultsStore
from peftal.training.device import resolve_device
from peftal.training.precision import resolve_precision
from tests.unit.experiments.toy_kind import TOY, ToyConfig


class CountingExecutor:
    """Runs cells in this process and remembers which it was given."""

    name = "counting"

    def __init__(self) -> None:
        self.given: list[str] = []

    def run(self, cells):
        for cell in cells:
            self.given.append(cell.cell_id)
            yield cell, execute_cell(cell.kind, cell.config_dict, cell_id=cell.cell_id)


class Recording:
    """Wraps an executor and remembers which cells it was given."""

    name = "recording"

    def __init__(self, inner) -> None:
        self.inner = inner
        self.given: list[str] = []

    def run(self, cells):
        self.given = [cell.cell_id for cell in cells]
        yield from self.inner.run(cells)


def write_spec(tmp_path: Path, body: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"name: toy\nkind: {TOY}\n" + textwrap.dedent(body))
    return path


def stored(out: Path) -> list[dict]:
    with ResultsStore(out / STORE_NAME) as store:
        return store.runs()


def test_run_then_rerun_skips_completed_cells(tmp_path):
    spec = write_spec(tmp_path, "methods: [m1, m2]\nstrategies: [random, entropy]\nseeds: [0, 1]\n")
    out = tmp_path / "study"
    first = CountingExecutor()
    status = run_study(spec, out, first, progress=False)
    assert status.counts() == {"total": 8, "done": 8, "failed": 0}
    assert len(set(first.given)) == 8
    again = CountingExecutor()
    assert run_study(spec, out, again, progress=False).counts()["done"] == 8
    assert again.given == []
    assert (out / SPEC_COPY).read_text() == spec.read_text()
    manifest = json.loads((out / STUDY_FILE).read_text())
    assert {c["cell_id"] for c in manifest["cells"]} == {r["run_id"] for r in stored(out)}


def test_interrupted_cells_are_rerun_and_stored_once(tmp_path):
    spec = write_spec(tmp_path, "seeds: [0, 1, 2]\n")
    out = tmp_path / "study"
    _, cells = plan_study(spec)
    out.mkdir()
    run_study(spec, out, CountingExecutor(), progress=False)
    # Simulate a driver killed mid-cell: cell 1 started but never finished, cell 2 never started.
    with ResultsStore(out / STORE_NAME) as store:
        store.begin_run(cells[1].cell_id, TOY, cells[1].config_dict, {})
        store.add_round(cells[1].cell_id, RoundRecord(round=0, num_labeled=10, metrics={},
                                                      train_seconds=0))
        store._db.execute("DELETE FROM runs WHERE run_id = ?", (cells[2].cell_id,))
        store._db.commit()
    assert study_status(out).counts() == {"total": 3, "done": 1, "failed": 0}
    resumed = CountingExecutor()
    run_study(spec, out, resumed, progress=False)
    assert sorted(resumed.given) == sorted([cells[1].cell_id, cells[2].cell_id])
    runs = stored(out)
    assert sorted(r["run_id"] for r in runs) == sorted(c.cell_id for c in cells)
    with ResultsStore(out / STORE_NAME) as store:
        assert [r["num_labeled"] for r in store.rounds(cells[1].cell_id)] == [10, 20, 30]


def test_failing_and_crashing_cells_are_recorded_and_the_study_goes_on(tmp_path):
    spec = write_spec(tmp_path, """
        grids:
          - {seeds: [0, 1]}
          - {seed: 2, fail: true}
          - {seed: 3, crash: true}
    """)
    out = tmp_path / "study"
    status = run_study(spec, out, LocalExecutor(workers=2), progress=False)
    assert status.counts() == {"total": 4, "done": 2, "failed": 2}
    errors = sorted(status.errors.values())
    assert errors[0].startswith("RuntimeError: toy failure on purpose")
    assert errors[1] == "worker died (exit status 3)"
    # The next run retries only the failed cells (which fail again).
    retry = Recording(LocalExecutor(workers=2))
    assert run_study(spec, out, retry, progress=False).counts() == {"total": 4, "done": 2,
                                                                    "failed": 2}
    assert sorted(retry.given) == sorted(status.errors)


def test_rerun_runs_the_chosen_cells_again_and_keeps_their_earlier_results(tmp_path):
    from peftal.analysis.study_records import load_records
    from peftal.reports.sections import overview

    spec = write_spec(tmp_path, "methods: [m1, m2]\nseeds: [0, 1]\n")
    out = tmp_path / "study"
    run_study(spec, out, CountingExecutor(), progress=False)
    _, cells = plan_study(spec)
    m2 = sorted(cell.cell_id for cell in cells if cell.config.method == "m2")
    with ResultsStore(out / STORE_NAME) as store:
        before = {cell_id: store.round_records(cell_id) for cell_id in m2}

    again = Recording(CountingExecutor())
    status = run_study(spec, out, again, progress=False, rerun=parse_rerun(["method=m2"]))
    assert sorted(again.given) == m2
    assert status.counts() == {"total": 4, "done": 4, "failed": 0} and status.superseded == 2
    with ResultsStore(out / STORE_NAME) as store:
        kept = store.runs("superseded")
        assert sorted(run["run_id"] for run in kept) == [f"{i}@superseded-1" for i in m2]
        assert all(run["provenance"]["superseded_at"] >= run["finished_at"] for run in kept)
        for cell_id in m2:  # every record of the earlier result is kept, under the new id
            assert store.round_records(f"{cell_id}@superseded-1") == before[cell_id]
        assert len(store.runs()) == 4  # the current runs only
    records = load_records(out)
    assert sorted(records.runs["run_id"]) == sorted(c.cell_id for c in cells)
    assert "2 earlier results of re-run cells" in overview(records).text

    # Again, with two keys (a cell must match both) and a value list: the next number is used.
    again = Recording(CountingExecutor())
    run_study(spec, out, again, progress=False,
              rerun=parse_rerun(["method=m2,m1", "seed=1"]))
    assert len(again.given) == 2
    with ResultsStore(out / STORE_NAME) as store:
        ids = sorted(run["run_id"] for run in store.runs("superseded"))
    assert len(ids) == 4 and sum(i.endswith("@superseded-2") for i in ids) == 1


def test_rerun_filters_are_checked_before_anything_runs(tmp_path):
    spec = write_spec(tmp_path, "methods: [m1, m2]\ntapt: true\n")
    out = tmp_path / "study"
    with pytest.raises(UsageError, match="--rerun: no option colour in this study's cells"):
        run_study(spec, out, CountingExecutor(), progress=False, rerun={"colour": ["red"]})
    with pytest.raises(UsageError, match="--rerun method=m3 selects no cell"):
        run_study(spec, out, CountingExecutor(), progress=False, rerun={"method": ["m3"]})
    assert not out.exists()
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_rerun(["method"])
    # values are read as a spec's are: 1e-3 is the float a spec's lr holds, true the boolean
    assert parse_rerun(["lr=1e-3", "tapt=true", "seed=0,1", "method=m1"]) == {
        "lr": [0.001], "tapt": [True], "seed": [0, 1], "method": ["m1"]}
    _, cells = plan_study(spec)
    assert len(select_cells(cells, parse_rerun(["tapt=true", "method=m1"]))) == 1
    with pytest.raises(UsageError, match="selects no cell"):
        select_cells(cells, parse_rerun(["tapt=false"]))


def test_changed_spec_is_refused_unless_forced(tmp_path):
    spec = write_spec(tmp_path, "seeds: [0, 1]\n")
    out = tmp_path / "study"
    run_study(spec, out, CountingExecutor(), progress=False)
    write_spec(tmp_path, "seeds: [0, 1, 2]\n")
    with pytest.raises(UsageError, match=r"different spec \(1 cells added, 0 removed\).*--force"):
        run_study(spec, out, CountingExecutor(), progress=False)
    forced = CountingExecutor()
    status = run_study(spec, out, forced, force=True, progress=False)
    assert status.counts() == {"total": 3, "done": 3, "failed": 0}
    assert len(forced.given) == 1  # the two completed cells are kept
    # A comment or a reordering is not a change.
    spec.write_text(spec.read_text().replace("[0, 1, 2]", "[2, 1, 0]") + "# note\n")
    assert run_study(spec, out, CountingExecutor(), progress=False).done == 3


def test_a_second_driver_on_the_same_directory_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    spec = write_spec(tmp_path, "seeds: [0]\n")
    out = tmp_path / "study"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UsageError, match="another `peftal study run` is writing"):
            run_study(spec, out, CountingExecutor(), progress=False)


def test_a_folder_holding_a_single_run_is_not_taken_over(tmp_path):
    spec = write_spec(tmp_path, "seeds: [0]\n")
    out = tmp_path / "run"
    ResultsStore(out / STORE_NAME).close()
    with pytest.raises(UsageError, match="not a study's"):
        run_study(spec, out, CountingExecutor(), progress=False)


def test_local_executor_cells_run_in_their_own_processes_with_provenance(tmp_path):
    marker = tmp_path / "markers"
    marker.mkdir()
    spec = write_spec(tmp_path, f"seeds: [0, 1]\nmarker_dir: {marker}\n")
    out = tmp_path / "study"
    run_study(spec, out, LocalExecutor(), progress=False)
    assert len({name.split("-")[0] for name in (p.name for p in marker.iterdir())}) == 2
    for run in stored(out):
        provenance = run["provenance"]
        assert provenance["executor"] == "local"
        assert provenance["config"] == run["config"]
        assert provenance["seed"] == run["config"]["seed"]
        assert provenance["wall_seconds"] > 0 and provenance["peak_memory_mb"] > 0
        assert provenance["peftal"] and "torch" in provenance["libraries"]
        # what `--precision auto` trains in on this machine (bf16 with AMX, else fp32)
        assert provenance["auto_precision"] == resolve_precision("auto", resolve_device("auto"))
        assert provenance["cell_id"] == run["run_id"]
        assert run["summary"]["auc"] == pytest.approx(
            sum((a + b) / 2 for a, b in zip(*(lambda v: (v[:-1], v[1:]))(
                [r["metrics"]["accuracy"] for r in run["summary"]["rounds"]]), strict=True)) / 2)


def test_execute_cell_reports_failures_instead_of_raising():
    outcome = execute_cell(TOY, {**ToyConfig().__dict__, "fail": True})
    assert outcome["status"] == "failed"
    assert outcome["error"] == "RuntimeError: toy failure on purpose"
    assert "Traceback" in outcome["traceback"]


def test_record_outcome_writes_rounds_before_completion(tmp_path):
    spec = write_spec(tmp_path, "seeds: [0]\n")
    _, (cell,) = plan_study(spec)
    with ResultsStore(tmp_path / STORE_NAME) as store:
        outcome = execute_cell(TOY, cell.config_dict)
        outcome["started_at"] -= 60.0  # as if the cell had taken a minute
        record_outcome(store, cell, outcome, "toy")
        (run,) = store.runs()
        assert run["status"] == "completed"
        # the row starts when the cell began, not when its outcome was written
        assert run["finished_at"] - run["started_at"] >= 60.0
        assert run["provenance"]["study"] == "toy" and run["provenance"]["axes"] == {"seed": 0}
        assert len(store.rounds(cell.cell_id)) == 3
        assert store.labeled(cell.cell_id)  # the records go to the usual tables


def test_validation_errors_of_the_kind_join_the_spec_errors(tmp_path):
    spec = write_spec(tmp_path, "datasets: [missing, toy]\nbudget: 3\n")
    with pytest.raises(SpecError) as caught:
        plan_study(spec)
    assert any("--budget must be >= 10" in p for p in caught.value.problems)


def test_unknown_kind_lists_the_valid_ones(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("kind: nope\nseeds: [0]\n")
    with pytest.raises(SpecError, match="unknown study kind 'nope'; valid study kind names: ") as caught:
        plan_study(path)
    # each kind registers itself when its module is imported, so their order is the import order
    assert {"active_learning", "supervised"} <= set(str(caught.value).split("names: ")[1].split(", "))


def test_make_executor_checks_its_options():
    with pytest.raises(UsageError, match="--ray-address, --cpus-per-cell and --gpus-per-cell need"):
        make_executor("local", ray_address="ray://x:1")
    with pytest.raises(UsageError, match="--workers and --threads are for the local executor"):
        make_executor("ray", workers=2)
    with pytest.raises(UsageError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(UsageError, match="--workers must be >= 1"):
        LocalExecutor(workers=0)
