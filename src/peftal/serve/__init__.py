"""``peftal serve``: a trained model (a run folder or a ``peftal export`` folder) behind an HTTP JSON
API, with micro-batching, request limits and a graceful shutdown (docs/deploy.md)."""
