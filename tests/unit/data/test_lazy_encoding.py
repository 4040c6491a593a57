"""The labelling pool's lazy tokenisation gives what tokenising everything at once gives, text by
text and pair by pair, only for the texts asked for, and again after a text leaves its cache."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

from peftal.data.dataset import Split
from peftal.data.encoding import LazyEncoded, collate, encode, inference_batches
from peftal.models.backbone import resolve_model

TEXTS = ["What is the capital of Peru ?", "Who wrote Hamlet ?", "a", "How many legs does a spider have ?",
         "Name a film by Kubrick that is longer than the others in this list of questions ."]
PAIRS = ["Lima is the capital.", "Shakespeare.", "b", "Eight.", "2001."]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(resolve_model(None))


@pytest.mark.parametrize("pairs", [None, PAIRS], ids=["texts", "pairs"])
def test_lazy_tokenisation_equals_the_eager_one(tokenizer, pairs):
    eager = encode(tokenizer, Split(TEXTS, np.zeros(len(TEXTS)), pairs), max_length=12)
    lazy = LazyEncoded(tokenizer, TEXTS, pairs, max_length=12, cache_size=2)
    assert len(lazy) == len(eager) and lazy.pad_id == eager.pad_id
    assert (lazy.token_type_ids is None) == (eager.token_type_ids is None)
    for i in (4, 0, 3, 4, 1, 2, 0):  # more texts than the cache holds: some are tokenised twice
        assert np.array_equal(lazy.input_ids[i], eager.input_ids[i])
        if eager.token_type_ids is not None:
            assert np.array_equal(lazy.token_type_ids[i], eager.token_type_ids[i])
    ids = np.array([3, 0, 4])
    assert lazy.lengths_of(ids).tolist() == eager.lengths[ids].tolist()
    batches = zip(inference_batches(lazy, ids, 2), inference_batches(eager, ids, 2), strict=True)
    for (p1, b1), (p2, b2) in batches:
        assert np.array_equal(p1, p2) and all(torch_equal(b1[k], b2[k]) for k in b1)
    assert set(collate(lazy, ids)) == set(collate(eager, ids))


def test_only_the_texts_asked_for_are_tokenised(tokenizer):
    lazy = LazyEncoded(tokenizer, TEXTS * 1000, None, max_length=12)
    lazy.lengths_of(np.array([10, 20, 30]))
    assert lazy.row.cache_info().currsize <= 4  # the three asked for (and the first, for the fields)


def torch_equal(a, b) -> bool:
    return bool((a == b).all()) and a.shape == b.shape
