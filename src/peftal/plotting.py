"""matplotlib, set up once for the package: the headless Agg backend (figures are written to files
and embedded in reports, never shown), chosen before pyplot is first imported. Every module that
draws imports ``plt`` from here."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt"]
