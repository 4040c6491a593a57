"""Extractive QA on top of the trainer: the span loss, start/end logits, and answer strings.

Post-processing follows BERT's SQuAD recipe (Devlin et al. 2019) as the Hugging Face ``run_qa``
example implements it; it is written here because that code lives in an example script, not in the
library. Over every window of a question, the ``n_best`` highest start and end logits are paired;
a pair is a candidate when both tokens lie in the context, the end does not precede the start and
the span has at most ``max_answer_length`` tokens; the candidate with the highest start + end logit
wins and its characters are cut from the context through the offset mapping.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from peftal.data.encoding import Encoded, inference_batches
from peftal.data.qa import QASplit
from peftal.data.qa_encoding import NOT_CONTEXT, QAFeatures
from peftal.training.device import model_device, to_device
from peftal.training.squad import squad_metrics
from peftal.training.trainer import BatchLoss

N_BEST = 20
MAX_ANSWER_LENGTH = 30  # tokens, BERT's default


def span_loss(targets: np.ndarray) -> BatchLoss:
    """Mean of the start and end cross-entropies over the tokens of each feature.

    Args:
        targets: ``(features, 2)`` gold start and end token of every training feature.
    """
    targets_tensor = torch.as_tensor(targets, dtype=torch.long)

    def batch_loss(model: nn.Module, batch: dict[str, torch.Tensor],
                   positions: np.ndarray) -> tuple[torch.Tensor, None]:
        logits = model(**to_device(batch, model_device(model)))  # (batch, seq, 2)
        gold = targets_tensor[positions].to(logits.device)  # (batch, 2)
        loss = (F.cross_entropy(logits[..., 0], gold[:, 0]) + F.cross_entropy(logits[..., 1], gold[:, 1]))
        return loss / 2, None

    return batch_loss


@torch.inference_mode()
def predict_spans(model: nn.Module, encoded: Encoded, batch_size: int = 64
                  ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Start and end logits of every feature, each ``(tokens,)`` without padding, in feature order."""
    model.eval()
    device = model_device(model)
    lengths = encoded.lengths
    starts: list[np.ndarray] = [np.zeros(0)] * len(encoded)
    ends: list[np.ndarray] = [np.zeros(0)] * len(encoded)
    for positions, batch in inference_batches(encoded, np.arange(len(encoded)), batch_size):
        logits = model(**to_device(batch, device)).float().cpu().numpy()  # (batch, seq, 2)
        for row, feature in enumerate(positions):
            starts[feature] = logits[row, : lengths[feature], 0]
            ends[feature] = logits[row, : lengths[feature], 1]
    return starts, ends


def best_span(offsets: np.ndarray, start_logits: np.ndarray, end_logits: np.ndarray, *,
              n_best: int = N_BEST, max_answer_length: int = MAX_ANSWER_LENGTH
              ) -> tuple[float, int, int] | None:
    """The best valid span of one window as ``(score, start_char, end_char)``, or ``None``.

    Args:
        offsets: ``(tokens, 2)`` character spans of the window's tokens, ``NOT_CONTEXT`` outside
            the context.
        start_logits: ``(tokens,)`` start logits.
        end_logits: ``(tokens,)`` end logits.
        n_best: How many top start and top end tokens are paired.
        max_answer_length: Longest answer in tokens.
    """
    top_starts = np.argsort(-start_logits, kind="stable")[:n_best]
    top_ends = np.argsort(-end_logits, kind="stable")[:n_best]
    best = None
    for s in top_starts:
        if offsets[s, 0] == NOT_CONTEXT:
            continue
        for e in top_ends:
            if offsets[e, 0] == NOT_CONTEXT or e < s or e - s + 1 > max_answer_length:
                continue
            score = float(start_logits[s] + end_logits[e])
            if best is None or score > best[0]:
                best = (score, int(offsets[s, 0]), int(offsets[e, 1]))
    return best


def answers_from_logits(features: QAFeatures, contexts: list[str], starts: list[np.ndarray],
                        ends: list[np.ndarray], **kwargs) -> list[str]:
    """One answer string per question: the best span over all of its windows ("" if none is valid)."""
    best: list[tuple[float, int, int] | None] = [None] * len(contexts)
    for f, example in enumerate(features.example_index):
        candidate = best_span(features.offsets[f], starts[f], ends[f], **kwargs)
        if candidate is not None and (best[example] is None or candidate[0] > best[example][0]):
            best[example] = candidate
    return ["" if b is None else contexts[e][b[1]:b[2]] for e, b in enumerate(best)]


def evaluate_qa(model: nn.Module, features: QAFeatures, split: QASplit, batch_size: int = 64
                ) -> tuple[dict[str, float], list[str]]:
    """SQuAD exact match and F1 of ``model`` on ``split`` (encoded as ``features``), and its answers."""
    starts, ends = predict_spans(model, features.encoded, batch_size)
    answers = answers_from_logits(features, split.contexts, starts, ends)
    metrics = squad_metrics(dict(zip(split.ids, answers, strict=True)),
                            dict(zip(split.ids, split.answers, strict=True)))
    return metrics, answers
