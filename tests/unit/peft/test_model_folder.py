"""The saved ``model/`` folder is portable: no file names a path of the machine that trained (peft
records the base model's install path; peftal replaces it by the public id), the card is peftal's,
and a copy of the folder elsewhere loads to the same outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from peftal.models.backbone import resolve_model
from peftal.peft import METHODS, build_model, parse_method
from peftal.peft.card import PUBLIC_DEFAULT
from peftal.peft.checkpoint import load_weights, read_meta, save_checkpoint
from peftal.training import predict
from tests.conftest import random_encoded, tiny_encoder

PACKAGED = resolve_model(None)  # an absolute path into site-packages


def _absolute_paths(folder: Path) -> list[str]:
    """Every file (and the header of each safetensors file) searched for a path of this machine."""
    found = []
    needles = [PACKAGED, str(folder.resolve()), "site-packages", str(Path.home()), "/tmp/"]
    for path in folder.rglob("*"):
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{path.name}: {n}" for n in needles if n in text]
    return found


@pytest.mark.parametrize("name", METHODS.names())
def test_no_absolute_path_and_copy_loads_the_same(name, tmp_path):
    encoder = tiny_encoder("bert")
    encoder.config.name_or_path = PACKAGED  # what the packaged model says of itself when loaded
    model = build_model(encoder, parse_method(name), 3)
    METHODS.get(name)().for_inference(model)
    folder = tmp_path / "run" / "model"
    save_checkpoint(model, folder, {"model": PACKAGED, "method": name, "task": "classification",
                                    "label_names": ["a", "b", "c"], "max_length": 16, "pooling": "mean",
                                    "text_column": "text"})
    assert _absolute_paths(folder) == []
    assert read_meta(folder)["model"] is None  # the packaged default, wherever it is installed
    if (folder / "adapter_config.json").exists():
        config = json.loads((folder / "adapter_config.json").read_text())
        assert config["base_model_name_or_path"] == PUBLIC_DEFAULT
    card = (folder / "README.md").read_text()
    assert "More Information Needed" not in card and "a, b, c" in card and PUBLIC_DEFAULT in card
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(folder, moved)
    shutil.rmtree(folder)
    fresh = build_model(encoder, parse_method(name), 3, seed=5)
    METHODS.get(name)().for_inference(fresh)
    load_weights(fresh, moved)
    encoded = random_encoded(5)
    expected = predict(model, encoded, np.arange(5))
    np.testing.assert_array_equal(predict(fresh, encoded, np.arange(5)), expected)


def test_public_id_loads_the_packaged_copy_offline():
    assert resolve_model(PUBLIC_DEFAULT) == PACKAGED


def test_card_command_keeps_file_names_only():
    from peftal.experiments.model_card import data_files, portable_command

    command = portable_command(["/usr/bin/peftal", "run", "--dataset", "/home/me/data/tickets.csv",
                                "--out=/home/me/runs/r1", "--budget", "300"])
    assert command == "peftal run --dataset tickets.csv --out=r1 --budget 300"
    assert portable_command(["script.py"]) == "(started from Python)"
    assert data_files(None) == []
