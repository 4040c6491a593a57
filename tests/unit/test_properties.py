"""Property tests: the file loaders and the preset/spec parsers either succeed or raise the one user
error (:class:`UsageError`), on any generated CSV, JSONL, Parquet, YAML or preset string."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from peftal.errors import UsageError  # noqa: E402

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
cells = st.one_of(st.none(), st.text(max_size=12), st.integers(-5, 5), st.floats(allow_nan=True),
                  st.booleans(), st.lists(st.integers(0, 3), max_size=3))
records = st.lists(st.dictionaries(st.sampled_from(["text", "label", "other"]), cells, max_size=3),
                   max_size=12)


def _load(path: Path):
    from peftal.data.loading import load_task

    try:
        task = load_task(str(path))
    except UsageError:
        return None
    # Loaded: every label is a class of the training split and every text is real text.
    assert all(isinstance(text, str) and text.strip() for text in task.train.texts)
    assert set(task.train.labels.tolist()) <= set(range(len(task.label_names)))
    return task


@FAST
@given(records)
def test_jsonl_loads_or_is_a_usage_error(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        _load(path)


@FAST
@given(st.text(max_size=300))
def test_any_csv_text_loads_or_is_a_usage_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _load(path)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_as_jsonl_load_or_are_a_usage_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.jsonl"
        path.write_bytes(data)
        _load(path)


@FAST
@given(st.lists(st.tuples(st.one_of(st.text(max_size=10), st.integers(0, 9)),
                          st.one_of(st.sampled_from(["a", "b", ""]), st.integers(0, 2), st.none(),
                                    st.floats(allow_nan=True))), min_size=1, max_size=12))
def test_parquet_loads_or_is_a_usage_error(rows):
    import pandas as pd

    frame = pd.DataFrame({"text": pd.Series([t for t, _ in rows], dtype=object),
                          "label": pd.Series([label for _, label in rows], dtype=object)})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.parquet"
        try:
            frame.to_parquet(path)
        except Exception:  # noqa: BLE001 — pyarrow refuses mixed object columns: nothing to load
            return
        _load(path)


@FAST
@given(st.text(max_size=40))
def test_presets_parse_or_are_a_usage_error(text):
    from peftal.al.strategies import parse_strategy
    from peftal.peft import parse_method

    for parse in (parse_method, parse_strategy):
        try:
            parse(text)
        except UsageError:
            pass


@FAST
@given(st.sampled_from(["lora", "prompt_tuning", "houlsby", "entropy", "mc_dropout"]),
       st.dictionaries(st.sampled_from(["r", "alpha", "prompt_length", "passes", "dropout", "x"]),
                       st.one_of(st.integers(-3, 50), st.floats(allow_nan=True), st.text(max_size=5),
                                 st.booleans()), max_size=3))
def test_preset_values_are_checked(name, values):
    from peftal.al.strategies import parse_strategy
    from peftal.peft import parse_method

    preset = f"{name}[{','.join(f'{k}={v}' for k, v in values.items())}]" if values else name
    parse = parse_strategy if name in ("entropy", "mc_dropout") else parse_method
    try:
        parse(preset)
    except UsageError:
        pass


spec_values = st.one_of(st.none(), st.integers(-2, 300), st.text(max_size=8), st.booleans(),
                        st.lists(st.one_of(st.integers(-1, 3), st.text(max_size=6)), max_size=3))


@FAST
@given(st.dictionaries(st.sampled_from(["name", "kind", "datasets", "methods", "strategies", "seeds",
                                        "budget", "warm_start", "epochs", "max_length", "bogus"]),
                       spec_values, max_size=8))
def test_specs_expand_or_are_a_usage_error(mapping):
    import yaml

    from peftal.experiments.study import plan_study

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(yaml.safe_dump(mapping))
        try:
            plan_study(path)
        except UsageError:
            pass


@FAST
@given(st.text(max_size=200))
def test_any_yaml_text_is_a_spec_or_a_usage_error(text):
    from peftal.experiments.study import plan_study

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            plan_study(path)
        except UsageError:
            pass
