"""How peftal's processes talk to a terminal: third-party libraries quiet, warnings on one
``peftal: warning:`` line. Shared by the CLI and the labelling app's worker process."""

from __future__ import annotations

import logging
import os
import warnings


def quiet_libraries() -> None:
    """Silence the libraries' advisory output and print warnings as ``peftal: warning: …``."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.formatwarning = lambda message, category, *args, **kwargs: (
        f"peftal: warning: {message}\n")
