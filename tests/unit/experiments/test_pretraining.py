"""Masked-LM pretraining pieces: the MLM wrapper, masking, corpus windows, adapter hand-over."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from peftal.data.corpus import Corpus, encode_corpus
from peftal.data.encoding import collate
from peftal.errors import UsageError
from peftal.models.mlm import MaskedLanguageModel, apply_method
from peftal.peft import build_model, parse_method
from peftal.peft.pretrained_adapter import (
    check_init_adapter,
    load_pretrained_adapter,
    save_pretrained_adapter,
    write_pretrain_meta,
)
from peftal.training.mlm import masked_lm_loss


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from peftal.models.backbone import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(None))


def _tiny_config(vocab_size: int):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=64)


def _tiny_mlm(vocab_size: int = 120, seed: int = 0) -> MaskedLanguageModel:
    from transformers import BertForMaskedLM

    torch.manual_seed(seed)
    return MaskedLanguageModel(BertForMaskedLM(_tiny_config(vocab_size)))


def _trainable(model, prefix=""):
    return {name for name, p in model.named_parameters() if p.requires_grad and name.startswith(prefix)}


def test_adapter_names_agree_with_the_task_model():
    from transformers import AutoModel

    mlm = _tiny_mlm()
    apply_method(mlm, parse_method("lora"), seed=0)
    task = build_model(AutoModel.from_config(_tiny_config(120)), parse_method("lora"), 3)
    assert _trainable(mlm, "encoder.") == _trainable(task, "encoder.")
    assert _trainable(mlm, "encoder.")  # the LoRA matrices


def test_peft_keeps_the_tied_projection_frozen_and_trains_the_head():
    mlm = _tiny_mlm()
    apply_method(mlm, parse_method("lora"), seed=0)
    embeddings = mlm.encoder.get_input_embeddings().weight
    assert embeddings is mlm.mlm.get_output_embeddings().weight  # tied
    assert not embeddings.requires_grad
    assert mlm.head_parameters() and all(p.requires_grad for p in mlm.head_parameters())
    full = _tiny_mlm()
    apply_method(full, parse_method("full"), seed=0)
    assert all(p.requires_grad for p in full.parameters())


def test_masking_is_seeded_and_spares_special_and_padding_tokens(tokenizer):
    texts = [" ".join(["some words of a longer sentence"] * k) for k in range(1, 40)]
    encoded = encode_corpus(tokenizer, Corpus(texts, None, "t", "corpus"), 64)
    batch = collate(encoded, np.arange(len(encoded)))
    seen = []

    def spy(**kwargs):
        seen.append((kwargs["input_ids"].clone(), kwargs["labels"].clone()))
        return torch.tensor(0.0)

    for _ in range(2):
        masked_lm_loss(tokenizer, seed=3)(spy, dict(batch), np.arange(len(encoded)))
    masked_lm_loss(tokenizer, seed=4)(spy, dict(batch), np.arange(len(encoded)))
    (inputs, labels), (inputs2, labels2), (_, labels3) = seen
    assert torch.equal(labels, labels2) and torch.equal(inputs, inputs2)
    assert not torch.equal(labels, labels3)
    chosen = labels != -100
    special = torch.isin(batch["input_ids"], torch.tensor(tokenizer.all_special_ids))
    assert not (chosen & (special | (batch["attention_mask"] == 0))).any()
    assert torch.equal(labels[chosen], batch["input_ids"][chosen])  # labels are the original ids
    rate = chosen.sum().item() / (~special & (batch["attention_mask"] == 1)).sum().item()
    assert 0.1 < rate < 0.2
    replaced = (inputs == tokenizer.mask_token_id) & chosen
    assert 0.65 < replaced.sum().item() / chosen.sum().item() < 0.95  # 80% become [MASK]


def test_a_batch_always_has_a_masked_token(tokenizer):
    encoded = encode_corpus(tokenizer, Corpus(["hi"], None, "t", "corpus"), 16)
    batch = collate(encoded, np.arange(1))
    labels = []
    loss = masked_lm_loss(tokenizer, mlm_probability=1e-6, seed=0)
    loss(lambda **kw: labels.append(kw["labels"]) or torch.tensor(0.0), batch, np.arange(1))
    assert (labels[0] != -100).sum() == 1


def test_long_texts_are_cut_into_windows_not_truncated(tokenizer):
    text = " ".join(f"token{k}" for k in range(300))
    encoded = encode_corpus(tokenizer, Corpus([text, "short"], None, "t", "corpus"), 32)
    assert all(len(ids) <= 32 for ids in encoded.input_ids)
    inner = np.concatenate([ids[1:-1] for ids in encoded.input_ids[:-1]])
    assert inner.tolist() == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_pretrained_adapter_is_handed_over(tmp_path):
    from transformers import AutoModel

    mlm = _tiny_mlm()
    apply_method(mlm, parse_method("lora"), seed=0)
    with torch.no_grad():
        for name, p in mlm.named_parameters():
            if p.requires_grad and name.startswith("encoder."):
                p.normal_()  # as if trained
    saved = save_pretrained_adapter(mlm, tmp_path, {"method": "lora", "model": None})
    assert saved == len(_trainable(mlm, "encoder."))
    task = build_model(AutoModel.from_config(_tiny_config(120)), parse_method("lora"), 2)
    check_init_adapter(tmp_path, "lora", None)
    assert load_pretrained_adapter(task, tmp_path) == saved
    ours, theirs = dict(mlm.named_parameters()), dict(task.named_parameters())
    for name in _trainable(mlm, "encoder."):
        assert torch.equal(ours[name], theirs[name])


def test_init_adapter_mismatches_are_clear_errors(tmp_path):
    mlm = _tiny_mlm()
    apply_method(mlm, parse_method("lora"), seed=0)
    save_pretrained_adapter(mlm, tmp_path / "a", {"method": "lora", "model": None})
    with pytest.raises(UsageError, match="pretrained with method 'lora', this run uses 'lora\\[r=4\\]'"):
        check_init_adapter(tmp_path / "a", "lora[r=4]", None)
    with pytest.raises(UsageError, match="pretrained on model"):
        check_init_adapter(tmp_path / "a", "lora", "bert-base-uncased")
    (tmp_path / "f").mkdir()
    write_pretrain_meta(tmp_path / "f", {"method": "full", "model": None, "kind": "full"})
    with pytest.raises(UsageError, match="pass it as --model"):
        check_init_adapter(tmp_path / "f", "full", None)
    with pytest.raises(UsageError, match="not a `peftal pretrain` output"):
        check_init_adapter(tmp_path, "lora", None)


def test_wrapper_loss_equals_the_library_loss():
    mlm = _tiny_mlm()
    mlm.eval()
    input_ids = torch.randint(5, 120, (3, 9))
    mask = torch.ones_like(input_ids)
    labels = torch.full_like(input_ids, -100)
    labels[:, 2] = input_ids[:, 2]
    expected = mlm.mlm(input_ids=input_ids, attention_mask=mask, labels=labels).loss
    assert torch.allclose(mlm(input_ids, mask, labels=labels), expected)


def test_prompt_tuning_pretrains_through_the_wrapped_encoder():
    """peft wraps the encoder for prompt tuning; the masked-LM model must call the wrapper, so the
    prompt is part of the forward pass and receives a gradient."""
    mlm = _tiny_mlm(120)
    apply_method(mlm, parse_method("prompt_tuning"), seed=0)
    ids = torch.randint(5, 120, (2, 7))
    labels = torch.full_like(ids, -100)
    labels[:, 3] = ids[:, 3]
    loss = mlm(ids, torch.ones_like(ids), labels=labels)
    loss.backward()
    prompt = [p for n, p in mlm.named_parameters() if "prompt" in n and p.requires_grad]
    assert prompt and prompt[0].grad is not None and prompt[0].grad.abs().sum() > 0


def _method_weights(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()
            if "peftal" in name or "lora" in name}


def test_method_weights_follow_the_seed_not_the_process_history():
    """A study worker runs many cells in one process: a TAPT cell's new modules must not depend on
    what the process drew before, and must change with the cell's seed."""
    first = _tiny_mlm()
    apply_method(first, parse_method("unipelt"), seed=2)
    torch.rand(1000)  # another cell's draws in the same process
    again = _tiny_mlm()
    apply_method(again, parse_method("unipelt"), seed=2)
    other = _tiny_mlm()
    apply_method(other, parse_method("unipelt"), seed=3)
    weights, repeat, changed = _method_weights(first), _method_weights(again), _method_weights(other)
    assert weights and weights.keys() == repeat.keys() == changed.keys()
    assert all(torch.equal(weights[name], repeat[name]) for name in weights)
    assert any(not torch.equal(weights[name], changed[name]) for name in weights)
