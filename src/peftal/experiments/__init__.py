"""Experiments: one module per run kind, the study driver and its executors (the results store and
provenance live in :mod:`peftal.store`, re-exported here for existing imports)."""

from peftal.store import STORE_NAME, ResultsStore, provenance

__all__ = ["STORE_NAME", "ResultsStore", "provenance"]
