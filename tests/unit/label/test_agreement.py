"""Agreement between annotators against values computed by hand (and scikit-learn's kappa)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from peftal.label.agreement import measure


def triples(by_text: dict[int, dict[str, str]]) -> list[tuple[int, str, str]]:
    return [(i, who, label) for i, given in by_text.items() for who, label in given.items()]


def test_cohen_kappa_of_two_annotators_by_hand():
    # 10 texts: both "a" on 4, both "b" on 3, A "a" / B "b" on 2, A "b" / B "a" on 1.
    pairs = [("a", "a")] * 4 + [("b", "b")] * 3 + [("a", "b")] * 2 + [("b", "a")]
    found = measure(triples({i: {"A": x, "B": y} for i, (x, y) in enumerate(pairs)}), ["a", "b"])
    # observed 7/10; chance: A says "a" 6/10, B 5/10 -> 0.6*0.5 + 0.4*0.5 = 0.5; (0.7-0.5)/0.5
    (pair,) = found.pairs
    assert pair.annotators == ("A", "B") and pair.texts == 10
    assert pair.observed == pytest.approx(0.7) and pair.kappa == pytest.approx(0.4)


def test_krippendorff_alpha_overall_and_per_label_by_hand():
    by_text = {1: {"A": "x", "B": "x"}, 2: {"A": "x", "B": "y"}, 3: {"A": "z", "B": "z"},
               4: {"A": "y", "B": "y"}, 5: {"A": "x"}}  # text 5: one annotation, not a unit
    found = measure(triples(by_text), ["x", "y", "z"])
    assert found.texts == 4 and found.annotations == {"A": 5, "B": 4}
    # Coincidences: o_xx = 2, o_xy = o_yx = 1, o_yy = 2, o_zz = 2; n = 8, n_x = n_y = 3, n_z = 2.
    # D_o = 2/8; D_e = (64 - 9 - 9 - 4) / (8 * 7) = 42/56; alpha = 1 - (2/8) / (42/56) = 2/3.
    assert found.alpha == pytest.approx(2 / 3)
    # "x or not": o_11 = 2, o_10 = o_01 = 1, o_00 = 4; n_1 = 3, n_0 = 5.
    # D_o = 2/8; D_e = 2*3*5 / 56; alpha = 1 - 14/30 = 8/15 (y is the mirror image; z is perfect).
    assert found.alpha_per_label == pytest.approx({"x": 8 / 15, "y": 8 / 15, "z": 1.0})
    # Kappa of A and B on the 4 shared texts: observed 3/4; chance 0.5*0.25 + 0.25*0.5 + 0.25*0.25.
    assert found.pairs[0].kappa == pytest.approx((0.75 - 0.3125) / (1 - 0.3125))


def test_alpha_weights_a_text_of_three_annotators_by_its_pairs():
    # Units (a,a) (a,b) (b,b) (b,b) (a,a) (a,a,b): the three-value unit adds 1 to o_aa, o_ab, o_ba.
    # o_aa = 5, o_ab = o_ba = 2, o_bb = 4; n = 13; alpha = 1 - (4/13) / (2*7*6 / (13*12)) = 3/7.
    units = [("a", "a"), ("a", "b"), ("b", "b"), ("b", "b"), ("a", "a"), ("a", "a", "b")]
    by_text = {i: dict(zip("PQR", unit)) for i, unit in enumerate(units)}
    found = measure(triples(by_text), ["a", "b"])
    assert found.alpha == pytest.approx(3 / 7)
    assert {pair.annotators for pair in found.pairs} == {("P", "Q"), ("P", "R"), ("Q", "R")}
    assert [pair.texts for pair in found.pairs] == [6, 1, 1]


def test_kappa_equals_scikit_learn_on_random_annotations_of_three_annotators():
    rng = np.random.default_rng(0)
    labels = ["l0", "l1", "l2", "l3"]
    by_text = {}
    for i in range(60):
        who = rng.choice(["ann", "bo", "cy"], size=int(rng.integers(1, 4)), replace=False)
        truth = rng.integers(4)
        by_text[i] = {w: labels[truth if rng.random() < 0.7 else rng.integers(4)] for w in who}
    found = measure(triples(by_text), labels)
    assert len(found.pairs) == 3
    for pair, (a, b) in zip(found.pairs, itertools.combinations(["ann", "bo", "cy"], 2), strict=True):
        shared = [given for given in by_text.values() if a in given and b in given]
        assert pair.annotators == (a, b) and pair.texts == len(shared)
        assert pair.kappa == pytest.approx(cohen_kappa_score([g[a] for g in shared],
                                                             [g[b] for g in shared]))
    assert found.texts == sum(len(given) > 1 for given in by_text.values())


def test_undefined_values_are_none_and_nobody_in_common_gives_no_pair():
    found = measure(triples({1: {"A": "x", "B": "x"}, 2: {"A": "x", "B": "x"}, 3: {"C": "y"}}),
                    ["x", "y"])
    assert [pair.annotators for pair in found.pairs] == [("A", "B")]  # C shares no text
    assert found.pairs[0].observed == 1.0 and found.pairs[0].kappa is None  # one label: undefined
    assert found.alpha is None and found.alpha_per_label == {"x": None, "y": None}
    empty = measure([], ["x", "y"])
    assert (empty.texts, empty.pairs, empty.alpha) == (0, (), None)
    assert empty.to_dict()["alpha_per_label"] == {"x": None, "y": None}
