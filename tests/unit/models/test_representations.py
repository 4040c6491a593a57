"""Layer-wise pooled representations and the base-vs-fine-tuned CKA probe, on tiny random encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from peftal.al.probe import RepresentationProbe
from peftal.models.representations import layer_representations
from peftal.peft import build_model, parse_method
from tests.conftest import TINY_ARCHITECTURES, random_encoded, tiny_encoder


@pytest.mark.parametrize("arch", TINY_ARCHITECTURES)
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_one_vector_per_depth_independent_of_batching(arch, pooling):
    encoder = tiny_encoder(arch)
    encoded = random_encoded(9, with_types=arch != "distilbert")
    ids = np.array([7, 0, 3, 5])
    reps = layer_representations(encoder, encoded, ids, pooling=pooling, batch_size=3)
    assert reps.shape == (3, 4, 32)  # embedding output + 2 layers
    # Example by example (no padding at all) gives the same vectors, in the order of ``ids``.
    for row, i in enumerate(ids):
        with torch.inference_mode():
            states = encoder(input_ids=torch.as_tensor(encoded.input_ids[i])[None],
                             output_hidden_states=True).hidden_states
        for depth, layer in enumerate(states):
            expected = layer[0, 0] if pooling == "cls" else layer[0].mean(0)
            np.testing.assert_allclose(reps[depth, row], expected.numpy(), atol=1e-5)


def test_cls_after_the_embedding_layer_is_the_same_for_every_input():
    """Why ``cls`` pooling has no CKA at depth 0: token, position 0 and segment 0 never change."""
    reps = layer_representations(tiny_encoder(), random_encoded(6), np.arange(6), pooling="cls")
    assert np.allclose(reps[0], reps[0][0]) and not np.allclose(reps[1], reps[1][0])


def test_training_mode_is_restored():
    encoder = tiny_encoder()
    encoder.train()
    layer_representations(encoder, random_encoded(3), [0, 1])
    assert encoder.training


@pytest.mark.parametrize("method", ["lora", "full"])
def test_probe_untrained_model_matches_base(method):
    encoder = tiny_encoder()
    encoded = random_encoded(30)
    probe = RepresentationProbe(encoder, encoded, size=20, seed=0)
    # LoRA starts as the identity update (B = 0) and full starts as a copy: nothing has moved.
    model = build_model(encoder, parse_method(method), num_outputs=3, seed=0)
    result = probe.measure(model)
    assert len(result["per_layer"]) == len(result["per_layer_rbf"]) == 3
    assert np.allclose(result["per_layer"], 1.0, atol=1e-6)
    assert np.allclose(result["per_layer_rbf"], 1.0, atol=1e-6)
    matrix = np.array(result["matrix"])
    assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix), result["per_layer"])
    assert result["probe_size"] == 20 == len(set(result["probe_ids"]))


def test_probe_with_cls_pooling_leaves_the_constant_layer_undefined():
    encoder = tiny_encoder()
    probe = RepresentationProbe(encoder, random_encoded(20), size=20, seed=0, pooling="cls")
    result = probe.measure(build_model(encoder, parse_method("lora"), num_outputs=2, seed=0))
    assert result["per_layer"][0] is None and result["per_layer_rbf"][0] is None
    assert result["matrix"][0] == [None, None, None] and result["matrix"][1][0] is None
    assert np.allclose(result["per_layer"][1:], 1.0, atol=1e-6)


def test_probe_sees_a_changed_top_layer_only_from_that_layer_on():
    encoder = tiny_encoder()
    encoded = random_encoded(40)
    probe = RepresentationProbe(encoder, encoded, size=40, seed=0)
    model = build_model(encoder, parse_method("full"), num_outputs=3, seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.encoder.encoder.layer[1].parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator))
    per_layer = probe.measure(model)["per_layer"]
    assert per_layer[0] == pytest.approx(1.0, abs=1e-6) and per_layer[1] == pytest.approx(1.0, abs=1e-6)
    assert 0.0 <= per_layer[2] < 0.99
    # The base encoder itself was not touched by building or perturbing the task model.
    assert np.allclose(RepresentationProbe(encoder, encoded, size=40, seed=0).base_, probe.base_)


def test_probe_draw_is_seeded_and_capped_by_the_split():
    encoder, encoded = tiny_encoder(), random_encoded(25)
    a = RepresentationProbe(encoder, encoded, size=10, seed=3).indices
    b = RepresentationProbe(encoder, encoded, size=10, seed=3).indices
    c = RepresentationProbe(encoder, encoded, size=10, seed=4).indices
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(RepresentationProbe(encoder, encoded, size=500, seed=0).indices) == 25
