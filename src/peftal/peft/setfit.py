"""SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts"): contrastive
fine-tuning of the whole sentence encoder on pairs drawn from the labelled set, then a logistic
regression head on the fine-tuned embeddings.

Stage 1 follows the paper and the ``setfit`` library's ``sentence_pairs_generation``: for each of
``num_iterations`` passes, every labelled example gets one positive partner (a random example of
its class, label 1) and one negative partner (a random example of another class, label 0); the
encoder is trained with the cosine-similarity loss, ``MSE(cos(u, v), label)`` on the mean-pooled
embeddings ``u, v``, for ``epochs`` epochs (the library's defaults: 20 iterations, 1 epoch, body
learning rate 2e-5). Multi-label targets ``(n, labels)`` follow the library's
``sentence_pairs_generation_multilabel``: one positive partner per label of the example (a random
example with that label) and one negative partner (a random example sharing no label with it).
``max_pairs`` caps the pairs (the library's ``max_steps`` plays that role)
so that a round stays affordable on a CPU. Stage 2 is the ``head`` method's fit
(:func:`~peftal.peft.linear_probe.fit_linear_head`) on the new embeddings.

Written here rather than with the ``setfit`` package (1.2.0 would install here beside
transformers 5, pulling ``evaluate`` and ``aiohttp``): its trainer trains a sentence-transformers
copy of the body with its own loop, seeding and checkpoint format, while a peftal method must train
the run's :class:`~peftal.models.TextClassifier` in place, so that precision, device, progress
lines, seeds, checkpoints and ``peftal predict`` work as for every method. The pair sampling and the
loss are a few lines; peftal's trainer runs them through a custom batch loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from peftal.data.encoding import Encoded, collate
from peftal.models.heads import TextClassifier
from peftal.peft.base import PeftMethod, register_method
from peftal.peft.linear_probe import HeadConfig, fit_linear_head
from peftal.training.device import model_device, to_device
from peftal.training.trainer import TrainConfig, TrainResult, embed, train


@dataclass(frozen=True)
class SetfitConfig:
    """SetFit hyper-parameters.

    Attributes:
        num_iterations: Passes of pair generation; each gives every labelled example one positive
            and one negative pair (the paper's ``R``).
        max_pairs: At most this many pairs (a random subset of them); keeps a round's cost bounded.
        epochs: Contrastive epochs over the pairs (the run's ``--epochs`` does not apply).
        c: Inverse L2 strength of the logistic-regression head (scikit-learn's ``C``).
    """

    num_iterations: int = 20
    max_pairs: int = 2000
    epochs: int = 1
    c: float = 1.0

    def __post_init__(self) -> None:
        for name in ("num_iterations", "max_pairs", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.c > 0:
            raise ValueError(f"c must be > 0, got {self.c}")


def sentence_pairs(targets: np.ndarray, num_iterations: int, max_pairs: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(left, right, label)``: positions into ``targets`` of each pair and 1.0 (same class) or 0.0.

    Per iteration and example, a positive partner (which may be the example itself when its class
    has one example, as in the library) and, when another class exists, a negative partner.
    """
    targets = np.asarray(targets)
    if targets.ndim == 2:
        return _multilabel_pairs(targets, num_iterations, max_pairs, rng)
    by_class = {c: np.flatnonzero(targets == c) for c in np.unique(targets)}
    others = {c: np.flatnonzero(targets != c) for c in by_class}
    left, right, label = [], [], []
    for _ in range(num_iterations):
        for position, c in enumerate(targets):
            left.append(position)
            right.append(rng.choice(by_class[c]))
            label.append(1.0)
            if len(others[c]):
                left.append(position)
                right.append(rng.choice(others[c]))
                label.append(0.0)
    return _capped(left, right, label, max_pairs, rng)


def _multilabel_pairs(targets: np.ndarray, num_iterations: int, max_pairs: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`sentence_pairs` for ``(n, labels)`` 0/1 targets: per iteration and example, a positive
    partner for each of its labels (an example with that label, possibly itself) and a negative
    partner that shares none of its labels, when one exists. An example with no label gets only
    the negative partner (an example with at least one label)."""
    targets = (np.asarray(targets) == 1).astype(np.int64)
    with_label = [np.flatnonzero(targets[:, label]) for label in range(targets.shape[1])]
    shares_none = (targets @ targets.T) == 0  # (n, n): no label in common
    labelled = targets.any(axis=1)
    left, right, label = [], [], []
    for _ in range(num_iterations):
        for position, row in enumerate(targets):
            for name in np.flatnonzero(row):
                left.append(position)
                right.append(rng.choice(with_label[name]))
                label.append(1.0)
            candidates = shares_none[position] if row.any() else labelled
            negatives = np.flatnonzero(candidates)
            negatives = negatives[negatives != position]
            if len(negatives):
                left.append(position)
                right.append(rng.choice(negatives))
                label.append(0.0)
    return _capped(left, right, label, max_pairs, rng)


def _capped(left: list, right: list, label: list, max_pairs: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs as arrays, at most ``max_pairs`` of them (a random subset, in their order)."""
    left, right = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
    label = np.array(label, dtype=np.float32)
    if len(left) > max_pairs:
        keep = np.sort(rng.choice(len(left), size=max_pairs, replace=False))
        left, right, label = left[keep], right[keep], label[keep]
    return left, right, label


def _num_pairs(num_examples: int, config: SetfitConfig) -> int:
    return min(2 * config.num_iterations * num_examples, config.max_pairs)


def _rows(encoded: Encoded, ids: np.ndarray) -> Encoded:
    """The examples ``ids`` of ``encoded`` as a split of their own (views, nothing copied)."""
    types = None if encoded.token_type_ids is None else [encoded.token_type_ids[i] for i in ids]
    return Encoded([encoded.input_ids[i] for i in ids], types, encoded.pad_id)


def cosine_pair_loss(right: Encoded, labels: np.ndarray):
    """The batch loss of :func:`~peftal.training.train` over pairs: the trainer batches the left
    sides; each batch's right sides are collated here from ``right`` at the same positions."""
    labels_tensor = torch.as_tensor(labels)
    mse = nn.MSELoss()

    def batch_loss(model: nn.Module, batch: dict[str, torch.Tensor], positions: np.ndarray):
        device = model_device(model)
        u = model.pooled(**to_device(batch, device))  # (batch, hidden)
        v = model.pooled(**to_device(collate(right, positions), device))  # (batch, hidden)
        cosine = nn.functional.cosine_similarity(u.float(), v.float(), dim=-1)  # (batch,)
        return mse(cosine, labels_tensor[positions].to(device)), None

    return batch_loss


@register_method
class Setfit(PeftMethod):
    name = "setfit"
    description = "contrastive fine-tuning of the encoder on labelled pairs, then a logistic head"
    reference = "Tunstall et al. 2022, Efficient Few-Shot Learning Without Prompts (SetFit)"
    Config = SetfitConfig
    lr = 2e-5  # the setfit library's body learning rate
    head_lr = None  # the head is fitted by L-BFGS
    tasks = ("classification", "multilabel")

    def apply(self, model: TextClassifier, config: SetfitConfig) -> None:
        for parameter in model.parameters():
            parameter.requires_grad_(True)

    def owns(self, name: str) -> bool:
        return True

    def num_steps(self, config: SetfitConfig, num_examples: int, train_config: TrainConfig) -> int:
        return -(-_num_pairs(num_examples, config) // train_config.batch_size) * config.epochs

    def fit(self, model: nn.Module, config: SetfitConfig, encoded, indices: np.ndarray, targets: np.ndarray,
            train_config: TrainConfig, *, task: str, rng: np.random.Generator,
            on_step: Callable[[], None] | None = None) -> TrainResult:
        indices = np.asarray(indices, dtype=np.int64)
        left, right, labels = sentence_pairs(targets, config.num_iterations, config.max_pairs, rng)
        pair_config = dataclasses.replace(train_config, epochs=config.epochs, lr=train_config.lr or self.lr,
                                          head_lr=train_config.head_lr or self.lr)
        result = train(model, _rows(encoded, indices[left]), np.arange(len(left)), None, pair_config,
                       task=task, rng=rng, on_step=on_step,
                       batch_loss=cosine_pair_loss(_rows(encoded, indices[right]), labels))
        vectors = embed(model, encoded, indices, train_config.eval_batch_size, train_config.precision)
        probe = fit_linear_head(model, vectors, targets, task=task, config=HeadConfig(c=config.c))
        # The record keeps the contrastive epochs (loss of the pairs) plus the head's fit accuracy.
        result.epochs[-1]["train_accuracy"] = probe.epochs[0]["train_accuracy"]
        result.correct = probe.correct
        result.seconds += probe.seconds
        return result
