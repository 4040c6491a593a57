"""Numeric measures with no dependency on the rest of peftal: learning-curve areas and RIPL
(:mod:`~peftal.measures.curves`), representation similarity (:mod:`~peftal.measures.cka`). The AL
loop, the probe and the analysis all use them, so they sit below every layer."""

from peftal.measures.cka import cka_matrix, linear_cka, median_distance, rbf_cka
from peftal.measures.curves import learning_curve_auc, ripl

__all__ = ["cka_matrix", "learning_curve_auc", "linear_cka", "median_distance", "rbf_cka", "ripl"]
