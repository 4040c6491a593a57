"""SQuAD 1.1 exact match and F1, as the official evaluation script (``evaluate-v1.1.py``,
Rajpurkar et al. 2016) defines them.

Re-implemented here because the script is not a package and hub-fetched metric scripts need a
network. Every definition follows the script line for line: answers are normalised (lower case,
punctuation removed, the articles *a/an/the* removed, whitespace collapsed); F1 is the bag-of-tokens
overlap of prediction and gold answer; each question takes the best score over its gold answers;
an unanswered question counts as 0. The one deliberate difference: the script reports percentages
(0-100), peftal reports every metric on a 0-1 scale (multiply by 100 to compare with the script).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (the script's order)."""
    text = text.lower()
    text = "".join(char for char in text if char not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match_score(prediction: str, ground_truth: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1_score(prediction: str, ground_truth: str) -> float:
    """Harmonic mean of token precision and recall of the normalised strings (0 when disjoint)."""
    prediction_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def max_over_ground_truths(metric: Callable[[str, str], float], prediction: str,
                           ground_truths: Sequence[str]) -> float:
    """The best score of ``prediction`` against any of the gold answers."""
    return max(metric(prediction, truth) for truth in ground_truths)


def squad_metrics(predictions: Mapping[str, str], ground_truths: Mapping[str, Sequence[str]]
                  ) -> dict[str, float]:
    """``{"exact_match", "f1"}`` in [0, 1] over every question of ``ground_truths``.

    Args:
        predictions: Question id → predicted answer text; a missing id scores 0, as in the script.
        ground_truths: Question id → its gold answer texts.
    """
    if not ground_truths:
        raise ValueError("no questions to evaluate")
    exact = f1 = 0.0
    for qid, truths in ground_truths.items():
        if qid not in predictions:
            continue
        exact += max_over_ground_truths(exact_match_score, predictions[qid], truths)
        f1 += max_over_ground_truths(f1_score, predictions[qid], truths)
    return {"exact_match": exact / len(ground_truths), "f1": f1 / len(ground_truths)}
