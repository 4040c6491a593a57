"""The built-in study kinds, registered here rather than by themselves.

The registry (:mod:`peftal.experiments.kinds`) imports none of its kinds and a kind's module does
not register itself, so neither imports the other back. The study driver and the worker import this
module; a plug-in kind registers itself with :func:`~peftal.experiments.kinds.register_kind`.
"""

from __future__ import annotations

from peftal.experiments import active_learning, supervised_study
from peftal.experiments.kinds import STUDY_KINDS, StudyKind, register_kind

BUILTIN_KINDS: tuple[StudyKind, ...] = (active_learning.KIND, supervised_study.KIND)

for _kind in BUILTIN_KINDS:
    if _kind.name not in STUDY_KINDS:
        register_kind(_kind)


def get_kind(name: str) -> StudyKind:
    """The kind registered as ``name``; a :class:`UsageError` listing the valid kinds if none."""
    return STUDY_KINDS.get(name)
