"""Chen et al. (2024)'s trainable-parameter counts on RoBERTa-base, rebuilt without a download.

The paper reports UniPELT 11,083,376 (8.892 %) and UniPELT + prompt tuning 11,091,056 (8.898 %)
of RoBERTa-base's 124,645,632 parameters. The backbone is built here from RoBERTa-base's published
dimensions on the meta device (shapes only, no memory, no weights), and each count is also summed
term by term (docs/reproduction.md explains every term).
"""

from __future__ import annotations

import pytest
import torch

from peftal.peft import parse_method
from peftal.peft.base import build_model, count_parameters

H, LAYERS, R, PREFIX_LENGTH, PREFIX_WIDTH, BOTTLENECK, PROMPT_LENGTH = 768, 12, 8, 10, 512, 48, 10
ROBERTA_BASE = 124_645_632  # RobertaModel with its pooler, as the paper counts it
PAPER = {"unipelt": 11_083_376, "unipelt_prompt": 11_091_056}


def by_hand(name: str) -> int:
    gate = H + 1  # Linear(h, 1)
    lora = 2 * (R * H + H * R + gate)  # query and value: A (r, h), B (h, r), gate
    adapter = (H * BOTTLENECK + BOTTLENECK) + (BOTTLENECK * H + H) + gate  # down, up, gate
    prefix_gate = gate
    prefix = (PREFIX_LENGTH * H  # prefix embedding (10, 768)
              + H * PREFIX_WIDTH + PREFIX_WIDTH  # reparametrisation MLP, first layer
              + PREFIX_WIDTH * 2 * LAYERS * H + 2 * LAYERS * H)  # second layer: keys and values
    prompt = PROMPT_LENGTH * H if name == "unipelt_prompt" else 0
    return LAYERS * (lora + adapter + prefix_gate) + prefix + prompt


@pytest.fixture(scope="module")
def roberta_base():
    from transformers import RobertaConfig, RobertaModel

    config = RobertaConfig(vocab_size=50265, hidden_size=H, num_hidden_layers=LAYERS,
                           num_attention_heads=12, intermediate_size=3072, max_position_embeddings=514,
                           type_vocab_size=1, pad_token_id=1)
    with torch.device("meta"):
        yield RobertaModel(config)


def test_the_backbone_has_roberta_base_s_size(roberta_base):
    assert sum(p.numel() for p in roberta_base.parameters()) == ROBERTA_BASE


@pytest.mark.parametrize("name", sorted(PAPER))
def test_unipelt_counts_equal_the_paper_s(roberta_base, name):
    with torch.device("meta"):
        model = build_model(roberta_base, parse_method(name), num_outputs=2)
    trainable, total = count_parameters(model)
    head = sum(p.numel() for p in model.head.parameters())
    assert head == (H + 1) * 2  # peftal trains a task head; the paper's count leaves it out
    assert trainable - head == by_hand(name) == PAPER[name]
    assert total - trainable == ROBERTA_BASE  # the frozen backbone, pooler included
    # the paper's percentages divide by the backbone alone, not by backbone + method
    assert round(100 * PAPER[name] / ROBERTA_BASE, 3) == {"unipelt": 8.892, "unipelt_prompt": 8.898}[name]
