"""The masked-LM objective for continued pretraining: BERT's 15% masking (80% [MASK], 10% random
token, 10% unchanged; Devlin et al. 2019), drawn anew for every batch (dynamic masking, as RoBERTa).

Masking is transformers' ``DataCollatorForLanguageModeling.torch_mask_tokens`` with a seeded
generator, applied to the trainer's dynamically padded batches.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from peftal.training.device import model_device, to_device
from peftal.training.trainer import BatchLoss

MLM_PROBABILITY = 0.15


def masked_lm_loss(tokenizer, *, mlm_probability: float = MLM_PROBABILITY, seed: int = 0) -> BatchLoss:
    """The loss of a :class:`~peftal.models.mlm.MaskedLanguageModel` on freshly masked batches.

    Special and padding tokens are never masked. A batch in which no token was drawn gets its first
    maskable token masked, so the loss is always defined.
    """
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=mlm_probability)
    collator.generator = torch.Generator().manual_seed(seed)
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)

    def batch_loss(model: nn.Module, batch: dict[str, torch.Tensor],
                   positions: np.ndarray) -> tuple[torch.Tensor, None]:
        input_ids = batch["input_ids"].clone()  # (batch, seq)
        never = torch.isin(input_ids, special) | (batch["attention_mask"] == 0)
        original = input_ids.clone()
        inputs, labels = collator.torch_mask_tokens(input_ids, special_tokens_mask=never)
        if not (labels != -100).any():
            first = int(torch.nonzero(~never.flatten())[0])
            inputs.view(-1)[first] = tokenizer.mask_token_id
            labels.view(-1)[first] = original.view(-1)[first]
        device = model_device(model)
        return model(**to_device({**batch, "input_ids": inputs}, device), labels=labels.to(device)), None

    return batch_loss
