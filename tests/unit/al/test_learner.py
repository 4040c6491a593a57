"""The model as strategies see it: MC-dropout passes and embeddings with probabilities."""

from __future__ import annotations

import numpy as np
import torch

from peftal.al.learner import ModelClassifier
from peftal.models.heads import TextClassifier
from tests.conftest import random_encoded, tiny_encoder


def _clf(batch_size=8):
    torch.manual_seed(0)
    model = TextClassifier(tiny_encoder("bert"), 3)
    model.eval()
    return ModelClassifier(model, random_encoded(20), "classification", batch_size=batch_size)


def test_mc_predict_proba_shape_determinism_and_dropout():
    clf = _clf()
    ids = np.array([3, 1, 7, 19, 0, 4, 5])
    state = torch.random.get_rng_state()
    probs = clf.mc_predict_proba(ids, passes=5, seed=123)
    assert torch.equal(state, torch.random.get_rng_state())  # torch's generator is left alone
    assert probs.shape == (7, 3, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(probs - probs[:, :, :1]).max() > 1e-4  # passes differ: dropout is on
    np.testing.assert_array_equal(probs, clf.mc_predict_proba(ids, passes=5, seed=123))
    assert not np.array_equal(probs, clf.mc_predict_proba(ids, passes=5, seed=124))
    assert not clf.model.training


def test_mc_passes_follow_the_ids():
    """Row i belongs to ids[i] whatever the batching: reversed ids give reversed rows of the mean."""
    clf = _clf(batch_size=4)
    ids = np.arange(12)
    forward = clf.mc_predict_proba(ids, passes=200, seed=0).mean(axis=2)
    backward = clf.mc_predict_proba(ids[::-1], passes=200, seed=1).mean(axis=2)[::-1]
    deterministic = clf.predict_proba(ids)
    # Means of 200 passes are close to each other and to the dropout-free prediction, per id.
    np.testing.assert_allclose(forward, backward, atol=0.02)
    np.testing.assert_allclose(forward, deterministic, atol=0.02)
    assert np.abs(forward - deterministic[::-1]).max() > 0.05  # a mix-up of ids would show


def test_embed_proba_is_embed_and_predict_proba():
    clf = _clf()
    ids = np.array([5, 2, 9])
    vectors, probs = clf.embed_proba(ids)
    np.testing.assert_allclose(vectors, clf.embed(ids), atol=1e-6)
    np.testing.assert_allclose(probs, clf.predict_proba(ids), atol=1e-6)
