"""Agreement between annotators: Cohen's kappa per pair, Krippendorff's alpha overall and per label.

Measured on the live annotations: the texts that several annotators labelled are those chosen by
``--overlap`` (:mod:`peftal.label.annotations`).

- **Cohen's kappa** (Cohen 1960, "A coefficient of agreement for nominal scales") for each pair of
  annotators, on the texts both labelled: scikit-learn's ``cohen_kappa_score``.
- **Krippendorff's alpha** (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"),
  nominal, over every text with two annotations or more, whoever gave them: the ``krippendorff``
  package (maintained, numpy only). **Per label**, alpha of the two-valued judgement "this label
  or another one" on the same texts: which labels the annotators agree on, and which they confuse.

Both are 1 for perfect agreement and 0 for agreement at chance. Where a value is undefined (every
annotation of the texts compared is one label: agreement at chance is then certain), it is
``None``, never NaN, which JSON cannot hold.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PairAgreement:
    """Two annotators on the texts both labelled.

    Attributes:
        annotators: Their names, in sorted order.
        texts: How many texts both labelled.
        observed: Fraction of those texts they gave the same label.
        kappa: Cohen's kappa on those texts; ``None`` when undefined.
    """

    annotators: tuple[str, str]
    texts: int
    observed: float
    kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """The agreement of a project's annotators (``GET /api/agreement``, ``peftal label stats``).

    Attributes:
        annotations: Live annotations per annotator.
        texts: Texts with two annotations or more (the units of alpha).
        pairs: One record per pair of annotators who labelled a text in common.
        alpha: Krippendorff's alpha (nominal) over those texts; ``None`` when undefined.
        alpha_per_label: Alpha of "this label or another" per label; ``None`` when undefined
            (e.g. a label nobody gave to those texts).
    """

    annotations: dict[str, int]
    texts: int
    pairs: tuple[PairAgreement, ...]
    alpha: float | None
    alpha_per_label: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["pairs"] = [{**pair, "annotators": list(pair["annotators"])} for pair in values["pairs"]]
        return values


def measure(annotations: Iterable[tuple[int, str, str]], labels: Sequence[str]) -> Agreement:
    """The agreement of ``annotations``, ``(text id, annotator, label)`` triples with at most one per
    text and annotator, over the project's ``labels``."""
    given: dict[Any, dict[str, str]] = {}
    for unit, annotator, label in annotations:  # a unit: a text id, or (text id, label) of a set
        given.setdefault(unit if isinstance(unit, tuple) else int(unit), {})[annotator] = label
    per_annotator: dict[str, int] = {}
    for by_annotator in given.values():
        for annotator in by_annotator:
            per_annotator[annotator] = per_annotator.get(annotator, 0) + 1
    shared = [by_annotator for by_annotator in given.values() if len(by_annotator) > 1]
    pairs = tuple(filter(None, (_pair(a, b, shared, labels)
                                for a, b in itertools.combinations(sorted(per_annotator), 2))))
    index = {label: k for k, label in enumerate(labels)}
    counts = np.zeros((len(shared), len(labels)), dtype=np.int64)  # (texts, labels): value counts
    for row, by_annotator in enumerate(shared):
        for label in by_annotator.values():
            counts[row, index[label]] += 1
    per_label = {label: _alpha(np.stack([counts[:, k], counts.sum(1) - counts[:, k]], axis=1))
                 for k, label in enumerate(labels)}
    return Agreement(annotations=dict(sorted(per_annotator.items())), texts=len(shared), pairs=pairs,
                     alpha=_alpha(counts), alpha_per_label=per_label)


def _pair(a: str, b: str, shared: list[dict[str, str]], labels: Sequence[str]) -> PairAgreement | None:
    from sklearn.metrics import cohen_kappa_score

    both = [(by[a], by[b]) for by in shared if a in by and b in by]
    if not both:
        return None
    first, second = zip(*both, strict=True)
    with warnings.catch_warnings():  # undefined (one label only) is reported as None below
        warnings.simplefilter("ignore")
        kappa = float(cohen_kappa_score(first, second, labels=list(labels)))
    observed = sum(x == y for x, y in both) / len(both)
    return PairAgreement(annotators=(a, b), texts=len(both), observed=observed,
                         kappa=None if math.isnan(kappa) else kappa)


def _alpha(value_counts: np.ndarray) -> float | None:
    """Nominal Krippendorff's alpha of a ``(texts, values)`` count matrix; ``None`` if undefined."""
    import krippendorff

    if value_counts.shape[0] == 0 or np.count_nonzero(value_counts.sum(0)) < 2:
        return None  # no text, or a single value used: no disagreement is possible
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alpha = float(krippendorff.alpha(value_counts=value_counts, level_of_measurement="nominal"))
    return None if math.isnan(alpha) else alpha


def measure_sets(annotations: Iterable[tuple[int, str, str]], labels: Sequence[str]) -> Agreement:
    """:func:`measure` for a multi-label project, whose annotations are label sets (stored as
    :mod:`peftal.label.label_sets` says): agreement on the yes/no judgement of each label of each
    text. Cohen's kappa per pair and overall alpha are over all those judgements; alpha per label
    over that label's; ``texts`` and ``annotations`` count texts, as in a single-label project."""
    from peftal.label.label_sets import expand

    annotations = list(annotations)
    counted = measure(annotations_as_one_label(annotations), ["set"])
    overall = measure(expand(annotations, labels), ["no", "yes"])
    per_label = {label: measure(expand(annotations, [label]), ["no", "yes"]).alpha for label in labels}
    return dataclasses.replace(overall, annotations=counted.annotations, texts=counted.texts,
                               alpha_per_label=per_label)


def annotations_as_one_label(annotations: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """The annotations with one label each: what counts texts and annotators alike in any project."""
    return [(example_id, annotator, "set") for example_id, annotator, _ in annotations]


def measure_project(annotations: Iterable[tuple[int, str, str]], settings: Any) -> Agreement:
    """The agreement of a project's live annotations: :func:`measure_sets` in a multi-label
    project, else :func:`measure`."""
    if getattr(settings, "multi_label", False):
        return measure_sets(annotations, settings.labels)
    return measure(annotations, settings.labels)
