"""``head``: a linear probe. The encoder stays frozen and only the head trains, fitted in closed form
(ridge regression) or by L-BFGS (multinomial logistic regression, or one binary logistic regression
per label for the multi-label task; scikit-learn, :mod:`peftal.peft.linear_probe`) on the pooled
embeddings of the pretrained encoder.

The baseline a practitioner tries first, and the one that wins with very few labels: AL on frozen
representations (Vysogorets & Gopal 2024) and the linear-probe stage of LP-FT (Kumar et al. 2022,
"Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution"). Because the
encoder never changes, the method declares ``frozen_encoder``: runs compute every pool and test
embedding once (:class:`~peftal.training.features.PooledFeatures`) and a round costs one fit of a
``(labels, hidden)`` problem plus one matrix product over the pool, i.e. seconds.

The fitted coefficients are written into the model's ``head`` Linear, so prediction, the
strategies, checkpoints and ``peftal predict`` treat it as any other method's model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from peftal.models.heads import TextClassifier
from peftal.peft.base import PeftMethod, register_method
from peftal.peft.linear_probe import HeadConfig, fit_linear_head
from peftal.training.trainer import TrainConfig, TrainResult, embed


@register_method
class Head(PeftMethod):
    name = "head"
    description = ("linear probe: frozen encoder, the head fitted by L-BFGS (ridge for regression, "
                   "one-vs-rest for multi-label)")
    reference = ("Kumar et al. 2022, Fine-Tuning can Distort Pretrained Features (linear probing); "
                 "Vysogorets & Gopal 2024 (AL on frozen representations)")
    Config = HeadConfig
    lr = None  # no gradient steps: the fit is closed form / L-BFGS
    head_lr = None
    frozen_encoder = True
    tasks = ("classification", "multilabel", "regression")

    def apply(self, model: TextClassifier, config: HeadConfig) -> None:
        for parameter in model.encoder.parameters():
            parameter.requires_grad_(False)

    def owns(self, name: str) -> bool:
        return False

    def num_steps(self, config: HeadConfig, num_examples: int, train_config: TrainConfig) -> int:
        return 1

    def fit(self, model: nn.Module, config: HeadConfig, encoded, indices: np.ndarray, targets: np.ndarray,
            train_config: TrainConfig, *, task: str, rng: np.random.Generator,
            on_step: Callable[[], None] | None = None) -> TrainResult:
        vectors = embed(model, encoded, indices, train_config.eval_batch_size, train_config.precision)
        result = fit_linear_head(model, vectors, targets, task=task, config=config)
        model.eval()
        if on_step is not None:
            on_step()
        return result
