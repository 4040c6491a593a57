"""What ``peftal methods`` lists without importing torch: each built-in method's one-line
description, reference, learning rates and preset defaults.

The method classes in :mod:`peftal.peft` are the source of truth, but importing them imports torch,
transformers and peft (seconds), and listing the methods needs none of it. This table repeats the
listing fields of the built-in methods in registry order; tests/unit/test_startup.py holds it equal
to the registry, so a change to a method's class that is not made here fails that test. Methods
that plug-ins register are listed from the registry (a plug-in that registers one has imported it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MethodEntry:
    """One method as ``peftal methods`` lists it (the fields of :class:`peftal.peft.PeftMethod`).

    Attributes:
        name: Registry name.
        description: One line.
        reference: The paper it comes from.
        lr: Default learning rate of the method's parameters (``None``: no gradient steps).
        head_lr: Default learning rate of the head (``None``: not trained by gradients).
        defaults: The preset keys and their default values (``config_to_dict(Config())``).
    """

    name: str
    description: str
    reference: str
    lr: float | None
    head_lr: float | None
    defaults: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The JSON row of ``peftal methods --json`` (without parameter counts)."""
        return {"name": self.name, "description": self.description, "reference": self.reference,
                "lr": self.lr, "head_lr": self.head_lr, "defaults": dict(self.defaults)}


_QV = ["q", "v"]

BUILT_IN: tuple[MethodEntry, ...] = (
    MethodEntry("full", "full fine-tuning: every weight of the backbone and the head trains",
                "Devlin et al. 2019 (the FFT baseline of Jukić & Šnajder 2023, Doering et al. 2024)",
                lr=1e-4, head_lr=1e-3),
    MethodEntry("bitfit", "train only the bias vectors of the backbone (and the head)",
                "Ben Zaken et al. 2022, BitFit: Simple Parameter-efficient Fine-tuning for "
                "Transformer-based Masked Language-models; Doering et al. 2024",
                lr=1e-2, head_lr=1e-2),
    MethodEntry("houlsby", "bottleneck adapters after the attention and the feed-forward block",
                "Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP",
                lr=3e-3, head_lr=1e-3, defaults={"reduction_factor": 16, "non_linearity": "swish"}),
    MethodEntry("pfeiffer", "a bottleneck adapter after the feed-forward block",
                "Pfeiffer et al. 2021, AdapterFusion: Non-Destructive Task Composition for "
                "Transfer Learning",
                lr=3e-3, head_lr=1e-3, defaults={"reduction_factor": 16, "non_linearity": "relu"}),
    MethodEntry("lora", "low-rank updates of the query and value projections",
                "Hu et al. 2022, LoRA: Low-Rank Adaptation of Large Language Models",
                lr=1e-3, head_lr=1e-3, defaults={"r": 8, "alpha": 16, "dropout": 0.0, "attn_matrices": _QV}),
    MethodEntry("dora", "LoRA on direction plus a trained magnitude per output (weight-decomposed LoRA)",
                "Liu et al. 2024, DoRA: Weight-Decomposed Low-Rank Adaptation",
                lr=1e-3, head_lr=1e-2, defaults={"r": 8, "alpha": 16, "dropout": 0.0, "attn_matrices": _QV}),
    MethodEntry("prefix_tuning", "trainable key/value prefixes in every attention layer",
                "Li & Liang 2021, Prefix-Tuning: Optimizing Continuous Prompts for Generation",
                lr=1e-3, head_lr=1e-2,
                defaults={"prefix_length": 30, "bottleneck_size": 512, "flat": False, "dropout": 0.0}),
    MethodEntry("prompt_tuning", "a trainable soft prompt prepended to the input",
                "Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning",
                lr=3e-2, head_lr=1e-2, defaults={"prompt_length": 10}),
    MethodEntry("ia3", "learned vectors rescaling keys, values and feed-forward activations",
                "Liu et al. 2022, Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper "
                "than In-Context Learning",
                lr=3e-2, head_lr=1e-2, defaults={"attn_matrices": ["k", "v"], "intermediate": True}),
    MethodEntry("unipelt", "gated LoRA + prefix tuning + bottleneck adapter",
                "Mao et al. 2022, UniPELT: A Unified Framework for Parameter-Efficient Language "
                "Model Tuning",
                lr=1e-3, head_lr=1e-2,
                defaults={"r": 8, "alpha": 2, "prefix_length": 10, "reduction_factor": 16}),
    MethodEntry("unipelt_prompt", "UniPELT plus a prompt-tuning layer at the input",
                "Chen et al. 2024 (UniPELT of Mao et al. 2022 with prompt tuning added)",
                lr=1e-3, head_lr=1e-2,
                defaults={"r": 8, "alpha": 2, "prefix_length": 10, "reduction_factor": 16,
                          "prompt_length": 10}),
    MethodEntry("vera", "shared frozen random low-rank matrices, trained scaling vectors per layer",
                "Kopiczko et al. 2024, VeRA: Vector-based Random Matrix Adaptation",
                lr=1e-1, head_lr=1e-2, defaults={"r": 256, "d_initial": 0.1, "attn_matrices": _QV}),
    MethodEntry("loha", "low-rank Hadamard-product updates of the query and value projections",
                "Hyeon-Woo et al. 2022, FedPara: Low-Rank Hadamard Product for Communication-Efficient FL",
                lr=1e-2, head_lr=1e-2, defaults={"r": 8, "alpha": 8, "attn_matrices": _QV}),
    MethodEntry("lokr", "Kronecker-product updates of the query and value projections",
                "Edalati et al. 2022, KronA: Parameter Efficient Tuning with Kronecker Adapter",
                lr=1e-2, head_lr=1e-2, defaults={"r": 8, "alpha": 8, "attn_matrices": _QV}),
    MethodEntry("oft", "trained block-diagonal orthogonal rotations of the query and value weights",
                "Qiu et al. 2023, Controlling Text-to-Image Diffusion by Orthogonal Finetuning",
                lr=3e-3, head_lr=1e-2, defaults={"block_size": 32, "attn_matrices": _QV}),
    MethodEntry("head", "linear probe: frozen encoder, the head fitted by L-BFGS (ridge for regression, "
                "one-vs-rest for multi-label)",
                "Kumar et al. 2022, Fine-Tuning can Distort Pretrained Features (linear probing); "
                "Vysogorets & Gopal 2024 (AL on frozen representations)",
                lr=None, head_lr=None, defaults={"c": 1.0, "alpha": 1.0, "max_iter": 1000}),
    MethodEntry("setfit", "contrastive fine-tuning of the encoder on labelled pairs, then a logistic head",
                "Tunstall et al. 2022, Efficient Few-Shot Learning Without Prompts (SetFit)",
                lr=2e-5, head_lr=None,
                defaults={"num_iterations": 20, "max_pairs": 2000, "epochs": 1, "c": 1.0}),
)
