"""Loading built-in datasets and user files, with the clear errors bad input must give."""

from __future__ import annotations

import json

import numpy as np
import pytest

from peftal.data import DATASETS, load_task
from peftal.errors import UsageError


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_builtin_trec_from_local_folder(data_dir):
    task = load_task("trec")
    assert task.task == "classification"
    assert len(task.train) == 5452 and len(task.test) == 500
    assert task.label_names == list(DATASETS.get("trec").labels)
    assert task.eval_split == "test"
    # the label ids index label_names: recount one class by name
    raw = [json.loads(line)["label"] for line in open(data_dir / "trec" / "train.jsonl")]
    assert int((task.train.labels == task.label_names.index("HUM")).sum()) == raw.count("HUM")


def test_builtin_pair_and_regression(data_dir):
    mrpc = load_task("mrpc")
    assert mrpc.is_pair and mrpc.label_names == ["not_equivalent", "equivalent"]
    stsb = load_task("stsb")
    assert stsb.task == "regression" and stsb.train.labels.dtype == np.float32
    assert 0.0 <= stsb.train.labels.min() and stsb.train.labels.max() <= 5.0


def test_eval_split_falls_back_to_validation(data_dir):
    task = load_task("cola")
    assert task.eval_split == "validation" and len(task.test) == 1043


def test_csv_file_split_is_seeded_and_stratified(tmp_path):
    rows = ["text,label"] + [f"text number {i},{'a' if i % 4 else 'b'}" for i in range(100)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    first = load_task(str(path), seed=3)
    again = load_task(str(path), seed=3)
    other = load_task(str(path), seed=4)
    assert len(first.train) == 80 and len(first.test) == 20
    assert first.train.texts == again.train.texts
    assert first.train.texts != other.train.texts
    assert first.label_names == ["a", "b"]
    assert int((first.test.labels == 1).sum()) == 5  # 25% of the 20 test rows, by stratification


def test_folder_with_custom_columns(tmp_path):
    rows = [{"q": f"question {i}", "y": "yes" if i % 2 else "no"} for i in range(10)]
    _write_jsonl(tmp_path / "train.jsonl", rows)
    _write_jsonl(tmp_path / "test.jsonl", rows[:4])
    task = load_task(str(tmp_path), text_column="q", label_column="y")
    assert task.train.texts[1] == "question 1" and task.label_names == ["no", "yes"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"text,label\n", "empty"),
        ("text,label\ncaf\xe9,a\n".encode("latin-1"), "not valid UTF-8"),
        (b"words,label\nhello,a\nworld,b\nfoo,a\nbar,b\n", "column 'text' not found"),
        (b"text,label\nhello,a\n ,b\nfoo,a\nbar,b\n", "empty text in column 'text'"),
    ],
)
def test_bad_files_fail_clearly(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_task(str(path))


def test_test_label_missing_from_training(tmp_path):
    rows = [{"text": f"t{i}", "label": "a" if i % 2 else "b"} for i in range(6)]
    _write_jsonl(tmp_path / "train.jsonl", rows)
    _write_jsonl(tmp_path / "test.jsonl", [{"text": "x", "label": "c"}])
    with pytest.raises(UsageError, match=r"label 'c' occurs in the test split but never in the training"):
        load_task(str(tmp_path))


def test_unknown_dataset_lists_builtins():
    with pytest.raises(UsageError, match=r"unknown dataset 'nope'.*trec"):
        load_task("nope")


def test_regression_labels_must_be_numbers(tmp_path):
    _write_jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": "high"}, {"text": "b", "label": "1"}])
    _write_jsonl(tmp_path / "test.jsonl", [{"text": "c", "label": "2"}])
    with pytest.raises(UsageError, match="regression labels must be numbers"):
        load_task(str(tmp_path), task="regression")
