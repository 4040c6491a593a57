"""Bad input across every subcommand: one ``peftal: error:`` line, exit 2, no traceback, nothing written.

The whole table runs in one process through ``peftal.cli.main`` (the console script's entry
point), each case in its own empty working folder; every case fails before a model is loaded.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peftal.cli import main

ROWS = [{"text": f"text number {i}", "label": "ab"[i % 2]} for i in range(20)]


def _write_csv(path: Path, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(path, index=False)


def _damaged_mid_file(path: Path) -> None:
    """A sound SQLite file of many pages, then garbage over a page in the middle."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x TEXT)")
    db.executemany("INSERT INTO t VALUES (?)", [("y" * 500,) for _ in range(400)])
    db.commit()
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle:middle + page] = b"\xff" * page
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    _write_csv(d / "good.csv", ROWS)
    (d / "good.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("text,label\n")
    (d / "latin1.csv").write_bytes("text,label\ncaf\xe9,a\n".encode("latin-1") * 5)
    (d / "broken.jsonl").write_text('{"text": "a", "label": "a"}\n{"text": \n')
    (d / "notobj.jsonl").write_text('[1, 2]\n')
    (d / "notlist.json").write_text('{"text": "a"}')
    (d / "data.xyz").write_text("x")
    _write_csv(d / "one_class.csv", [{**r, "label": "a"} for r in ROWS])
    _write_csv(d / "empty_label.csv",
               [{**r, "label": "" if i == 3 else r["label"]} for i, r in enumerate(ROWS)])
    _write_csv(d / "empty_text.csv",
               [{**r, "text": " " if i == 2 else r["text"]} for i, r in enumerate(ROWS)])
    _write_csv(d / "three.csv", ROWS[:3])
    pd.DataFrame([{**r, "label": np.nan if i == 5 else r["label"]} for i, r in enumerate(ROWS)]).to_parquet(
        d / "nan_label.parquet")
    pd.DataFrame([{**r, "label": [1, 2]} for r in ROWS]).to_parquet(d / "list_label.parquet")
    pd.DataFrame([{**r, "text": i} for i, r in enumerate(ROWS)]).to_parquet(d / "int_text.parquet")
    (d / "bad.yaml").write_text("name: x\nkind: [unclosed\n")
    (d / "unknown_key.yaml").write_text("name: x\nkind: active_learning\ndatasets: [trec]\nmethods: [lora]\n"
                                        "strategies: [random]\nseeds: [0]\nbudgte: 10\n")
    (d / "zero_cells.yaml").write_text("name: x\nkind: active_learning\ndatasets: []\nmethods: [lora]\n"
                                       "strategies: [random]\nseeds: [0]\n")
    (d / "bad_preset.yaml").write_text("name: x\nkind: active_learning\ndatasets: [trec]\n"
                                       "methods: ['lora[r=zero]']\nstrategies: [random]\nseeds: [0]\n")
    (d / "not_a_spec.yaml").write_text("- just\n- a list\n")
    (d / "spec.yaml").write_text("name: s\nkind: active_learning\ndatasets: [trec]\nmethods: [lora]\n"
                                 "strategies: [random]\nseeds: [0]\nwarm_start: 10\nquery_size: 10\n"
                                 "budget: 20\nepochs: 1\nmax_length: 32\n")
    for name in ("garbage_run", "damaged_run", "garbage_study", "damaged_study", "garbage_project",
                 "damaged_project", "run_folder"):
        (d / name).mkdir()
    (d / "garbage_run" / "results.sqlite").write_bytes(b"not a database at all" * 100)
    _damaged_mid_file(d / "damaged_run" / "results.sqlite")
    for name in ("garbage_study", "damaged_study"):
        (d / name / "study.json").write_text(json.dumps({"name": "s", "kind": "active_learning",
                                                         "cells": []}))
    (d / "garbage_study" / "results.sqlite").write_bytes(b"\x00garbage" * 1000)
    _damaged_mid_file(d / "damaged_study" / "results.sqlite")
    (d / "garbage_project" / "project.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x01" * 5000)
    _damaged_mid_file(d / "damaged_project" / "project.sqlite")
    (d / "bad_manifest").mkdir()
    (d / "bad_manifest" / "study.json").write_text("{not json")
    (d / "run_folder" / "summary.json").write_text("{}")
    (d / "outdir").mkdir()
    from peftal.label import project
    from peftal.label.project import LabelSettings

    (d / "texts.jsonl").write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in ROWS))
    project.create(d / "project", d / "texts.jsonl", LabelSettings(labels=("a", "b"))).close()
    return d


