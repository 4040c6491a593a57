"""Analyses over stored records (never imports training): learning curves, forgetting, CKA
(the numeric measures themselves live in :mod:`peftal.measures`)."""

from peftal.analysis.forgetting import ForgettingStats, forgetting_events, forgetting_stats, never_learned
from peftal.analysis.records import (
    analyze,
    find_stores,
    group_runs,
    group_summary,
    run_cka,
    run_forgetting,
)
from peftal.measures.cka import cka_matrix, linear_cka, median_distance, rbf_cka
from peftal.measures.curves import learning_curve_auc, ripl

__all__ = ["ForgettingStats", "analyze", "cka_matrix", "find_stores", "forgetting_events",
           "forgetting_stats", "group_runs", "group_summary", "learning_curve_auc", "linear_cka",
           "median_distance", "never_learned", "rbf_cka", "ripl", "run_cka", "run_forgetting"]
