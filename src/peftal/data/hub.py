"""Built-in datasets from the Hugging Face hub (via ``datasets``), when no local copy exists.

Hub rows are mapped to peftal's columns and label names (:class:`~peftal.data.builtin.DatasetSpec`),
so they reach the same checks as local files.
"""

from __future__ import annotations

from typing import Any

from peftal.data.builtin import DatasetSpec
from peftal.errors import UsageError

DATA_DIR_ENV = "PEFTAL_DATA_DIR"
SPLITS = ("train", "validation", "test")
Records = list[dict[str, Any]]


def read_hub(spec: DatasetSpec) -> dict[str, Records]:
    """Download ``spec`` from the Hugging Face hub via ``datasets`` (needs a network)."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        raise UsageError("loading from the hub needs the `datasets` package") from None
    try:
        loaded = datasets.load_dataset(spec.hub_id, spec.hub_config)
    except Exception as error:
        raise UsageError(
            f"dataset {spec.name!r}: no local copy (set {DATA_DIR_ENV} to a folder holding "
            f"{spec.name}/train.jsonl ...) and loading {spec.hub_id!r} from the hub failed: "
            f"{type(error).__name__}"
        ) from None
    splits = {}
    for split in SPLITS:
        hub_split = spec.hub_splits.get(split, split)
        if hub_split not in loaded:
            continue
        part = loaded[hub_split]
        features = part.features
        records = []
        for row in part:
            record = {spec.hub_columns.get(k, k): v for k, v in row.items()}
            label_column = next((k for k, v in spec.hub_columns.items() if v == "label"), "label")
            label_feature = features.get(label_column)
            if spec.task == "classification" and hasattr(label_feature, "int2str"):
                if record["label"] is None or record["label"] < 0:
                    continue  # unlabelled hub test split (GLUE)
                record["label"] = label_feature.int2str(record["label"])
            if spec.task == "classification":
                record["label"] = spec.hub_label_names.get(str(record["label"]), str(record["label"]))
            elif spec.task == "multilabel":  # the hub stores label ids
                record["labels"] = [spec.labels[int(i)] for i in record["labels"]]
            elif spec.hub_label_scale != 1.0:
                record["label"] = float(record["label"]) * spec.hub_label_scale
            records.append(record)
        if records:
            splits[split] = records
    return splits
