"""Full fine-tuning (FFT): every parameter of the backbone trains; the baseline of all three studies."""

from __future__ import annotations

from peftal.models.heads import TextClassifier
from peftal.peft.base import NoConfig, PeftMethod, register_method


@register_method
class Full(PeftMethod):
    name = "full"
    description = "full fine-tuning: every weight of the backbone and the head trains"
    reference = "Devlin et al. 2019 (the FFT baseline of Jukić & Šnajder 2023, Doering et al. 2024)"
    lr = 1e-4
    head_lr = 1e-3

    def apply(self, model: TextClassifier, config: NoConfig) -> None:
        for parameter in model.parameters():
            parameter.requires_grad_(True)

    def owns(self, name: str) -> bool:
        return True
