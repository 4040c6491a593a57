"""A backbone with its masked-LM head, shaped like the task models so PEFT methods apply unchanged.

``AutoModelForMaskedLM`` loads the encoder and, where the checkpoint has one, its MLM head. The
packaged all-MiniLM-L6-v2 is a sentence-transformers checkpoint *without* an MLM head: its head
(transform + LayerNorm + output bias) starts from random weights, and only the output projection is
pretrained, because it is tied to the input word embeddings. :func:`load_masked_lm` reports which
head weights were new, and ``peftal pretrain`` prints them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from peftal.errors import UsageError


class MaskedLanguageModel(nn.Module):
    """An ``AutoModelForMaskedLM`` seen as ``encoder`` (its base model) + ``head`` (the rest).

    Parameter names then start with ``encoder.`` exactly as in
    :class:`~peftal.models.TextClassifier`, so adapter weights trained here load into task models.
    The output projection tied to the word embeddings belongs to the encoder.

    Args:
        mlm: A Hugging Face masked-LM model.
    """

    def __init__(self, mlm: nn.Module) -> None:
        super().__init__()
        self.encoder = mlm.base_model
        self.head = nn.ModuleDict({name: child for name, child in mlm.named_children()
                                   if child is not mlm.base_model})
        object.__setattr__(self, "mlm", mlm)  # called in forward, not registered a second time

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """The masked-LM loss (mean over tokens whose ``labels`` are not -100)."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        logits = self.mlm(**kwargs).logits  # (batch, seq', vocab)
        # Prompt tuning prepends virtual tokens; the real tokens are the last ``seq`` positions.
        logits = logits[:, -input_ids.shape[1]:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)

    def head_parameters(self) -> list[nn.Parameter]:
        """Head parameters that are not shared with the encoder (the tied projection is excluded)."""
        shared = {id(p) for p in self.encoder.parameters()}
        return [p for p in self.head.parameters() if id(p) not in shared]


def load_masked_lm(name: str | None, seed: int) -> tuple[MaskedLanguageModel, object, list[str]]:
    """Load ``(model, tokenizer, new_head_weights)``; new head weights are initialised from ``seed``."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from peftal.models.backbone import resolve_model
    from peftal.seeding import torch_seeded

    source = resolve_model(name)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its "newly initialized" warning is reported by the caller
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        with torch_seeded(seed):  # weights missing from the checkpoint draw from torch's generator
            mlm, info = AutoModelForMaskedLM.from_pretrained(source, trust_remote_code=False,
                                                             dtype=torch.float32,
                                                             output_loading_info=True)
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"cannot load model {name!r} with a masked-LM head: {first_line}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    if tokenizer.mask_token is None:
        raise UsageError(f"model {name!r}: its tokenizer has no mask token, so masked-LM training "
                         "does not apply")
    prefix = mlm.base_model_prefix + "."
    new_head = sorted(key for key in info["missing_keys"] if not key.startswith(prefix))
    return MaskedLanguageModel(mlm), tokenizer, new_head


def apply_method(model: MaskedLanguageModel, spec, *, seed: int) -> None:
    """Add ``spec``'s method to the encoder and let the head train, as ``build_model`` does for tasks.

    The method's new weights (LoRA, adapters, gates, prefixes, prompts) are drawn from ``seed``, as
    ``build_model`` draws them: from torch's global generator they would depend on whatever the
    process drew before, so a study's TAPT / DAPT cell would change with the cells its worker ran
    first, and ``--seed`` would not vary them at all."""
    from peftal.seeding import torch_seeded

    spec.method.check_backbone(model.encoder, spec.config)  # a clear error before any training
    with torch_seeded(seed):
        spec.method.apply(model, spec.config)
    # A method may wrap the encoder (peft's models do): the masked-LM model must call the wrapper.
    if model.encoder is not model.mlm.base_model:
        setattr(model.mlm, model.mlm.base_model_prefix, model.encoder)
    for parameter in model.head_parameters():
        parameter.requires_grad_(True)
