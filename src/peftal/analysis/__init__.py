"""Analyses over stored records (never imports training): learning curves, forgetting, CKA."""

from peftal.analysis.curves import learning_curve_auc, ripl

__all__ = ["learning_curve_auc", "ripl"]
