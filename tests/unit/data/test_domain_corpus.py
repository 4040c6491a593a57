"""The DAPT corpus of a built-in domain dataset: its domain's texts, never its evaluation split."""

from __future__ import annotations

import json

import pytest

from peftal.data.corpus import domain_corpus, load_corpus
from peftal.errors import UsageError


def _texts(data_dir, name: str, split: str) -> list[str]:
    with open(data_dir / name / f"{split}.jsonl", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def test_the_cs_corpus_is_acl_arc_less_its_test_split_and_all_of_sciie(data_dir):
    corpus = domain_corpus("acl_arc")
    held_out = set(_texts(data_dir, "acl_arc", "test"))
    sciie = [text for split in ("train", "validation", "test") for text in _texts(data_dir, "sciie", split)]
    expected = set(_texts(data_dir, "acl_arc", "train") + _texts(data_dir, "acl_arc", "validation") + sciie)
    assert set(corpus.texts) == expected - held_out
    assert len(corpus.texts) == len(set(corpus.texts))  # distinct texts
    assert not held_out & set(corpus.texts)
    assert corpus.kind == "corpus" and corpus.text_pairs is None
    assert corpus.source.startswith("cs domain: acl_arc (train, validation); sciie (train, validation, test)")


def test_a_domain_corpus_through_load_corpus_and_its_sample(data_dir):
    sample = load_corpus("domain:sciie", max_texts=50, seed=3)
    assert len(sample) == 50
    assert set(sample.texts) <= set(domain_corpus("sciie").texts)
    assert not set(sample.texts) & set(_texts(data_dir, "sciie", "test"))


@pytest.mark.parametrize("name", ["trec", "mrpc", "nope"])
def test_a_dataset_without_a_domain_is_refused_naming_the_domains(name, data_dir):
    with pytest.raises(UsageError, match=r"is not a built-in dataset of a domain .*cs: acl_arc, sciie"):
        load_corpus(f"domain:{name}")
