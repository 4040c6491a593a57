"""Labelling with the model in the loop: a local web app for real active-learning annotation.

``peftal label start`` serves a page where people label texts that an AL strategy picks, while
a PEFT model retrains in a background process after every ``query_size`` new labels.

- :mod:`peftal.label.store`: the SQLite (WAL) store: texts, settings, the ranking.
- :mod:`peftal.label.annotations`: leases, annotations, several annotators per text
  (``--overlap``), the label each text trains with (majority; ties wait for a review).
- :mod:`peftal.label.schema`: the store's schema and the upgrade of older projects.
- :mod:`peftal.label.agreement`: Cohen's kappa per pair, Krippendorff's alpha overall and per label.
- :mod:`peftal.label.project`: creating, checking and resuming a project folder.
- :mod:`peftal.label.server`: the Flask app (page + JSON API); :mod:`peftal.label.api_input`
  reads its requests.
- :mod:`peftal.label.guidelines`: ``--guidelines FILE.md``, kept in the project, rendered safely.
- :mod:`peftal.label.access`: the access token asked of every request off loopback.
- :mod:`peftal.label.review`: the reviewer's view: disagreements, the labels the probe contradicts
  (out-of-fold), resolving a text's final label.
- :mod:`peftal.label.worker`: the background process: embedding, probe, retrains, who suggests;
  :mod:`peftal.label.trainer_process` starts and stops it for the server.
- :mod:`peftal.label.embeddings`: the frozen encoder's embeddings of the pool, cached, resumable.
- :mod:`peftal.label.probe`: the linear probe refitted after every label; who suggests; the order
  texts are served in (``--candidates``).
- :mod:`peftal.label.model`: retrain, rank the pool, cross-validated accuracy, k-means cold start.
- :mod:`peftal.label.final`: ``peftal label train``, the final model as a run folder.
"""

from peftal.label.project import LabelSettings, create, open_project, resume
from peftal.label.store import LabelStore

__all__ = ["LabelSettings", "LabelStore", "create", "open_project", "resume"]
