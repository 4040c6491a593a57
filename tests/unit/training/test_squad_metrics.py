"""SQuAD 1.1 exact match and F1 against hand-computed cases and the official script's definitions."""

from __future__ import annotations

import json

import pytest

from peftal.training.squad import (
    exact_match_score,
    f1_score,
    max_over_ground_truths,
    normalize_answer,
    squad_metrics,
)


@pytest.mark.parametrize("text, expected", [
    ("The Denver Broncos!", "denver broncos"),        # lower case, article, punctuation
    ("  a   cat  ", "cat"),                          # article and surrounding whitespace
    ("An apple, the pie.", "apple pie"),
    ("theatre and anthem", "theatre and anthem"),    # articles only as whole words
    ("U.S. Army", "us army"),                         # punctuation inside words is dropped
    ("the-the", "thethe"),                           # punctuation goes before article removal
    ("Saint Bernadette Soubirous", "saint bernadette soubirous"),
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_exact_match_after_normalisation():
    assert exact_match_score("the Broncos.", "Broncos") == 1.0
    assert exact_match_score("Denver Broncos", "Broncos") == 0.0


def test_f1_hand_cases():
    # 1 common token; precision 1/2, recall 1/1 -> F1 = 2/3.
    assert f1_score("Denver Broncos", "Broncos") == pytest.approx(2 / 3)
    # Bags of tokens: common = {x: 1, y: 1}; precision = recall = 2/3.
    assert f1_score("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1_score("Carolina Panthers", "Denver Broncos") == 0.0
    assert f1_score("", "Broncos") == 0.0
    assert f1_score("the", "a") == 0.0  # both normalise to nothing: no common token


def test_max_over_ground_truths():
    truths = ["Denver Broncos", "Broncos", "the Denver Broncos team"]
    assert max_over_ground_truths(exact_match_score, "broncos", truths) == 1.0
    assert max_over_ground_truths(f1_score, "Denver", truths) == pytest.approx(2 / 3)


def test_example_of_the_squad_metric_card():
    # The example of the SQuAD metric card: one question, answer "1976" -> 100 / 100 (here 1 / 1).
    qid = "56e10a3be3433e1400422b22"
    assert squad_metrics({qid: "1976"}, {qid: ["1976"]}) == {"exact_match": 1.0, "f1": 1.0}


def test_unanswered_questions_count_as_zero():
    metrics = squad_metrics({"q1": "Broncos"}, {"q1": ["Denver Broncos"], "q2": ["1976"]})
    assert metrics == {"exact_match": 0.0, "f1": pytest.approx((2 / 3) / 2)}


def test_gold_answers_score_perfectly_on_the_dev_file(data_dir):
    """Every first gold answer of the official dev file matches itself after normalisation."""
    with open(data_dir / "squad" / "dev-v1.1.json", encoding="utf-8") as handle:
        articles = json.load(handle)["data"]
    truths = {qa["id"]: [a["text"] for a in qa["answers"]]
              for article in articles for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    assert len(truths) == 10570
    assert squad_metrics({q: t[0] for q, t in truths.items()}, truths) == {"exact_match": 1.0, "f1": 1.0}
    # An empty prediction has no token (F1 0) but matches the few gold answers that normalise to
    # nothing, such as "the" (the script counts those as exact matches too).
    empty = squad_metrics({q: "" for q in truths}, truths)
    blank = sum(any(not normalize_answer(t) for t in ts) for ts in truths.values())
    assert 0 < blank < 20
    assert empty == {"exact_match": blank / len(truths), "f1": 0.0}
