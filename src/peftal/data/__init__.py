"""Datasets: the built-in registry, loaders for local files and the hub, one index space."""

from peftal.data.builtin import DATASETS, DatasetSpec
from peftal.data.dataset import Split, TaskData
from peftal.data.files import read_records
from peftal.data.loading import DATA_DIR_ENV, load_task

__all__ = ["DATASETS", "DATA_DIR_ENV", "DatasetSpec", "Split", "TaskData", "load_task", "read_records"]
