"""Tokenise-once encoding, dynamic padding, the training loop and inference."""

from __future__ import annotations

import numpy as np
import torch

from peftal.data.encoding import collate, inference_batches, training_batches
from peftal.peft import build_model, parse_method
from peftal.training import TrainConfig, embed, predict, softmax, train
from tests.conftest import random_encoded, tiny_encoder


def test_collate_pads_to_the_longest_in_batch():
    encoded = random_encoded(5, seed=1)
    batch = collate(encoded, np.array([0, 3]))
    lengths = [len(encoded.input_ids[0]), len(encoded.input_ids[3])]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert (batch["input_ids"][batch["attention_mask"] == 0] == encoded.pad_id).all()
    assert batch["token_type_ids"].shape == batch["input_ids"].shape


def test_inference_batches_cover_every_index_once_sorted_by_length():
    encoded = random_encoded(23, seed=2)
    indices = np.array([22, 5, 7, 1, 0, 13, 4, 9, 18, 3])
    seen, widths = [], []
    for positions, batch in inference_batches(encoded, indices, batch_size=3):
        seen.extend(indices[positions])
        widths.append(batch["input_ids"].shape[1])
    assert sorted(seen) == sorted(indices.tolist())
    assert widths == sorted(widths)


def _padding(encoded, indices, batches) -> int:
    return sum(batch["input_ids"].numel() - batch["attention_mask"].sum().item() for _, batch in batches)


def test_length_grouped_batches_cover_every_example_once_per_epoch_with_less_padding():
    encoded = random_encoded(200, seed=4)
    indices = np.arange(3, 195)
    rng = np.random.default_rng(0)
    epochs = [list(training_batches(encoded, indices, 16, rng, group_by_length=True)) for _ in range(2)]
    for batches in epochs:
        positions = np.concatenate([p for p, _ in batches])
        assert sorted(positions.tolist()) == list(range(len(indices)))
        assert [len(p) for p, _ in batches].count(16) == len(indices) // 16
        for p, batch in batches:  # each batch holds the examples at its positions
            assert batch["attention_mask"].sum(1).tolist() == encoded.lengths[indices[p]].tolist()
    # a new grouping every epoch, not a fixed partition
    first = {tuple(sorted(p)) for p, _ in epochs[0]}
    assert first != {tuple(sorted(p)) for p, _ in epochs[1]}
    plain = list(training_batches(encoded, indices, 16, np.random.default_rng(0)))
    assert _padding(encoded, indices, epochs[0]) < 0.5 * _padding(encoded, indices, plain)


def test_plain_training_batches_are_one_shuffle():
    encoded = random_encoded(50, seed=5)
    indices = np.arange(50)
    batches = list(training_batches(encoded, indices, 8, np.random.default_rng(3)))
    order = np.random.default_rng(3).permutation(50)
    assert np.concatenate([p for p, _ in batches]).tolist() == order.tolist()


def _separable(num: int, seed: int = 0):
    """Sequences whose class is marked by token 10 or 11 at position 1."""
    encoded = random_encoded(num, seed=seed)
    labels = np.arange(num) % 2
    for i, ids in enumerate(encoded.input_ids):
        ids[1] = 10 + labels[i]
    return encoded, labels


def test_training_learns_and_records_correctness():
    encoded, labels = _separable(64)
    model = build_model(tiny_encoder(), parse_method("full"), 2, seed=0)
    ids = np.arange(64)
    config = TrainConfig(epochs=8, batch_size=16, lr=3e-3, head_lr=3e-3)
    result = train(model, encoded, ids, labels[ids], config, task="classification",
                   rng=np.random.default_rng(0))
    assert result.correct.shape == (8, 64) and result.correct.dtype == bool
    assert result.steps == 8 * 4 and len(result.epochs) == 8
    assert result.epochs[-1]["loss"] < result.epochs[0]["loss"]
    accuracy = (predict(model, encoded, ids).argmax(1) == labels).mean()
    assert accuracy > 0.9
    # the last epoch's recorded correctness agrees with the epoch's train accuracy
    assert result.correct[-1].mean() == result.epochs[-1]["train_accuracy"]


def test_predict_keeps_input_order_and_matches_unbatched():
    encoded, _ = _separable(10)
    model = build_model(tiny_encoder(), parse_method("lora"), 3, seed=0)
    ids = np.array([9, 2, 5, 0])
    batched = predict(model, encoded, ids, batch_size=3)
    single = np.concatenate([predict(model, encoded, np.array([i]), batch_size=1) for i in ids])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    probs = softmax(batched)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    assert embed(model, encoded, ids).shape == (4, 32)


def test_time_budget_stops_training():
    encoded, labels = _separable(64)
    model = build_model(tiny_encoder(), parse_method("full"), 2, seed=0)
    config = TrainConfig(epochs=1000, batch_size=8, time_budget=0.2)
    result = train(model, encoded, np.arange(64), labels, config, task="classification",
                   rng=np.random.default_rng(0))
    assert result.stopped_by_budget and len(result.epochs) < 1000


def test_regression_trains_one_output():
    encoded, labels = _separable(32)
    targets = labels.astype(np.float32) * 5.0
    model = build_model(tiny_encoder(), parse_method("full"), 1, seed=0)
    result = train(model, encoded, np.arange(32), targets, TrainConfig(epochs=20, lr=3e-3, head_lr=3e-3),
                   task="regression", rng=np.random.default_rng(0))
    assert result.correct.size == 0
    outputs = predict(model, encoded, np.arange(32))[:, 0]
    assert np.corrcoef(outputs, targets)[0, 1] > 0.9


def test_build_model_is_seeded_and_leaves_the_encoder_untouched():
    encoder = tiny_encoder()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    a = build_model(encoder, parse_method("lora"), 2, seed=5)
    b = build_model(encoder, parse_method("lora"), 2, seed=5)
    for (name, x), (_, y) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(x, y), name
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
