"""Experiments: the results store and provenance (studies and runners join here)."""

from peftal.experiments.provenance import provenance
from peftal.experiments.store import STORE_NAME, ResultsStore

__all__ = ["STORE_NAME", "ResultsStore", "provenance"]
