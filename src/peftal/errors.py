"""Exceptions that reach the user.

:class:`UsageError` is bad input (unknown name, invalid value, unreadable file): the CLI prints its
message on one line and exits with status 2. Anything else is a bug and keeps its traceback.
"""


class UsageError(ValueError):
    """Bad input from the user; the message names the problem in one line."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, a cluster scheduler, ``docker stop``), raised where Ctrl-C would raise
    :class:`KeyboardInterrupt` so that every clean-up on the way out runs the same; the CLI exits
    with 143 (128 + SIGTERM)."""

    def __str__(self) -> str:
        return "terminated"
