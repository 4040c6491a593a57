"""``python -m peftal`` = the ``peftal`` command."""

import sys

from peftal.cli import main

sys.exit(main())
