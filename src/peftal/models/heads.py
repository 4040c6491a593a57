"""A task model: an encoder, a pooling of its last layer, and a linear head.

Pooling defaults to the attention-masked mean of the last hidden states: all-MiniLM-L6-v2 was
trained as a sentence encoder with mean pooling, so its [CLS] vector is not a sentence
representation; ``pooling="cls"`` takes the first real token instead (what BERT-style heads do).
Virtual tokens that a method prepends (prompt tuning) are left out of both poolings.
The pooled vector is also the embedding that the diversity strategies use.
"""

from __future__ import annotations

import torch
from torch import nn

from peftal.models.options import POOLINGS

__all__ = ["POOLINGS", "TextClassifier"]


class TextClassifier(nn.Module):
    """Encoder + pooling + dropout + linear head (``num_outputs`` = 1 for regression).

    Args:
        encoder: A Hugging Face encoder (``AutoModel``).
        num_outputs: Number of classes, or 1 for regression.
        pooling: ``mean`` or ``cls``.
        dropout: Dropout before the head.
    """

    def __init__(self, encoder: nn.Module, num_outputs: int, pooling: str = "mean",
                 dropout: float = 0.1) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_outputs)

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled last-layer representation, ``(batch, hidden)``."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state  # (batch, virtual + seq, hidden)
        # Prompt tuning prepends virtual tokens (peft/prompt.py), so the encoder may return more
        # positions than it was given; the real tokens are always the last ``seq`` ones. Both poolings
        # read only those: ``cls`` takes the first real token ([CLS]), not a virtual one, and ``mean``
        # averages the real, unpadded tokens.
        hidden = hidden[:, hidden.shape[1] - attention_mask.shape[1]:]  # (batch, seq, hidden)
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, num_outputs)``."""
        return self.head(self.dropout(self.pooled(input_ids, attention_mask, token_type_ids)))
