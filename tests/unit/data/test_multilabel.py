"""Multi-label data: lists, separated strings and 0/1 columns give the same label matrix; the checks
and the errors that name the option to use."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from peftal.data import load_task
from peftal.errors import UsageError

WORDS = ["the movie was great fun", "a dull and boring film", "what a delight to watch",
         "i want my money back", "loved every minute of it", "the worst plot ever written"]
SETS = [["joy"], ["anger", "sadness"], ["joy", "love"], [], ["anger"], ["sadness"]]


def _rows(n: int = 30) -> list[tuple[str, list[str]]]:
    return [(f"{WORDS[i % 6]} number {i}", SETS[i % 6]) for i in range(n)]


def _expected(rows, names):
    return np.array([[int(name in labels) for name in names] for _, labels in rows])


def _split_rows(task, rows):
    """The (train, test) label matrices computed by hand from ``rows``, matched on text."""
    by_text = dict(rows)
    return [_expected([(t, by_text[t]) for t in split.texts], task.label_names)
            for split in (task.train, task.test)]


def _write_folder(tmp_path, rows, writer):
    writer(tmp_path / "train", rows[:24])
    writer(tmp_path / "test", rows[24:])
    return tmp_path


def _jsonl(stem, rows):
    lines = [json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows]
    stem.with_suffix(".jsonl").write_text("".join(lines))


def _parquet(stem, rows):
    pd.DataFrame({"text": [t for t, _ in rows], "label": [lab for _, lab in rows]}).to_parquet(
        stem.with_suffix(".parquet"))


def _csv_separated(stem, rows):
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["|".join(lab) for _, lab in rows]}).to_csv(
        stem.with_suffix(".csv"), index=False)


def _csv_columns(stem, rows):
    frame = pd.DataFrame({"text": [t for t, _ in rows]})
    for name in ("anger", "joy", "love", "sadness"):
        frame[name] = [int(name in lab) for _, lab in rows]
    frame.to_csv(stem.with_suffix(".csv"), index=False)


@pytest.mark.parametrize("writer,options", [
    (_jsonl, {}), (_parquet, {}), (_csv_separated, {"label_separator": "|"}),
    (_csv_columns, {"label_columns": ("anger", "joy", "love", "sadness")}),
])
def test_every_format_gives_the_same_matrix(tmp_path, writer, options):
    rows = _rows()
    folder = _write_folder(tmp_path, rows, writer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = load_task(str(folder), task="multilabel", **options)
    assert task.task == "multilabel" and task.label_names == ["anger", "joy", "love", "sadness"]
    train, test = _split_rows(task, rows)
    assert np.array_equal(task.train.labels, train) and np.array_equal(task.test.labels, test)
    assert task.metrics[0] == "f1_micro"
    # 4 of the 24 training texts (every sixth) have no label: kept, counted and reported
    assert (task.train.labels.sum(1) == 0).sum() == 4
    assert any("4 of 24 training texts have no label" in str(w.message) for w in caught)


def test_single_file_is_split_and_no_label_only_in_test(tmp_path):
    rows = _rows(40) + [("a rare text about pride", ["pride"])]
    path = tmp_path / "all.jsonl"
    _jsonl(path.with_suffix(""), rows)
    with pytest.warns(UserWarning, match=r"'pride' \(1\)"):
        task = load_task(str(path), task="multilabel", seed=3)
    assert len(task.train) + len(task.test) == 41
    assert "pride" in task.label_names and task.train.labels[:, task.label_names.index("pride")].sum() == 1
    train, test = _split_rows(task, rows)
    assert np.array_equal(task.train.labels, train) and np.array_equal(task.test.labels, test)


def test_list_label_in_single_label_run_names_the_option(tmp_path):
    folder = _write_folder(tmp_path, _rows(), _jsonl)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning listing label combinations comes first
        with pytest.raises(UsageError, match="holds lists of labels.*use --task multilabel"):
            load_task(str(folder))


def test_single_label_in_multilabel_run_names_the_options(tmp_path):
    lines = [json.dumps({"text": f"text {i}", "label": "a" if i % 2 else "b"}) + "\n" for i in range(10)]
    (tmp_path / "d.jsonl").write_text("".join(lines))
    with pytest.raises(UsageError, match="holds single labels.*--label-separator.*--label-columns"):
        load_task(str(tmp_path / "d.jsonl"), task="multilabel")
    with pytest.raises(UsageError, match="add --task multilabel"):
        load_task(str(tmp_path / "d.jsonl"), label_separator=",")
    with pytest.raises(UsageError, match="leave out --task multilabel"):
        load_task("trec", task="multilabel")


def test_near_duplicate_names_and_min_class_count(tmp_path):
    rows = [(t, labels + (["Joy "] if i == 0 else [])) for i, (t, labels) in enumerate(_rows())]
    folder = _write_folder(tmp_path, rows, _jsonl)
    with pytest.warns(UserWarning, match=r"near-duplicate label names: 'Joy' \(1\) ~ 'joy'"):
        load_task(str(folder), task="multilabel")
    with pytest.warns(UserWarning, match="--min-class-count 2 drops 1 labels: 'Joy'"):
        task = load_task(str(folder), task="multilabel", min_class_count=2)
    assert task.label_names == ["anger", "joy", "love", "sadness"]


def test_goemotions_is_built_in():
    task = load_task("goemotions")
    assert task.task == "multilabel" and task.train.labels.shape == (4021, 28)
    with open(f"{task.source}/train.jsonl") as handle:
        first = json.loads(handle.readline())["labels"]
    assert [task.label_names[i] for i in np.flatnonzero(task.train.labels[0])] == sorted(first)
