"""Both poolings read only the real tokens, for every method: prompt tuning prepends virtual
tokens, so the encoder returns more positions than it was given (peft/prompt.py)."""

from __future__ import annotations

import pytest
import torch

from peftal.models.heads import POOLINGS
from peftal.peft import METHODS, build_model, parse_method
from tests.conftest import tiny_encoder


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder("bert")


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("name", METHODS.names())
def test_pooling_reads_the_real_tokens(encoder, name, pooling):
    spec = parse_method(name)
    model = build_model(encoder, spec, 2, pooling=pooling).eval()
    input_ids = torch.tensor([[1, 7, 8, 9, 2], [1, 10, 2, 0, 0]])  # (batch, seq) with padding
    attention_mask = (input_ids != 0).long()
    with torch.no_grad():
        hidden = model.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = model.pooled(input_ids, attention_mask)
    virtual = getattr(spec.config, "prompt_length", 0)  # prompt methods prepend this many tokens
    assert hidden.shape[1] == virtual + input_ids.shape[1]
    real = hidden[:, virtual:]  # (batch, seq, hidden)
    if pooling == "cls":
        expected = real[:, 0]  # [CLS], not a virtual token
    else:
        mask = attention_mask.unsqueeze(-1).float()
        expected = (real * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(pooled, expected)
