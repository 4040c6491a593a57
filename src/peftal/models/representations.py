"""Layer-wise sentence representations of an encoder, after the embedding layer and after every
transformer layer, for representation-similarity analysis (CKA, Kornblith et al. 2019).

Uses the model's own ``output_hidden_states``, so it works for any Hugging Face encoder, with or
with or without PEFT modules attached: ``hidden_states`` holds ``num_layers + 1`` tensors, the
embedding output first. Each depth is pooled like the task model pools its last layer
(:mod:`peftal.models.heads`): the attention-masked token mean (default), or the first token
([CLS]). Note that the [CLS] vector *after the embedding layer* is the same for every input (its
token, position 0 and segment 0 embeddings, normalised), so CKA is undefined there under ``cls``
pooling; mean pooling has no such degenerate layer and is what all-MiniLM-L6-v2 was trained with.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from peftal.data.encoding import Encoded, inference_batches
from peftal.models.heads import POOLINGS
from peftal.training.device import model_device, to_device


def _pool(layer: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """``(batch, seq', hidden)`` → ``(batch, hidden)``. Prompt tuning prepends virtual tokens, so
    the real tokens are the last ``seq`` positions of each layer (as in TextClassifier)."""
    real = layer[:, layer.shape[1] - attention_mask.shape[1]:]  # (batch, seq, hidden)
    if pooling == "cls":
        return real[:, 0]
    mask = attention_mask.unsqueeze(-1).to(real.dtype)  # (batch, seq, 1)
    return (real * mask).sum(1) / mask.sum(1).clamp(min=1.0)


@torch.inference_mode()
def layer_representations(encoder: nn.Module, encoded: Encoded, indices: np.ndarray, *,
                          pooling: str = "mean", batch_size: int = 128) -> np.ndarray:
    """Pooled representations at every depth of ``encoder``.

    Args:
        encoder: A Hugging Face encoder (``AutoModel``), e.g. a task model's ``.encoder``.
        encoded: Token ids of a split.
        indices: Which examples of ``encoded``, in the order of the output rows.
        pooling: ``mean`` (attention-masked token mean) or ``cls`` (first token).
        batch_size: Inference batch size.

    Returns:
        ``(num_layers + 1, len(indices), hidden)`` float32; row 0 is the embedding layer.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    was_training = encoder.training
    encoder.eval()  # no dropout: the same input always gives the same representation
    indices = np.asarray(indices, dtype=np.int64)
    output = None
    try:
        for positions, batch in inference_batches(encoded, indices, batch_size):
            batch = to_device(batch, model_device(encoder))
            states = encoder(**batch, output_hidden_states=True).hidden_states
            pooled = torch.stack([_pool(layer, batch["attention_mask"], pooling)
                                  for layer in states])  # (num_layers + 1, batch, hidden)
            if output is None:
                output = np.empty((pooled.shape[0], len(indices), pooled.shape[2]), dtype=np.float32)
            output[:, positions] = pooled.float().cpu().numpy()
    finally:
        encoder.train(was_training)
    if output is None:
        raise ValueError("layer_representations needs at least one example")
    return output
