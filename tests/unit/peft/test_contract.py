"""The contract every PEFT method keeps, run on every registered method (so a new one cannot skip
it) and on tiny random BERT, RoBERTa, DistilBERT, ELECTRA and ModernBERT encoders.

After one optimiser step only the method's own parameters and the head have changed and the
pretrained backbone is untouched; save → load gives identical logits; the trainable count equals
the method's formula (written here from the papers' definitions) and, for ``peft``-built methods,
``peft``'s own count; outputs are finite; an example's output does not depend on the padding of its
batch. Pairs a method cannot serve are refused with one line naming the method, the architecture
and the methods that do apply.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from peftal.errors import UsageError
from peftal.peft import METHODS, LibraryMethod, backend, build_model, count_parameters, parse_method
from peftal.peft.checkpoint import load_weights, save_checkpoint
from peftal.training import TrainConfig, predict, train
from tests.conftest import TINY_ARCHITECTURES, random_encoded, tiny_encoder

NUM_LABELS = 3
CASES = [(name, arch) for name in METHODS.names() for arch in TINY_ARCHITECTURES]
# ModernBERT has no bias vectors (nothing for BitFit to train); every other pair must work.
REFUSED = {("bitfit", "modernbert")}
NO_TOKEN_TYPES = ("distilbert", "modernbert")


@pytest.fixture(scope="module")
def encoders() -> dict[str, torch.nn.Module]:
    return {arch: tiny_encoder(arch) for arch in TINY_ARCHITECTURES}


def _build(encoders, name: str, arch: str, seed: int = 0, pooling: str = "mean"):
    if (name, arch) in REFUSED:
        pytest.skip(f"{name} refuses {arch} (checked by test_refuses_clearly)")
    return build_model(encoders[arch], parse_method(name), NUM_LABELS, pooling=pooling, seed=seed)


def _encoded(arch: str, num_examples: int, seed: int, max_len: int = 12):
    return random_encoded(num_examples, seed=seed, max_len=max_len, with_types=arch not in NO_TOKEN_TYPES)


def _one_step(model, arch: str, seed: int = 0, name: str | None = None) -> None:
    """One real optimiser step of the project's training loop on 8 random examples, or, for a method
    with a fit of its own (``head``, ``setfit``), that fit."""
    encoded = _encoded(arch, 8, seed)
    targets = np.arange(8) % NUM_LABELS
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-2, head_lr=1e-2, warmup_ratio=0.0)
    torch.manual_seed(seed)
    if name is None:
        result = train(model, encoded, np.arange(8), targets, config, task="classification",
                       rng=np.random.default_rng(seed))
    else:
        spec = parse_method(name)
        result = spec.fit(model, encoded, np.arange(8), targets, config, task="classification",
                          rng=np.random.default_rng(seed))
    assert result.steps == (1 if name is None else parse_method(name).num_steps(8, config))
    assert all(np.isfinite(epoch["loss"]) for epoch in result.epochs)


@pytest.mark.parametrize(("name", "arch"), sorted(REFUSED))
def test_refuses_clearly(encoders, name, arch):
    with pytest.raises(UsageError, match=arch) as error:
        build_model(encoders[arch], parse_method(name), NUM_LABELS)
    assert name in str(error.value) and "methods that do: full," in str(error.value)


@pytest.mark.parametrize("name", ["prefix_tuning", "unipelt", "unipelt_prompt"])
def test_prefix_methods_refuse_deberta_v2(name):
    """DeBERTa-v2 computes its attention itself, so prefixes cannot be added (peft/prefix_layers.py)."""
    deberta = tiny_encoder("deberta-v2")
    with pytest.raises(UsageError) as error:
        build_model(deberta, parse_method(name), NUM_LABELS)
    message = str(error.value)
    assert "\n" not in message and name in message and "'deberta-v2'" in message
    applicable = message.split("methods that do: ")[1].split(", ")
    assert "lora" in applicable and "houlsby" in applicable and name not in applicable
    for other in applicable:  # every method it names does build
        build_model(deberta, parse_method(other), NUM_LABELS)


@pytest.mark.parametrize(("name", "arch"), CASES)
def test_one_step_changes_only_the_method_and_the_head(encoders, name, arch):
    pretrained = {key: value.clone() for key, value in encoders[arch].state_dict().items()}
    model = _build(encoders, name, arch)
    method = METHODS.get(name)()
    before = {key: p.detach().clone() for key, p in model.named_parameters()}
    trainable = {key for key, p in model.named_parameters() if p.requires_grad}
    head = {key for key in before if key.startswith("head.")}
    own = {f"encoder.{key}" for key, _ in model.encoder.named_parameters() if method.owns(key)}

    assert trainable == own | head  # requires_grad is set on exactly the method's params and the head
    assert bool(own) != method.frozen_encoder, f"{name} owns no parameter, or owns some of a frozen encoder"
    _one_step(model, arch, name=name)
    changed = {key for key, p in model.named_parameters() if not torch.equal(p, before[key])}
    assert changed <= trainable, f"frozen parameters changed: {sorted(changed - trainable)[:3]}"
    assert changed & head, "the head did not train"
    assert method.frozen_encoder or changed & own, f"no parameter of {name} changed"
    for key, value in encoders[arch].state_dict().items():  # the pretrained encoder is a copy source
        assert torch.equal(value, pretrained[key]), f"pretrained {key} changed"


@pytest.mark.parametrize(("name", "arch"), CASES)
def test_save_load_gives_identical_logits(encoders, name, arch, tmp_path):
    method = METHODS.get(name)()
    model = _build(encoders, name, arch)
    _one_step(model, arch, name=name)
    encoded = _encoded(arch, 6, seed=1)
    trained = predict(model, encoded, np.arange(6))
    method.for_inference(model)  # as the AL loop does after training
    expected = predict(model, encoded, np.arange(6))
    np.testing.assert_allclose(expected, trained, rtol=0, atol=1e-5)  # the same function
    save_checkpoint(model, tmp_path, {"method": name})
    # as peft.checkpoint.load_model does: rebuild (here from another seed), then load
    fresh = _build(encoders, name, arch, seed=7)
    method.for_inference(fresh)
    assert not np.array_equal(predict(fresh, encoded, np.arange(6)), expected)
    load_weights(fresh, tmp_path)
    assert np.array_equal(predict(fresh, encoded, np.arange(6)), expected)
    assert np.isfinite(expected).all()


def _dims(encoder) -> dict[str, int]:
    config = encoder.config
    fused = config.model_type == "modernbert"
    h = config.hidden_size
    return {"h": h, "layers": config.num_hidden_layers,
            "ffn": getattr(config, "intermediate_size", None) or config.hidden_dim,
            "embedding": encoder.get_input_embeddings().embedding_dim,
            # output sizes of the adapted attention projections: q and v, or the fused Wqkv
            "qv": [3 * h] if fused else [h, h], "kv": [3 * h] if fused else [h, h]}


def _bottleneck(h: int, reduction: int = 16) -> int:
    b = h // reduction
    return 2 * h * b + b + h  # down and up weights and biases


def _prefix(h: int, layers: int, length: int, width: int = 512) -> int:
    return length * h + h * width + width + width * 2 * layers * h + 2 * layers * h


def _unipelt(d) -> int:
    h = d["h"]
    gate = h + 1  # a Linear(h, 1) gate per gated module
    lora = sum(8 * h + 8 * out + gate for out in d["qv"])  # A (r, h), B (out, r), gate
    per_layer = lora + (_bottleneck(h) + gate) + gate  # LoRA; adapter; prefix gate
    return d["layers"] * per_layer + _prefix(h, d["layers"], 10)


def _oft(h: int, block: int = 32) -> int:
    block = min(block, h)
    return (h // block) * block * (block - 1) // 2  # skew-symmetric generator of each block


# Trainable parameters of the encoder under each method's defaults (the head comes on top).
# None: only peft's own count is checked (LoKr's factorisation depends on how peft factors the sizes).
FORMULAS = {
    "full": lambda enc, d: sum(p.numel() for p in enc.parameters()),
    "bitfit": lambda enc, d: sum(p.numel() for n, p in enc.named_parameters() if n.endswith(".bias")),
    "lora": lambda enc, d: d["layers"] * sum(8 * d["h"] + 8 * out for out in d["qv"]),  # r=8
    "dora": lambda enc, d: d["layers"] * sum(8 * d["h"] + 8 * out + out for out in d["qv"]),
    "houlsby": lambda enc, d: d["layers"] * 2 * _bottleneck(d["h"]),
    "pfeiffer": lambda enc, d: d["layers"] * _bottleneck(d["h"]),
    "prefix_tuning": lambda enc, d: _prefix(d["h"], d["layers"], 30),
    "prompt_tuning": lambda enc, d: 10 * d["embedding"],
    "ia3": lambda enc, d: d["layers"] * (sum(d["kv"]) + d["ffn"]),
    "unipelt": lambda enc, d: _unipelt(d),
    "unipelt_prompt": lambda enc, d: _unipelt(d) + 10 * d["embedding"],
    "vera": lambda enc, d: d["layers"] * sum(256 + out for out in d["qv"]),  # r=256 and the output vector
    "loha": lambda enc, d: d["layers"] * sum(2 * 8 * (d["h"] + out) for out in d["qv"]),
    "lokr": None,
    "oft": lambda enc, d: d["layers"] * len(d["qv"]) * _oft(d["h"]),
    "head": lambda enc, d: 0,  # a linear probe: the head alone
    "setfit": lambda enc, d: sum(p.numel() for p in enc.parameters()),  # the whole body, as full
}


@pytest.mark.parametrize(("name", "arch"), CASES)
def test_trainable_count_matches_formula_and_library(encoders, name, arch):
    assert name in FORMULAS, f"add the trainable-parameter formula of {name!r} to FORMULAS"
    model = _build(encoders, name, arch)
    trainable, total = count_parameters(model)
    head = sum(p.numel() for p in model.head.parameters())
    assert head == (encoders[arch].config.hidden_size + 1) * NUM_LABELS
    if FORMULAS[name] is not None:
        assert trainable == FORMULAS[name](encoders[arch], _dims(encoders[arch])) + head
    if isinstance(METHODS.get(name)(), LibraryMethod):
        assert trainable - head == backend.library_count(model.encoder)
    if name == "full":
        assert trainable == total


PADDING_INVARIANT = [(name, arch) for name, arch in CASES if METHODS.get(name).padding_invariant]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize(("name", "arch"), PADDING_INVARIANT)
def test_output_does_not_depend_on_batch_padding(encoders, name, arch, pooling):
    model = _build(encoders, name, arch, pooling=pooling)
    _one_step(model, arch, name=name)  # trained weights: zero-initialised adapter parts hide mask errors
    encoded = _encoded(arch, 6, seed=2, max_len=20)
    shortest = int(np.argmin(encoded.lengths))
    alone = predict(model, encoded, np.array([shortest]))
    in_batch = predict(model, encoded, np.arange(6))[shortest : shortest + 1]  # padded to the longest
    np.testing.assert_allclose(in_batch, alone, rtol=0, atol=1e-5)
