"""CKA against a straightforward reference (HSIC with explicit centring matrices) and its invariances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import ortho_group

from peftal.analysis import cka_matrix, linear_cka, median_distance, rbf_cka
from peftal.measures.cka import is_constant


def reference_cka(K: np.ndarray, L: np.ndarray) -> float:
    """Kornblith et al. (2019), eq. 2-3, written literally: HSIC = tr(KHLH)/(n-1)²."""
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n

    def hsic(A: np.ndarray, B: np.ndarray) -> float:
        return np.trace(A @ H @ B @ H) / (n - 1) ** 2

    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def reference_rbf_gram(X: np.ndarray, sigma: float | None = None) -> np.ndarray:
    distances = pdist(X)  # distinct pairs only
    sigma = np.median(distances) if sigma is None else sigma
    return np.exp(-squareform(distances) ** 2 / (2 * sigma**2))


def related(rng: np.random.Generator, n: int = 60, d1: int = 12, d2: int = 7, noise: float = 0.7):
    X = rng.normal(size=(n, d1))
    Y = np.tanh(X @ rng.normal(size=(d1, d2))) + noise * rng.normal(size=(n, d2))
    return X, Y


@pytest.mark.parametrize("seed", range(5))
def test_linear_matches_reference(seed):
    X, Y = related(np.random.default_rng(seed))
    assert linear_cka(X, Y) == pytest.approx(reference_cka(X @ X.T, Y @ Y.T), abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_rbf_matches_reference(seed):
    X, Y = related(np.random.default_rng(seed))
    assert rbf_cka(X, Y) == pytest.approx(
        reference_cka(reference_rbf_gram(X), reference_rbf_gram(Y)), abs=1e-6)
    assert rbf_cka(X, Y, sigma=2.5) == pytest.approx(
        reference_cka(reference_rbf_gram(X, 2.5), reference_rbf_gram(Y, 2.5)), abs=1e-6)


def test_median_distance_is_the_median_over_distinct_pairs():
    X = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # distances 5, 5, 10
    assert median_distance(X) == pytest.approx(5.0)


@pytest.mark.parametrize("cka", [linear_cka, rbf_cka])
def test_identical_inputs_give_one(cka):
    X, _ = related(np.random.default_rng(0))
    assert cka(X, X) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("cka", [linear_cka, rbf_cka])
def test_invariant_to_orthogonal_transforms_and_isotropic_scaling(cka):
    rng = np.random.default_rng(1)
    X, Y = related(rng)
    base = cka(X, Y)
    Q1, Q2 = ortho_group.rvs(X.shape[1], random_state=2), ortho_group.rvs(Y.shape[1], random_state=3)
    assert cka(X @ Q1, Y) == pytest.approx(base, abs=1e-9)
    assert cka(X, Y @ Q2) == pytest.approx(base, abs=1e-9)
    assert cka(7.5 * X, Y) == pytest.approx(base, abs=1e-9)
    assert cka(X, 0.01 * Y) == pytest.approx(base, abs=1e-9)
    assert cka(3.0 * X @ Q1, 0.2 * Y @ Q2) == pytest.approx(base, abs=1e-9)
    # A translation changes nothing either: both kernels are centred.
    assert cka(X + 5.0, Y) == pytest.approx(base, abs=1e-9)


def test_linear_cka_not_invariant_to_anisotropic_scaling():
    X, Y = related(np.random.default_rng(4))
    stretch = np.diag(np.linspace(0.1, 10.0, X.shape[1]))
    assert abs(linear_cka(X @ stretch, Y) - linear_cka(X, Y)) > 1e-3


def test_independent_random_matrices_are_dissimilar():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(2000, 10)), rng.normal(size=(2000, 10))
    assert linear_cka(X, Y) < 0.02
    X_related = X @ rng.normal(size=(10, 10))
    assert linear_cka(X, X_related) > 0.5


@pytest.mark.parametrize("cka", [linear_cka, rbf_cka])
def test_values_lie_in_unit_interval(cka):
    rng = np.random.default_rng(6)
    for _ in range(20):
        n, d1, d2 = (int(v) for v in rng.integers((3, 1, 1), (30, 8, 8)))
        value = cka(rng.normal(size=(n, d1)), rng.normal(size=(n, d2)))
        assert 0.0 <= value <= 1.0


@pytest.mark.parametrize("kernel,single", [("linear", linear_cka), ("rbf", rbf_cka)])
def test_matrix_agrees_with_pairwise_calls(kernel, single):
    rng = np.random.default_rng(7)
    xs = [rng.normal(size=(40, d)) for d in (5, 8, 3)]
    ys = [xs[0] @ rng.normal(size=(5, 6)), rng.normal(size=(40, 4))]
    table = cka_matrix(xs, ys, kernel=kernel)
    assert table.shape == (3, 2)
    for i, X in enumerate(xs):
        for j, Y in enumerate(ys):
            assert table[i, j] == pytest.approx(single(X, Y), abs=1e-9)


@pytest.mark.parametrize("X,Y,message", [
    (np.zeros((5, 3)) + 1.0, np.ones((5, 2)), "constant"),
    (np.ones((5, 3)), np.ones((4, 3)), "same examples"),
    (np.ones(5), np.ones((5, 1)), "2-D"),
    (np.ones((1, 3)), np.ones((1, 3)), "at least 2"),
    (np.array([[np.nan, 1.0], [0.0, 1.0]]), np.ones((2, 2)), "NaN"),
])
def test_bad_inputs_raise(X, Y, message):
    with pytest.raises(ValueError, match=message):
        linear_cka(X, Y)


def test_constant_representations_are_detected_up_to_rounding():
    rng = np.random.default_rng(8)
    row = rng.normal(size=5)
    constant = np.tile(row, (10, 1)) + 1e-9 * rng.normal(size=(10, 5))
    varied = rng.normal(size=(10, 5))
    assert is_constant(constant) and not is_constant(varied) and not is_constant(1e-8 * varied)
    with pytest.raises(ValueError, match="constant"):
        cka_matrix([constant], [varied])
    table = cka_matrix([constant, varied], [varied, constant], constant="nan")
    assert np.isnan(table[0]).all() and np.isnan(table[:, 1]).all()
    assert table[1, 0] == pytest.approx(1.0)