# (case id, argv); {d} is the inputs folder. Every case must fail with exit status 2.
RUN = "run --epochs 1 --budget 20 --warm-start 10 --query-size 10 --max-length 32"
CASES = [
    # files
    ("missing file", f"{RUN} --dataset {{d}}/nope.csv"),
    ("empty file", f"{RUN} --dataset {{d}}/empty.csv"),
    ("header only", f"{RUN} --dataset {{d}}/header.csv"),
    ("latin-1", f"{RUN} --dataset {{d}}/latin1.csv"),
    ("broken jsonl", f"{RUN} --dataset {{d}}/broken.jsonl"),
    ("jsonl not objects", f"{RUN} --dataset {{d}}/notobj.jsonl"),
    ("json not a list", f"{RUN} --dataset {{d}}/notlist.json"),
    ("unknown suffix", f"{RUN} --dataset {{d}}/data.xyz"),
    ("unknown text column", f"{RUN} --dataset {{d}}/good.csv --text-column body"),
    ("unknown label column", f"{RUN} --dataset {{d}}/good.csv --label-column stars"),
    ("unknown pair column", f"{RUN} --dataset {{d}}/good.csv --text-pair-column other"),
    ("text column is label column", f"{RUN} --dataset {{d}}/good.csv --text-column label"),
    ("pair column is text column", f"{RUN} --dataset {{d}}/good.csv --text-pair-column text"),
    ("one class", f"{RUN} --dataset {{d}}/one_class.csv"),
    ("empty label cell", f"{RUN} --dataset {{d}}/empty_label.csv"),
    ("empty text cell", f"{RUN} --dataset {{d}}/empty_text.csv"),
    ("three rows", f"{RUN} --dataset {{d}}/three.csv"),
    ("nan label parquet", f"{RUN} --dataset {{d}}/nan_label.parquet"),
    ("list label parquet", f"{RUN} --dataset {{d}}/list_label.parquet"),
    ("int text parquet", f"{RUN} --dataset {{d}}/int_text.parquet"),
    ("unknown dataset", f"{RUN} --dataset no_such_dataset"),
    ("qa dataset for AL", f"{RUN} --dataset squad"),
    ("budget above pool", "run --dataset {d}/good.csv --warm-start 2 --query-size 2 --budget 500"),
    ("budget not above warm start", "run --budget 100 --warm-start 100"),
    # numbers
    ("lr inf", f"{RUN} --lr inf"), ("lr nan", f"{RUN} --lr nan"), ("lr 0", f"{RUN} --lr 0"),
    ("lr negative", f"{RUN} --lr=-1e-3"), ("head lr inf", f"{RUN} --head-lr inf"),
    ("seed negative", f"{RUN} --seed -1"), ("seed huge", f"{RUN} --seed 99999999999"),
    ("seed text", f"{RUN} --seed one"),
    ("epochs 0", "run --epochs 0"), ("batch 0", "run --batch-size 0"), ("budget negative", "run --budget -5"),
    ("warm start 0", "run --warm-start 0"), ("query 0", "run --query-size 0"),
    ("max length 0", "run --max-length 0"), ("max length absurd", f"{RUN} --max-length 100000"),
    ("max length 513", f"{RUN} --max-length 513"),
    ("prompt tuning leaves no room", f"{RUN} --max-length 510 --method prompt_tuning"),
    ("threads 0", "run --threads 0"), ("pool subsample 0", "run --pool-subsample 0"),
    ("cka probe 1", f"{RUN} --cka-probe-size 1"), ("cka probe negative", f"{RUN} --cka-probe-size -3"),
    ("precision unknown", f"{RUN} --precision fp8"), ("device unknown", f"{RUN} --device tpu"),
    ("pooling unknown", "run --pooling max"),
    # presets and names
    ("unknown method", f"{RUN} --method lorax"), ("unknown preset key", f"{RUN} --method lora[rank=8]"),
    ("preset bad type", f"{RUN} --method lora[r=eight]"), ("preset unparsable", f"{RUN} --method lora[r=8"),
    ("unknown strategy", f"{RUN} --strategy entropyy"), ("unknown stop", f"{RUN} --stop never"),
    ("init adapter missing", f"{RUN} --init-adapter {{d}}/no_adapter"),
    ("out is a file", f"{RUN} --out {{d}}/good.csv"),
    ("out holds a run", f"{RUN} --out {{d}}/run_folder"),
    ("out holds damaged store", f"{RUN} --out {{d}}/damaged_run"),
    # train and pretrain
    ("train lr inf", "train --lr inf --num-train 10"), ("train lr nan", "train --lr nan"),
    ("train seed -1", "train --seed -1"), ("train fraction 0", "train --fraction 0"),
    ("train fraction 2", "train --fraction 2"),
    ("train fraction and num", "train --fraction 0.5 --num-train 5"),
    ("train time budget 0", "train --time-budget 0"), ("train time budget nan", "train --time-budget nan"),
    ("train num-train 0", "train --num-train 0"), ("train max length absurd", "train --max-length 99999"),
    ("train qa on classification", "train --dataset {d}/good.csv --task qa"),
    ("train text is label", "train --dataset {d}/good.csv --label-column text"),
    ("pretrain lr inf", "pretrain --lr inf"), ("pretrain seed -1", "pretrain --seed -1"),
    ("pretrain mlm 1", "pretrain --mlm-probability 1"),
    ("pretrain missing", "pretrain --dataset {d}/nope.txt"),
    # predict
    ("predict batch 0",
     "predict --run {d}/run_folder --input {d}/good.jsonl --output p.jsonl --batch-size 0"),
    ("predict output folder", "predict --run {d}/run_folder --input {d}/good.jsonl --output {d}/outdir"),
    ("predict output in missing folder",
     "predict --run {d}/run_folder --input {d}/good.jsonl --output nowhere/p.jsonl"),
    ("predict input missing", "predict --run {d}/run_folder --input {d}/nope.jsonl --output p.jsonl"),
    ("predict no model", "predict --run {d}/run_folder --input {d}/good.jsonl --output p.jsonl"),
    # stores
    ("report garbage", "report {d}/garbage_run"), ("report damaged", "report {d}/damaged_run"),
    ("report no store", "report {d}/outdir"),
    ("analyze garbage", "analyze {d}/garbage_run"), ("analyze damaged", "analyze {d}/damaged_run"),
    ("study status garbage", "study status {d}/garbage_study"),
    ("study status damaged", "study status {d}/damaged_study"),
    ("study status bad manifest", "study status {d}/bad_manifest"),
    ("study status not a study", "study status {d}/outdir"),
    ("study run damaged", "study run {d}/spec.yaml --out {d}/damaged_study"),
    ("study run garbage", "study run {d}/spec.yaml --out {d}/garbage_study"),
    # specs
    ("spec missing", "study validate {d}/nope.yaml"), ("spec bad yaml", "study validate {d}/bad.yaml"),
    ("spec unknown key", "study validate {d}/unknown_key.yaml"),
    ("spec zero cells", "study validate {d}/zero_cells.yaml"),
    ("spec bad preset", "study validate {d}/bad_preset.yaml"),
    ("spec not a mapping", "study validate {d}/not_a_spec.yaml"),
    ("study run bad yaml", "study run {d}/bad.yaml"),
    ("study run workers 0", "study run {d}/spec.yaml --workers 0"),
    # labelling
    ("label start port 99999", "label start P --data {d}/texts.jsonl --labels a,b --port 99999"),
    ("label start port 65536", "label start P --data {d}/texts.jsonl --labels a,b --port 65536"),
    ("label start port -1", "label start P --data {d}/texts.jsonl --labels a,b --port -1"),
    ("label start no labels", "label start P --data {d}/texts.jsonl"),
    ("label start one label", "label start P --data {d}/texts.jsonl --labels a"),
    ("label start missing data", "label start P --data {d}/nope.jsonl --labels a,b"),
    ("label start seed -1", "label start P --data {d}/texts.jsonl --labels a,b --seed -1"),
    ("label start lr inf", "label start P --data {d}/texts.jsonl --labels a,b --lr inf"),
    ("label start max length absurd",
     "label start P --data {d}/texts.jsonl --labels a,b --max-length 9999"),
    ("label start overlap 1.5", "label start P --data {d}/texts.jsonl --labels a,b --overlap 1.5"),
    ("label start overlap half", "label start P --data {d}/texts.jsonl --labels a,b --overlap half"),
    ("label start garbage project", "label start {d}/garbage_project"),
    ("label start damaged project", "label start {d}/damaged_project"),
    ("label export garbage", "label export {d}/garbage_project --output e.jsonl"),
    ("label export damaged", "label export {d}/damaged_project --output e.jsonl"),
    ("label export over the database", "label export {d}/project --output {d}/project/project.sqlite"),
    ("label export over a run file", "label export {d}/project --output {d}/run_folder/summary.json"),
    ("label export to a folder", "label export {d}/project --output {d}/outdir"),
    ("label stats garbage", "label stats {d}/garbage_project"),
    ("label stats not a project", "label stats {d}/outdir"),
    ("label export agreement over the database",
     "label export {d}/project --output e.jsonl --agreement {d}/project/project.sqlite"),
    ("label train garbage", "label train {d}/garbage_project --out r"),
    ("label train damaged", "label train {d}/damaged_project --out r"),
    ("label train not a project", "label train {d}/outdir --out r"),
    # argparse
    ("unknown subcommand", "frobnicate"), ("unknown option", "run --frobnicate"),
    ("missing required", "predict --run x"),
]


