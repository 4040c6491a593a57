"""Built-in datasets from the Hugging Face hub (via ``datasets``), when no local copy exists, and
whether the hub can be reached, decided within a second or two.

Hub rows are mapped to peftal's columns and label names (:class:`~peftal.data.builtin.DatasetSpec`),
so they reach the same checks as local files.

Without a network, ``datasets.load_dataset`` retries five times with back-off before it fails
(about 23 s of retry messages); a built-in dataset with no local copy should instead fail at once
with its one line. The probe opens one TCP connection to the hub's host in a daemon thread, so a
slow DNS resolver cannot hold the command either.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any
from urllib.parse import urlparse

from peftal.data.builtin import DatasetSpec
from peftal.errors import UsageError

DATA_DIR_ENV = "PEFTAL_DATA_DIR"
SPLITS = ("train", "validation", "test")
PROBE_SECONDS = 1.5
Records = list[dict[str, Any]]


def check_hub(name: str, holding: str) -> None:
    """The one line for built-in dataset ``name`` that has no local copy (``holding`` says which
    files one would hold) when the hub cannot be reached: in a second or two, not after retries."""
    if not hub_reachable():
        raise UsageError(f"dataset {name!r}: no local copy (set {DATA_DIR_ENV} to a folder holding "
                         f"{holding}) and the Hugging Face hub cannot be reached")


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """False when the hub is switched off (``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE``) or cannot be
    connected to within ``timeout`` seconds."""
    if any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
           for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    result: list[bool] = []

    def _connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=_connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def read_hub(spec: DatasetSpec) -> dict[str, Records]:
    """Download ``spec`` from the Hugging Face hub via ``datasets`` (needs a network; without one,
    :func:`check_hub` stops it at once)."""
    check_hub(spec.name, f"{spec.name}/train.jsonl ...")
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
