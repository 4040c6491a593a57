"""BitFit: train only the bias terms of the backbone, plus the task head (Ben Zaken, Ravfogel &
Goldberg 2022, "BitFit: Simple Parameter-efficient Fine-tuning for Transformer-based Masked
Language-models"; studied for active learning by Doering et al. 2024).

Written here rather than through a PEFT library: it adds no modules, it only chooses which
existing parameters train, so it applies to every encoder architecture that has bias vectors
(ModernBERT, for one, has none).
"""

from __future__ import annotations

from torch import nn

from peftal.models.heads import TextClassifier
from peftal.peft.base import NoConfig, PeftMethod, register_method


@register_method
class Bitfit(PeftMethod):
    name = "bitfit"
    description = "train only the bias vectors of the backbone (and the head)"
    reference = ("Ben Zaken et al. 2022, BitFit: Simple Parameter-efficient Fine-tuning for "
                 "Transformer-based Masked Language-models; Doering et al. 2024")
    lr = 1e-2
    head_lr = 1e-2

    def unsupported(self, encoder: nn.Module, config: NoConfig) -> str | None:
        if not any(self.owns(name) for name, _ in encoder.named_parameters()):
            return "it has no bias vectors"
        return None

    def apply(self, model: TextClassifier, config: NoConfig) -> None:
        for name, parameter in model.encoder.named_parameters():
            parameter.requires_grad_(self.owns(name))

    def owns(self, name: str) -> bool:
        # Every bias vector of the encoder: attention projections, feed-forward layers and
        # LayerNorms, as in the paper's equations.
        return name.endswith(".bias")
