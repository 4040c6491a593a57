"""Users' files as they are: header-less CSV/TSV, unlabelled rows, suspicious labels."""

from __future__ import annotations

import json
import warnings

import pytest

from peftal.data import load_task
from peftal.data.columns import looks_like_data
from peftal.data.label_checks import near_duplicates, unlabeled_values, within_one_edit
from peftal.errors import UsageError

TEXTS = ["the movie was great fun", "a dull and boring film", "what a delight to watch",
         "i want my money back", "loved every minute of it", "the worst plot ever written"]


def _rows(n: int = 24) -> list[tuple[int, str, str]]:
    return [(i, f"{TEXTS[i % 6]} number {i}", "pos" if i % 2 == 0 else "neg") for i in range(n)]


def _write_csv(path, rows, sep=","):
    path.write_text("".join(sep.join(str(v) for v in row) + "\n" for row in rows))
    return path


def test_headerless_csv_reads_columns_by_position(tmp_path):
    path = _write_csv(tmp_path / "data.csv", _rows())
    task = load_task(str(path), text_column="1", label_column="2", no_header=True)
    assert task.label_names == ["neg", "pos"]
    assert len(task.train) + len(task.test) == 24
    assert all(text.split(" number ")[0] in TEXTS for text in task.train.texts)


def test_headerless_tsv_and_dev_split(tmp_path):
    rows = _rows()
    _write_csv(tmp_path / "train.tsv", rows[:18], sep="\t")
    _write_csv(tmp_path / "dev.tsv", rows[18:], sep="\t")
    task = load_task(str(tmp_path), text_column="1", label_column="2", no_header=True)
    assert task.eval_split == "validation" and len(task.test) == 6 and len(task.train) == 18


@pytest.mark.parametrize("columns", [{}, {"text_column": "1", "label_column": "2"}])
def test_first_row_of_data_suggests_no_header(tmp_path, columns):
    path = _write_csv(tmp_path / "data.csv", _rows())
    with pytest.raises(UsageError, match="--no-header --text-column 1 --label-column 2"):
        load_task(str(path), **columns)


def test_no_header_needs_positions_and_csv(tmp_path):
    path = _write_csv(tmp_path / "data.csv", _rows())
    with pytest.raises(UsageError, match="give --text-column a number"):
        load_task(str(path), no_header=True)
    with pytest.raises(UsageError, match="position 7 is out of range"):
        load_task(str(path), text_column="7", label_column="2", no_header=True)
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text("".join(json.dumps({"0": t, "1": lab}) + "\n" for _, t, lab in _rows()))
    with pytest.raises(UsageError, match="CSV/TSV files only"):
        load_task(str(jsonl), text_column="0", label_column="1", no_header=True)


def test_looks_like_data():
    assert looks_like_data(["6339", "text", "label"])
    assert looks_like_data(["id", "It was when I failed my exam", "sadness"])
    assert not looks_like_data(["id", "text", "label"])


def test_minus_one_in_validation_is_unlabelled_not_a_class(tmp_path):
    rows = [(i, text, "1" if lab == "pos" else "0") for i, text, lab in _rows()]
    _write_csv(tmp_path / "train.csv", [("id", "text", "label"), *rows[:18]])
    unlabelled = [(i, t, "-1") for i, t, _ in rows[18:]]
    _write_csv(tmp_path / "validation.csv", [("id", "text", "label"), *unlabelled])
    _write_csv(tmp_path / "test.csv", [("id", "text", "label"), *rows[18:]])
    with pytest.warns(UserWarning, match="validation split has no labels"):
        task = load_task(str(tmp_path))
    assert task.label_names == ["0", "1"] and task.validation is None and len(task.test) == 6


def test_unlabelled_training_rows_left_out_with_a_warning(tmp_path):
    rows = [(i, t, "" if i % 4 == 3 else lab) for i, t, lab in _rows()]
    path = _write_csv(tmp_path / "data.csv", [("id", "text", "label"), *rows])
    with pytest.warns(UserWarning, match="6 of 24 training rows have no label"):
        task = load_task(str(path))
    assert len(task.train) + len(task.test) == 18 and task.label_names == ["neg", "pos"]
    rows = [(i, t, "?" if i % 4 == 3 else lab) for i, t, lab in _rows()]
    path = _write_csv(tmp_path / "q.csv", [("id", "text", "label"), *rows])
    with pytest.warns(UserWarning, match="have no label"):
        task = load_task(str(path), unlabeled_values=("?",))
    assert "?" not in task.label_names


def test_unlabeled_values_rule():
    splits = {"train": [{"label": 0}, {"label": 1}], "test": [{"label": -1}, {"label": ""}]}
    assert unlabeled_values(splits, "label", "classification") == {"", "-1"}
    splits["train"].append({"label": -2})  # a real negative class: -1 is a class too
    assert unlabeled_values(splits, "label", "classification") == {""}
    assert unlabeled_values({"train": [{"label": "a"}]}, "label", "classification", ["none"]) == {"", "none"}
    assert unlabeled_values({"train": [{"label": -1}, {"label": 2}]}, "label", "regression") == {""}


def test_rare_and_near_duplicate_labels_warn_then_min_class_count_drops(tmp_path):
    rows = [*_rows(), (90, "i feel guilty about it", "guilt"), (91, "so guilty again", "guilt"),
            (92, "a typo label here", "guit"), (93, "another one", "Neg ")]
    path = _write_csv(tmp_path / "data.csv", [("id", "text", "label"), *rows])
    with pytest.warns(UserWarning) as caught:
        task = load_task(str(path))
    message = " ".join(str(w.message) for w in caught)
    assert "'guit' (1)" in message and "'guilt' (2) ~ 'guit' (1)" in message
    assert "'Neg ' (1) ~ 'neg' (12)" in message
    assert "guit" in task.label_names
    with pytest.warns(UserWarning, match="drops 3 classes"):
        task = load_task(str(path), min_class_count=3)
    assert task.label_names == ["neg", "pos"]


def test_near_duplicates_by_hand():
    assert within_one_edit("guit", "guilt") and within_one_edit("joy", "joy")
    assert within_one_edit("sadness", "sadnes") and within_one_edit("anger", "anker")
    assert not within_one_edit("anger", "angry")
    assert not within_one_edit("fear", "bear s")
    assert near_duplicates(["guilt", "guit", "joy", "Joy", "1", "2", "ABBR", "DESC"]) == [
        ("Joy", "joy"), ("guilt", "guit")]


def test_clean_file_gives_no_warning(tmp_path):
    path = _write_csv(tmp_path / "data.csv", [("id", "text", "label"), *_rows()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_task(str(path))
