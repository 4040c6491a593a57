"""Did a training converge? One criterion per task, read from the per-epoch records alone.

A comparison of two methods is a finding only when both sides trained; a run whose model stayed
at the majority class, or whose loss blew up in its last epoch, measured the recipe, not the
method. :func:`converged` judges a finished training from what the trainer records anyway (the
per-epoch loss and training accuracy, the last epoch's per-example correctness), so every run
kind — AL round, supervised cell, pretraining — is judged the same way, and the verdict is stored
with the round. The criterion and its thresholds are stated in docs/methods.md ("Convergence").

Every task shares a **stability** test: the last epoch's loss lies within ``STABLE_RELATIVE`` of
the best epoch's, or ``STABLE_ABSOLUTE``, or ``STABLE_OF_DESCENT`` of the descent from the first
epoch's loss to the best, whichever is largest, so that losses near zero do not fail on noise: a
LoRA round on TREC went from 1.79 to 0.037 and ended at 0.057 with training accuracy 0.98, a wobble
of 1 % of its descent, not the blow-up this test is for. Then, per task:

- **classification**: the last epoch's training accuracy is at least halfway from the majority
  class's share to 1 (``FIT_SHARE``), and the model does not predict one class for every example
  when the labelled set has several. Halfway, not a fixed 0.9: with a majority class of 0.69
  (CoLA) 0.9 is a demand near perfect fitting, with six balanced classes 0.9 is far above what
  "learned something" means, and noisy labels may cap the attainable share below 0.9.
- **multilabel**: the same test on the trainer's training accuracy, which for this task is subset
  accuracy (a text counts as right when every one of its labels is right at probability 0.5): at
  least halfway from the share of the most frequent label *set* (what predicting that set for every
  text scores) to 1, and the model does not predict one label set for every text when the labelled
  set has several. Subset, not per-label accuracy: with many rare labels, predicting no label
  already gets most (text, label) decisions right, so per-label accuracy barely moves.
- **regression**: the last epoch's training MSE is at most ``REGRESSION_MSE_SHARE`` of the
  targets' variance (the model explains at least half of the training variance; MSE on
  standardised targets).
- **qa**: the last epoch's span loss (mean of start and end cross-entropy) is at most
  ``QA_MAX_LOSS`` nats (the gold tokens get about e^-1 of the probability; a uniform guess over a
  384-token window is 5.9).
- **mlm**: the loss fell by at least ``MLM_MIN_DECREASE`` (relative) from the first to the last
  epoch; a single epoch cannot show it (unknown).

Training accuracy is the trainer's: each example scored when its minibatch was presented, dropout
on (Toneva et al. 2019), so it lags the model at the end of the epoch — the criterion is
conservative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

STABLE_RELATIVE = 0.10
STABLE_ABSOLUTE = 0.02
STABLE_OF_DESCENT = 0.05
FIT_SHARE = 0.5
REGRESSION_MSE_SHARE = 0.5
QA_MAX_LOSS = 1.0
MLM_MIN_DECREASE = 0.05


def _value(epoch: Any, name: str) -> float | None:
    value = epoch.get(name) if isinstance(epoch, Mapping) else getattr(epoch, name, None)
    return None if value is None else float(value)


def converged(epochs: Sequence[Any], *, task: str, targets: np.ndarray | None = None,
              correct_last: np.ndarray | None = None) -> tuple[bool | None, str]:
    """``(converged, reason)`` of one training; ``converged`` is ``None`` where it cannot be judged.

    Args:
        epochs: Per completed epoch, dicts or :class:`~peftal.records.EpochRecord` with ``loss``
            and (classification) ``train_accuracy``.
        task: ``classification``, ``multilabel``, ``regression``, ``qa`` or ``mlm``.
        targets: The training targets (class ids, a 0/1 ``(examples, labels)`` matrix, or
            regression values), in training order.
        correct_last: ``(examples,)`` bool, the last epoch's per-example correctness, same order
            as ``targets`` (classification, multilabel).
    """
    losses = [_value(e, "loss") for e in epochs]
    if not losses or any(loss is None or not np.isfinite(loss) for loss in losses):
        return None if not losses else False, ("no completed epoch" if not losses
                                               else "the loss is missing or not finite")
    last, best = losses[-1], min(losses)
    if last > best + max(STABLE_RELATIVE * best, STABLE_ABSOLUTE, STABLE_OF_DESCENT * (losses[0] - best)):
        return False, f"unstable: last-epoch loss {last:.4g} above the best epoch's {best:.4g}"
    if task == "classification":
        return _classification(epochs, targets, correct_last)
    if task == "multilabel":  # a label set is one "class" of the same test
        return _classification(epochs, _label_set_ids(targets), correct_last, unit="label set")
    if task == "regression":
        if targets is None or np.var(targets) == 0:
            return None, "regression targets without variance"
        share = last / float(np.var(targets))
        ok = bool(share <= REGRESSION_MSE_SHARE)
        return ok, f"training MSE {share:.3f} of the target variance (at most {REGRESSION_MSE_SHARE})"
    if task == "qa":
        return bool(last <= QA_MAX_LOSS), f"training span loss {last:.3f} (at most {QA_MAX_LOSS})"
    if task == "mlm":
        if len(losses) < 2:
            return None, "one epoch: a decrease of the loss cannot be measured"
        drop = (losses[0] - last) / losses[0] if losses[0] > 0 else 0.0
        return bool(drop >= MLM_MIN_DECREASE), (f"MLM loss fell {drop:.1%} from the first epoch "
                                          f"(at least {MLM_MIN_DECREASE:.0%})")
    raise ValueError(f"no convergence criterion for task {task!r}")


def _label_set_ids(targets: np.ndarray | None) -> np.ndarray | None:
    """Per text of a 0/1 ``(texts, labels)`` matrix, an id of its label set (equal sets, equal ids)."""
    if targets is None or len(targets) == 0:
        return targets
    return np.unique(np.asarray(targets).reshape(len(targets), -1), axis=0, return_inverse=True)[1].ravel()


def _classification(epochs: Sequence[Any], targets: np.ndarray | None,
                    correct_last: np.ndarray | None, unit: str = "class") -> tuple[bool | None, str]:
    accuracy = _value(epochs[-1], "train_accuracy")
    if accuracy is None or targets is None or len(targets) == 0:
        return None, "no training accuracy recorded"
    targets = np.asarray(targets)
    classes, counts = np.unique(targets, return_counts=True)
    majority = counts.max() / len(targets)
    if len(classes) > 1 and correct_last is not None and len(correct_last) == len(targets):
        correct_last = np.asarray(correct_last, dtype=bool)
        for cls in classes:  # a model that predicts ``cls`` everywhere is right exactly there
            if np.array_equal(correct_last, targets == cls):
                return False, f"predicts one {unit} ({cls.item()}) for every training example"
    needed = majority + FIT_SHARE * (1.0 - majority)
    if len(classes) == 1:
        needed = 1.0 - STABLE_ABSOLUTE  # one class: it must at least be fitted
    ok = bool(accuracy >= needed)
    name = "training accuracy" if unit == "class" else "training subset accuracy"
    return ok, (f"{name} {accuracy:.3f} (at least {needed:.3f}: halfway from the "
                f"majority share {majority:.3f} to 1)")

