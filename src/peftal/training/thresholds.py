"""Per-label decision thresholds of the multi-label task, chosen on the labelled set only.

A sigmoid output of 0.5 is the right cut only for a calibrated model with symmetric costs; with few
labels and rare emotions (GoEmotions' ``grief`` has 0.2% positives) a trained model's probabilities
sit far below 0.5 for its rare labels, and a fixed cut never predicts them. Each label's threshold
is the one of a fixed grid that maximises that label's F1 on *out-of-fold* probabilities of the
labelled set (a model never scores the texts it was trained on; see :mod:`peftal.al.rounds`) —
never the test split.
"""

from __future__ import annotations

import numpy as np

GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)  # 0.05, 0.10, ..., 0.95
DEFAULT = 0.5


def best_thresholds(probs: np.ndarray, targets: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """``(labels,)`` thresholds: per label, the grid value whose ``probs >= t`` has the highest F1
    against ``targets`` (ties: the value closest to 0.5, then the lower); 0.5 for a label with no
    positive example (its F1 is 0 at every cut).

    Args:
        probs: ``(n, labels)`` out-of-fold probabilities.
        targets: ``(n, labels)`` 0/1 labels.
        grid: Candidate thresholds.
    """
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(targets).astype(bool)
    predicted = probs[None, :, :] >= np.asarray(grid)[:, None, None]  # (grid, n, labels)
    tp = (predicted & truth).sum(1)
    fp = (predicted & ~truth).sum(1)
    fn = (~predicted & truth).sum(1)
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)  # (grid, labels)
    order = np.lexsort((grid, np.abs(grid - DEFAULT)))  # preference among equal F1s
    best = order[np.argmax(f1[order], axis=0)]
    thresholds = np.asarray(grid, dtype=np.float64)[best]
    thresholds[~truth.any(axis=0)] = DEFAULT
    return thresholds
