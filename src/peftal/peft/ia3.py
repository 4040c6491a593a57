"""(IA)³: learned vectors that rescale the keys, the values and the feed-forward activations of
every layer (Liu et al. 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than
In-Context Learning"), through the library.

Each rescaled projection adds one vector of its output size, initialised to ones (so training
starts from the pretrained model): ``2·h`` per layer for keys and values plus the intermediate
size for the feed-forward block. The vectors can be folded into the weights for inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peftal.peft import backend
from peftal.peft.base import AdapterMethod, register_method


@dataclass(frozen=True)
class Ia3Config:
    """(IA)³ hyper-parameters (defaults: the library's ``ia3``, as in the paper).

    Attributes:
        attn_matrices: Attention projections to rescale (``q``, ``k``, ``v``).
        intermediate: Also rescale the feed-forward activations.
    """

    attn_matrices: tuple[str, ...] = ("k", "v")
    intermediate: bool = True

    def __post_init__(self) -> None:
        bad = [m for m in self.attn_matrices if m not in ("q", "k", "v")]
        if bad:
            raise ValueError(f"attn_matrices may hold q, k, v; got {bad[0]!r}")
        if not self.attn_matrices and not self.intermediate:
            raise ValueError("nothing to rescale: give attn_matrices or intermediate=true")


@register_method
class Ia3(AdapterMethod):
    name = "ia3"
    description = "learned vectors rescaling keys, values and feed-forward activations"
    reference = ("Liu et al. 2022, Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper "
                 "than In-Context Learning")
    Config = Ia3Config
    lr = 3e-2
    head_lr = 1e-2
    mergeable = True

    def library_config(self, config: Ia3Config) -> Any:
        return backend.make_config("ia3", attn_matrices=list(config.attn_matrices),
                                   selfattn_lora=bool(config.attn_matrices),
                                   intermediate_lora=config.intermediate)
