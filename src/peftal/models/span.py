"""A span-extraction model for extractive QA: an encoder and a linear start/end head.

As in BERT's SQuAD model (Devlin et al. 2019): one linear layer maps every last-layer token vector
to a start and an end logit; the answer is the span maximising start + end (see
:mod:`peftal.training.qa`). The head is named ``head`` like the classifier's, so every PEFT method
trains it and the trainer gives it the head learning rate.
"""

from __future__ import annotations

import torch
from torch import nn

MASKED_LOGIT = -1e4  # padding positions: far below any real logit, finite for the loss


class SpanExtractor(nn.Module):
    """Encoder + linear head giving start and end logits for every token.

    Args:
        encoder: A Hugging Face encoder (``AutoModel``).
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Start and end logits ``(batch, seq, 2)``; padding positions get :data:`MASKED_LOGIT`."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state  # (batch, seq', hidden)
        # Prompt tuning prepends virtual tokens; the real tokens are the last ``seq`` positions.
        logits = self.head(hidden[:, -input_ids.shape[1]:])  # (batch, seq, 2)
        return logits.masked_fill(attention_mask.unsqueeze(-1) == 0, MASKED_LOGIT)
