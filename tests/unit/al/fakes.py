"""A fake classifier with fixed random probabilities and embeddings, indexed by global id."""

from __future__ import annotations

import numpy as np


class FakeClassifier:
    """Implements :class:`peftal.al.strategies.Classifier` from fixed arrays (no model).

    Args:
        num_examples: Pool size (global ids ``0 .. num_examples - 1``).
        num_classes: Classes; probabilities are Dirichlet draws, so rows have no exact ties.
        hidden: Embedding width.
        task: ``classification``, ``multilabel`` (independent uniform probabilities per label) or
            ``regression`` (then probabilities raise, like the real one).
        seed: Seeds the arrays.
    """

    def __init__(self, num_examples: int = 300, num_classes: int = 4, hidden: int = 8,
                 task: str = "classification", seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.task = task
        self.probs = rng.dirichlet(np.ones(num_classes), size=num_examples)  # (N, C)
        if task == "multilabel":  # one independent sigmoid per label
            self.probs = rng.random((num_examples, num_classes))
        self.vectors = rng.normal(size=(num_examples, hidden))  # (N, hidden)
        self.mc_calls: list[int] = []

    def predict_proba(self, indices: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            raise ValueError("a regression model has no class probabilities")
        return self.probs[np.asarray(indices)]

    def embed(self, indices: np.ndarray) -> np.ndarray:
        return self.vectors[np.asarray(indices)]

    def embed_proba(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.embed(indices), self.predict_proba(indices)

    def mc_predict_proba(self, indices: np.ndarray, passes: int, seed: int) -> np.ndarray:
        """Passes perturb each id's fixed probabilities with noise drawn from ``seed``."""
        self.mc_calls.append(seed)
        base = self.predict_proba(indices)  # (n, C)
        noise = np.random.default_rng(seed).dirichlet(np.ones(base.shape[1]), size=(len(base), passes))
        mixed = 0.7 * base[:, None, :] + 0.3 * noise  # (n, passes, C)
        return mixed.transpose(0, 2, 1)  # (n, C, passes)
