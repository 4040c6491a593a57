"""The store, at the base of the house: the SQLite results store every runner writes and analysis
reads, the provenance each stored run carries, and the one atomic-write helper."""

from peftal.store.atomic import atomic_path, write_json_atomic, write_text_atomic
from peftal.store.provenance import provenance
from peftal.store.results import STORE_NAME, ResultsStore

__all__ = ["STORE_NAME", "ResultsStore", "atomic_path", "provenance", "write_json_atomic",
           "write_text_atomic"]
