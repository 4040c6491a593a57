"""Fixtures of the labelling tests: a small project made from a CSV written in the test."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import tiny_encoder

LABELS = ("positive", "negative", "neutral")


def write_csv(path: Path, texts: list[str], pairs: list[str] | None = None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "other"] if pairs is None else ["text", "other", "pair"])
        for n, text in enumerate(texts):
            writer.writerow([text, n] if pairs is None else [text, n, pairs[n]])
    return path


@pytest.fixture
def make_project(tmp_path):
    """``make_project(n=30, **settings) -> (store, settings, folder)`` with texts "text 0" ..."""
    from peftal.label import LabelSettings, create

    def make(n: int = 30, pairs: bool = False, **overrides):
        texts = [f"text number {i}" for i in range(n)]
        data = write_csv(tmp_path / "data.csv", texts, [f"pair {i}" for i in range(n)] if pairs else None)
        settings = LabelSettings(labels=LABELS, data=str(data),
                                 text_pair_column="pair" if pairs else None, **overrides)
        folder = tmp_path / "project"
        return create(folder, data, settings), settings, folder

    return make


@pytest.fixture(scope="module")
def backbone():
    """A tiny random BERT with the packaged MiniLM's tokenizer (same vocabulary, nothing downloaded)."""
    from transformers import AutoTokenizer

    from peftal.models.backbone import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None))
    return tiny_encoder("bert", vocab_size=tokenizer.vocab_size), tokenizer
