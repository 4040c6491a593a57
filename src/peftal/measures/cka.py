"""Centred kernel alignment (CKA; Kornblith et al. 2019, "Similarity of Neural Network
Representations Revisited").

For representations ``X (n, d1)`` and ``Y (n, d2)`` of the same ``n`` examples, with Gram matrices
``K = k(X, X)`` and ``L = l(Y, Y)`` and the centring matrix ``H = I - 11ᵀ/n``::

    HSIC(K, L) = tr(K H L H) / (n - 1)²
    CKA(K, L)  = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L))

which lies in [0, 1] for positive semi-definite kernels. This is the (biased) estimator of the paper
and of its reference code. Linear CKA (``k(x, x') = x·x'``) is invariant to orthogonal transforms
and isotropic scaling of either input, but not to arbitrary invertible linear maps, which is what
makes it useful for comparing network layers.

Implementation: ``tr(K H L H) = <HKH, HLH>_F`` because ``H`` is symmetric and idempotent, so the RBF
version forms each input's centred Gram matrix once (``(n, n)``) and takes a normalised inner
product; the linear version uses the equivalent feature-space form ``|YcᵀXc|²_F`` (Kornblith et
al., eq. 5), which needs no ``(n, n)`` matrix. :func:`cka_matrix` prepares every input once for a
whole layer × layer table. Written here rather than taken from a library because none of the
installed ones (scikit-learn, scipy, torch) has CKA, and the maths is ten lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KERNELS = ("linear", "rbf")


def _as_matrix(X: np.ndarray, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (examples, features) array, got shape {X.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 examples, got {X.shape[0]}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return X


def _squared_distances(X: np.ndarray) -> np.ndarray:
    """``(n, n)`` squared Euclidean distances, clipped at 0 against rounding."""
    norms = np.einsum("ij,ij->i", X, X)  # (n,)
    return np.maximum(norms[:, None] + norms[None, :] - 2.0 * X @ X.T, 0.0)


def median_distance(X: np.ndarray) -> float:
    """Median Euclidean distance between distinct examples (rows) of ``X``: the RBF bandwidth
    heuristic. Kornblith et al.'s code scales the median *squared* distance including the zero
    diagonal; the median over distinct pairs is the usual statement of the heuristic and does not
    shrink towards 0 for small ``n``."""
    X = _as_matrix(X, "X")
    upper = np.triu_indices(X.shape[0], k=1)
    return float(np.sqrt(np.median(_squared_distances(X)[upper])))


def centred_gram(X: np.ndarray, kernel: str = "linear", sigma: float | None = None) -> np.ndarray:
    """The centred Gram matrix ``H K H`` of ``X (n, d)`` for ``kernel``; ``(n, n)`` float64.

    Args:
        X: Representations, one row per example.
        kernel: ``linear`` or ``rbf`` (``exp(-|x - x'|² / (2σ²))``).
        sigma: RBF bandwidth; ``None`` = :func:`median_distance` of ``X``.
    """
    X = _as_matrix(X, "X")
    if kernel == "linear":
        centred = X - X.mean(axis=0, keepdims=True)
        return centred @ centred.T  # H X Xᵀ H = (HX)(HX)ᵀ
    if kernel != "rbf":
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if sigma is None:
        sigma = median_distance(X)
    if not sigma > 0:
        raise ValueError(f"the RBF bandwidth must be > 0, got {sigma} (are all examples identical?)")
    gram = np.exp(-_squared_distances(X) / (2.0 * sigma**2))
    # H K H without forming H: subtract row and column means, add back the grand mean.
    return (gram - gram.mean(axis=0, keepdims=True) - gram.mean(axis=1, keepdims=True)
            + gram.mean())


def is_constant(X: np.ndarray) -> bool:
    """Whether every row of ``X`` is the same, up to float32 rounding (CKA is 0/0 there)."""
    X = _as_matrix(X, "X")
    spread = np.abs(X - X.mean(axis=0, keepdims=True)).max()
    return bool(spread <= 1e-6 * float(np.abs(X).max()))


def _constant_error(name: str) -> ValueError:
    return ValueError(f"CKA is undefined: {name} is constant across examples")


def _normalised(gram: np.ndarray, name: str) -> np.ndarray:
    norm = np.linalg.norm(gram)
    if not norm > 0:
        raise _constant_error(name)
    return gram / norm


def _check_pair(X: np.ndarray, Y: np.ndarray) -> None:
    if np.shape(X)[0] != np.shape(Y)[0]:
        raise ValueError(f"X and Y must describe the same examples: {np.shape(X)[0]} rows "
                         f"vs {np.shape(Y)[0]}")


class _LinearSide:
    """A centred input and its self-similarity ``|XcᵀXc|_F``.

    Linear CKA is computed in feature space, ``|YcᵀXc|²_F / (|XcᵀXc|_F |YcᵀYc|_F)``, which equals the
    Gram-matrix form but costs ``O(n·d²)`` time and ``O(d²)`` memory instead of ``O(n²)``: a probe
    set of thousands of examples stays cheap.
    """

    def __init__(self, X: np.ndarray, name: str) -> None:
        X = _as_matrix(X, name)
        if is_constant(X):
            raise _constant_error(name)
        self.centred = X - X.mean(axis=0, keepdims=True)  # (n, d)
        self.norm = float(np.linalg.norm(self.centred.T @ self.centred))

    def cka(self, other: _LinearSide) -> float:
        cross = np.linalg.norm(self.centred.T @ other.centred) ** 2
        return float(np.clip(cross / (self.norm * other.norm), 0.0, 1.0))


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA of ``X (n, d1)`` and ``Y (n, d2)``: a float in [0, 1] (1 = same up to rotation
    and scale)."""
    _check_pair(X, Y)
    return _LinearSide(X, "X").cka(_LinearSide(Y, "Y"))


def rbf_cka(X: np.ndarray, Y: np.ndarray, sigma: float | None = None) -> float:
    """RBF-kernel CKA of ``X (n, d1)`` and ``Y (n, d2)``: a float in [0, 1].

    Args:
        X: Representations, one row per example.
        Y: Representations of the same examples.
        sigma: Bandwidth of both kernels. ``None`` (default) = the median heuristic applied to each
            input separately: σ is the median Euclidean distance between distinct examples of that
            input (:func:`median_distance`), so the value does not depend on the scale of either
            space and stays invariant to orthogonal transforms and isotropic scaling.

    Memory is ``O(n²)`` (two ``(n, n)`` Gram matrices).
    """
    _check_pair(X, Y)
    for A, name in ((X, "X"), (Y, "Y")):
        if is_constant(A):
            raise _constant_error(name)
    value = np.vdot(_normalised(centred_gram(X, "rbf", sigma), "X"),
                    _normalised(centred_gram(Y, "rbf", sigma), "Y"))
    return float(np.clip(value, 0.0, 1.0))


def cka_matrix(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], kernel: str = "linear", *,
               constant: str = "raise") -> np.ndarray:
    """CKA of every representation in ``xs`` against every one in ``ys``: ``(len(xs), len(ys))``.

    Each input is centred (linear) or turned into its centred Gram matrix (RBF, median-heuristic
    bandwidth) once, so a layer × layer table of ``L`` layers prepares ``2L`` inputs, not ``2L²``.

    Args:
        xs: Representations ``(n, d_i)`` of the same ``n`` examples.
        ys: Representations ``(n, d_j)`` of the same examples.
        kernel: ``linear`` or ``rbf``.
        constant: What a representation that is constant across examples gives (CKA is 0/0):
            ``raise`` a ValueError, or ``nan`` in its row or column.
    """
    if not xs or not ys:
        raise ValueError("cka_matrix needs at least one representation on each side")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if constant not in ("raise", "nan"):
        raise ValueError(f"constant must be 'raise' or 'nan', got {constant!r}")
    for X in (*xs, *ys):
        _check_pair(xs[0], X)

    def prepare(A: np.ndarray, name: str) -> _LinearSide | np.ndarray | None:
        if is_constant(A):
            if constant == "raise":
                raise _constant_error(name)
            return None
        return _LinearSide(A, name) if kernel == "linear" else _normalised(centred_gram(A, kernel), name)

    def similarity(x: _LinearSide | np.ndarray | None, y: _LinearSide | np.ndarray | None) -> float:
        if x is None or y is None:
            return np.nan
        return x.cka(y) if kernel == "linear" else float(np.clip(np.vdot(x, y), 0.0, 1.0))

    prepared_y = [prepare(Y, f"ys[{j}]") for j, Y in enumerate(ys)]
    table = np.empty((len(xs), len(ys)))
    for i, X in enumerate(xs):  # row by row: one RBF Gram matrix of ``xs`` held at a time
        x = prepare(X, f"xs[{i}]")
        table[i] = [similarity(x, y) for y in prepared_y]
    return table
