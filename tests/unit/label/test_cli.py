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
    (("--data", "DATA", "--labels", "a,b", "--token", "short"), "--token must be at least 16"),
    (("--data", "DATA", "--labels", "a,b", "--guidelines", "nowhere.md"), "--guidelines"),
])
def test_start_refuses_bad_input_and_creates_nothing(tmp_path, capsys, data, extra, message):
    argv = [str(data) if a == "DATA" else str(tmp_path / a) if a.startswith("nowhere.") else a for a in extra]
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


@pytest.mark.parametrize("value, message", [
    ("1.5", "--overlap must be a fraction between 0 and 1, got 1.5"),
    ("-0.1", "--overlap must be a fraction between 0 and 1, got -0.1"),
    ("nan", "--overlap must be a fraction between 0 and 1, got nan"),
])
def test_start_refuses_an_overlap_outside_0_to_1(tmp_path, capsys, data, value, message):
    err = fails(capsys, "label", "start", str(tmp_path / "p"), "--data", str(data), "--labels", "a,b",
                "--overlap", value, "--port", "0")
    assert err.startswith("peftal: error:") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p").exists()


def test_start_refuses_negative_candidates_and_stores_the_number(tmp_path, capsys, data):
    err = fails(capsys, "label", "start", str(tmp_path / "p"), "--data", str(data), "--labels", "a,b",
                "--candidates", "-1", "--port", "0")
    assert err.startswith("peftal: error:") and "--candidates must be an integer >= 0, got -1" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "p").exists()
    from peftal.label import LabelSettings, create, resume

    create(tmp_path / "q", data, LabelSettings(labels=("a", "b"), data=str(data.resolve()))).close()
    store, settings = resume(tmp_path / "q", {"candidates": 5})
    assert settings.candidates == 5 and store.get_meta("settings")["candidates"] == 5
    store.close()
    assert resume(tmp_path / "q", {})[1].candidates == 5  # stored


def test_start_refuses_an_overlap_that_is_not_a_number(tmp_path, capsys, data):
    with pytest.raises(SystemExit) as stopped:
        main(["label", "start", str(tmp_path / "p"), "--data", str(data), "--labels", "a,b",
              "--overlap", "half"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("peftal: error:") and "--overlap" in err and len(err.splitlines()) == 1


def two_annotators(make_project):
    """A project with overlap 1 of 8 texts: a labels them all, b the first 6 (disagreeing on 4
    and 5), c the last two (disagreeing on 7)."""
    store, settings, folder = make_project(n=8, overlap=1.0)
    a = {i: "positive" if i % 2 else "negative" for i in range(8)}
    b = {i: a[i] if i < 4 else "neutral" for i in range(6)}
    for annotator, given in (("a", a), ("b", b), ("c", {6: a[6], 7: "neutral"})):
        for example_id, label in given.items():
            store.add_label(example_id, label, annotator, overlap=1.0)
    return store, folder, a, b


def test_stats_prints_kappa_and_alpha_per_pair_and_label(capsys, make_project):
    from sklearn.metrics import cohen_kappa_score

    store, folder, a, b = two_annotators(make_project)
    assert main(["label", "stats", str(folder)]) == 0
    out = capsys.readouterr().out
    kappa = cohen_kappa_score([a[i] for i in range(6)], [b[i] for i in range(6)])
    assert f"a / b           6      66.7%  {kappa:.3f}" in out
    # a / c: observed 1/2; chance: both say "negative" half the time, 0.25; (0.5-0.25)/0.75 = 1/3.
    assert "a / c           2      50.0%  0.333" in out
    assert "8 of 8 texts labelled, 16 annotations by 3 annotators (--overlap 1)" in out
    assert "texts labelled more than once: 8; unresolved ties: 3" in out
    assert "disagreements to review (the page /review): 3; texts reviewed: 0" in out
    assert "Krippendorff's alpha (nominal), on the 8 texts labelled more than once" in out
    assert main(["label", "stats", str(folder), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)
    assert numbers["annotations"] == 16 and numbers["by_annotator"] == {"a": 8, "b": 6, "c": 2}
    assert (numbers["disagreements"], numbers["reviewed"]) == (3, 0)
    pair = next(p for p in numbers["agreement"]["pairs"] if p["annotators"] == ["a", "b"])
    assert pair["kappa"] == pytest.approx(kappa)
    assert f"(all labels)  {numbers['agreement']['alpha']:.3f}" in out


def test_export_keeps_every_annotation_and_writes_the_agreement(tmp_path, capsys, make_project):
    store, folder, a, b = two_annotators(make_project)
    out, agreement = tmp_path / "labels.jsonl", tmp_path / "agreement.json"
    assert main(["label", "export", str(folder), "--output", str(out), "--agreement", str(agreement)]) == 0
    assert "wrote 8 texts (16 annotations) to" in capsys.readouterr().out
    rows = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert [(x["annotator"], x["label"]) for x in rows[7]["annotations"]] == [
        ("a", "positive"), ("c", "neutral")]
    assert (rows[7]["label"], rows[7]["resolution"]) == (None, "tie")  # unresolved until reviewed
    assert (rows[2]["label"], rows[2]["resolution"]) == ("negative", "unanimous")
    assert sum(row["label"] is None for row in rows.values()) == 3
    measured = json.loads(agreement.read_text())
    assert measured["overlap"] == 1.0 and measured["texts"] == 8
    assert [(p["annotators"], p["texts"]) for p in measured["pairs"]] == [(["a", "b"], 6), (["a", "c"], 2)]
    err = fails(capsys, "label", "export", str(folder), "--output", str(out),
                "--agreement", str(folder / "project.sqlite"))
    assert "--agreement" in err and "refusing to overwrite" in err


def test_every_start_option_is_in_the_docs():
    from peftal.cli import build_parser
    from tests.conftest import REPO

    (commands,) = [a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"]
    (label,) = [a for a in commands.choices["label"]._actions if a.__class__.__name__ == "_SubParsersAction"]
    docs = (REPO / "docs" / "labelling.md").read_text()
    options = [o for a in label.choices["start"]._actions for o in a.option_strings if o.startswith("--")]
    assert "--token" in options
    assert [o for o in options if o != "--help" and f"`{o}" not in docs] == []


def test_a_csv_without_a_header_row_makes_a_project_by_column_position(tmp_path):
    from peftal.errors import UsageError
    from peftal.label import LabelSettings, create

    data = tmp_path / "rows.csv"
    data.write_text("17,first text\n18,second text\n19,third text\n", encoding="utf-8")
    settings = LabelSettings(labels=("a", "b"), data=str(data), text_column="1", no_header=True)
    store = create(tmp_path / "project", data, settings)
    assert store.texts()[0] == ["first text", "second text", "third text"]
    with pytest.raises(UsageError, match="column 'text' not found"):
        create(tmp_path / "other", data, LabelSettings(labels=("a", "b"), data=str(data), no_header=True))