def _tree(*roots: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for root in roots for p in sorted(root.rglob("*"))}


def test_the_table_is_large_enough():
    assert len(CASES) >= 80 and len({name for name, _ in CASES}) == len(CASES)


def test_every_bad_input_is_one_line_exit_2_and_writes_nothing(inputs, tmp_path, monkeypatch, capsys):
    """All cases in one test (one process, one import of torch); failures are collected, not stopped at."""
    problems = []
    for name, command in CASES:
        work = tmp_path / name.replace(" ", "_")
        work.mkdir()
        monkeypatch.chdir(work)
        before = _tree(inputs, work)
        try:
            status = main(command.format(d=inputs).split())
        except SystemExit as stop:  # argparse
            status = stop.code
        except BaseException as error:  # noqa: BLE001 — a traceback is exactly what this test forbids
            status = f"raised {type(error).__name__}: {error}"
        out, err = capsys.readouterr()
        errors = [line for line in err.splitlines() if line.startswith("peftal: error:")]
        if status != 2 or len(errors) != 1 or "Traceback" in err:
            problems.append(f"{name}: exit {status}, stderr {err.strip()!r}")
        elif _tree(inputs, work) != before:
            problems.append(f"{name}: files changed: {set(_tree(inputs, work)) ^ set(before) or 'contents'}")
    assert not problems, "\n".join(problems)


def test_a_port_in_use_is_one_line_and_creates_no_project(inputs, tmp_path, monkeypatch, capsys):
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["label", "start", "P", "--data", str(inputs / "texts.jsonl"), "--labels", "a,b",
                       "--port", str(port), "--no-trainer"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("peftal: error: cannot serve on 127.0.0.1") and err.count("\n") == 1
    assert not (tmp_path / "P").exists()


def test_threads_beyond_the_cores_are_capped_with_a_warning():
    from peftal.training.precision import set_threads, usable_cores

    with pytest.warns(UserWarning, match="more than the"):
        assert set_threads(usable_cores() + 1000) == usable_cores()
