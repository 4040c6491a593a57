"""``peftal label`` bad input: one clear line and exit status 2, before anything is written."""

from __future__ import annotations

import json

import pytest

from peftal.cli import main
from tests.unit.label.conftest import write_csv


@pytest.fixture
def data(tmp_path):
    return write_csv(tmp_path / "data.csv", [f"text {i}" for i in range(8)])


def fails(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    ((), "creating one needs --data and --labels"),
    (("--labels", "a,b"), "creating one needs --data"),
    (("--data", "DATA", "--labels", "a"), "at least 2 label names"),
    (("--data", "DATA", "--labels", "a,a"), "label 'a' is given twice"),
    (("--data", "DATA", "--labels", "a,b", "--text-column", "txt"), "column 'txt' not found"),
    (("--data", "DATA", "--labels", "a,b", "--method", "lorax"), "unknown method 'lorax'"),
    (("--data", "DATA", "--labels", "a,b", "--strategy", "best"), "unknown strategy 'best'"),
    (("--data", "DATA", "--labels", "a,b", "--budget", "9"), "--budget (9) is larger than the 8"),
    (("--data", "DATA", "--labels", "a,b", "--cv-folds", "1"), "--cv-folds must be 0"),
    (("--data", "nowhere.csv", "--labels", "a,b"), "no such file"),
])
def test_start_refuses_bad_input_and_creates_nothing(tmp_path, capsys, data, extra, message):
    argv = [str(data) if a == "DATA" else str(tmp_path / a) if a == "nowhere.csv" else a for a in extra]
    err = fails(capsys, "label", "start", str(tmp_path / "p"), *argv)
    assert message in err and err.startswith("peftal: error:")
    assert not (tmp_path / "p" / "project.sqlite").exists()


def test_resume_keeps_what_defines_the_labels(tmp_path, capsys, data):
    from peftal.label import LabelSettings, create

    create(tmp_path / "p", data, LabelSettings(labels=("a", "b"), data=str(data.resolve())))
    err = fails(capsys, "label", "start", str(tmp_path / "p"), "--labels", "a,c", "--port", "1")
    assert "created with labels a,b; it cannot change to a,c" in err
    err = fails(capsys, "label", "start", str(tmp_path / "p"), "--method", "nope")
    assert "unknown method 'nope'" in err


def test_export_and_train_need_a_project_with_labels(tmp_path, capsys, data):
    from peftal.label import LabelSettings, create

    err = fails(capsys, "label", "export", str(tmp_path / "none"), "--output", str(tmp_path / "o.jsonl"))
    assert "is not a labelling project" in err
    create(tmp_path / "p", data, LabelSettings(labels=("a", "b")))
    err = fails(capsys, "label", "train", str(tmp_path / "p"), "--out", str(tmp_path / "run"))
    assert "has no labels yet" in err
    assert not (tmp_path / "run" / "summary.json").exists()
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "summary.json").write_text("{}")
    err = fails(capsys, "label", "train", str(tmp_path / "p"), "--out", str(tmp_path / "done"))
    assert "already holds a completed run" in err


def test_export_writes_one_object_per_labelled_text(tmp_path, capsys, make_project):
    store, _, folder = make_project(n=5, pairs=True)
    for label in ("negative", "neutral"):
        item = store.next_for("Bo", lease_seconds=60, budget=None)
        store.add_label(item["id"], label, "Bo")
    store.undo("Bo", lease_seconds=60)
    out = tmp_path / "labels.jsonl"
    assert main(["label", "export", str(folder), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1
    assert list(rows[0]) == ["id", "text", "text_pair", "label", "resolution", "annotations"]
    assert rows[0]["label"] == "negative" and rows[0]["resolution"] == "single"
    assert [(a["annotator"], a["label"]) for a in rows[0]["annotations"]] == [("Bo", "negative")]
    assert rows[0]["annotations"][0]["labelled_at"].endswith("Z")
    assert rows[0]["text"] == f"text number {rows[0]['id']}"


def test_resume_changes_training_settings_and_keeps_the_labels(tmp_path, data):
    from peftal.label import LabelSettings, create, resume

    store = create(tmp_path / "p", data, LabelSettings(labels=("a", "b"), data=str(data.resolve())))
    store.add_label(store.next_for("x", lease_seconds=60, budget=None)["id"], "a", "x")
    store.close()
    store, settings = resume(tmp_path / "p", {"labels": ["a", "b"], "epochs": 3, "method": "full",
                                              "data": str(data.resolve())})
    assert (settings.epochs, settings.method, settings.labels) == (3, "full", ("a", "b"))
    assert store.get_meta("settings")["epochs"] == 3
    assert [row["label"] for row in store.live_labels()] == ["a"]
    assert resume(tmp_path / "p", {})[1].epochs == 3  # stored, not just applied once
