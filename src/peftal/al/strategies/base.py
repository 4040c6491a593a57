"""The query-strategy contract, its registry, and the shared top-k of scoring strategies.

A strategy is a stateless object with one keyword-only call (small-text's interface, with the
labelled ids' labels in place of the whole dataset)::

    query(*, clf, indices_unlabeled, indices_labeled, labels_labeled, n, rng) -> indices

A strategy sees what it may use and nothing else: the current model (``clf``: probabilities,
embeddings on demand), the pool and labelled ids, the labels of the labelled ids (``None`` where
the caller has none to give), ``n`` and a generator. It is never handed the dataset, so the gold
labels of the unlabelled pool in a simulation cannot leak into a query.
All indices are ids in the pool's one global index space. Scoring strategies only implement
``score(probs)`` on a ``(n, classes[, passes])`` probability array (the maths stays pure, as in
baal); the base class picks the top ``n`` and keeps the queried ids' scores in ``last_scores_``.

Tie-breaking: :func:`top_n` is a stable sort, so among equal scores the example that comes first in
``indices_unlabeled`` wins; the loop passes the pool sorted by id, so that is the smallest global id.
small-text uses ``np.argpartition`` instead, which breaks ties in no specified order.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol

import numpy as np

from peftal.config import build_config, format_preset, parse_preset
from peftal.errors import UsageError
from peftal.registry import Registry


class Classifier(Protocol):
    """What a strategy may ask of the current model; every method takes global ids."""

    task: str

    def predict_proba(self, indices: np.ndarray) -> np.ndarray:
        """``(len(indices), classes)`` class probabilities."""

    def embed(self, indices: np.ndarray) -> np.ndarray:
        """``(len(indices), hidden)`` pooled last-layer representations."""

    def embed_proba(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings ``(n, hidden)`` and probabilities ``(n, classes)`` from one forward pass."""

    def mc_predict_proba(self, indices: np.ndarray, passes: int, seed: int) -> np.ndarray:
        """``(len(indices), classes, passes)`` probabilities of ``passes`` passes with dropout on."""


@dataclasses.dataclass(frozen=True)
class NoConfig:
    """Strategies without hyper-parameters."""


class QueryStrategy:
    """Base class of an active-learning query strategy.

    Class attributes:
        name: Registry name.
        description: One line for ``peftal strategies``.
        reference: The paper it comes from.
        Config: Its frozen config dataclass.
        needs_probabilities: Whether it needs class probabilities (so does not apply to regression).
        tasks: The tasks it applies to, where that is not the default: classification, plus
            regression and multilabel for a strategy that needs no class probabilities.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    reference: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig
    needs_probabilities: ClassVar[bool] = True
    tasks: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()
        self.last_scores_: np.ndarray | None = None

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        """Return ``n`` unique ids from ``indices_unlabeled`` to label next.

        Args:
            clf: The current model (:class:`Classifier`).
            indices_unlabeled: Pool ids it may pick from.
            indices_labeled: Ids labelled so far.
            labels_labeled: Their labels, aligned with ``indices_labeled`` (class ids, or values
                for regression); ``None`` where the caller has none to give.
            n: How many ids to return.
            rng: The generator of any random choice.
        """
        raise NotImplementedError

    @property
    def preset(self) -> str:
        return format_preset(self.name, self.config)


def check_pool(indices_unlabeled: np.ndarray, n: int) -> None:
    """A clear error when the pool cannot supply ``n`` examples."""
    if n < 1:
        raise UsageError(f"query size must be >= 1, got {n}")
    if len(indices_unlabeled) < n:
        raise UsageError(f"cannot query {n} examples: the unlabelled pool holds only "
                         f"{len(indices_unlabeled)}")


def embed_pool_and_labeled(clf: Classifier, indices_unlabeled: np.ndarray,
                           indices_labeled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 embeddings ``(u, d)`` of the pool and ``(l, d)`` of the labelled set (``l`` may be 0),
    from one inference pass over both."""
    indices_labeled = np.asarray(indices_labeled, dtype=np.int64)
    vectors = np.asarray(clf.embed(np.concatenate([indices_unlabeled, indices_labeled])), dtype=np.float64)
    return vectors[: len(indices_unlabeled)], vectors[len(indices_unlabeled):]


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest scores; ties go to the earlier position (stable)."""
    return np.argsort(-scores, kind="stable")[:n]


class ScoringStrategy(QueryStrategy):
    """A strategy that scores each unlabelled example (higher = more informative) and takes the top n."""

    def score(self, probs: np.ndarray) -> np.ndarray:
        """``(n,)`` informativeness of each row of a ``(n, classes)`` probability array."""
        raise NotImplementedError

    def probabilities(self, clf: Classifier, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The probability array :meth:`score` is computed from (MC strategies override this)."""
        return clf.predict_proba(indices)

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        scores = self.score(self.probabilities(clf, indices_unlabeled, rng))
        picked = top_n(scores, n)
        self.last_scores_ = scores[picked]
        return indices_unlabeled[picked]


STRATEGIES: Registry[type[QueryStrategy]] = Registry("strategy")


def register_strategy(cls: type[QueryStrategy]) -> type[QueryStrategy]:
    """Class decorator: register a strategy under its ``name``."""
    return STRATEGIES.register(cls.name)(cls)


def parse_strategy(preset: str) -> QueryStrategy:
    """A strategy instance from a preset such as ``entropy`` or ``mc_dropout[passes=10]``."""
    name, overrides = parse_preset(preset)
    cls = STRATEGIES.get(name)
    return cls(build_config(cls.Config, overrides, owner=name))


def strategies_for(task: str) -> list[str]:
    """Names of the strategies that apply to ``task``."""
    return [name for name, cls in STRATEGIES.items() if applies(cls, task)]


def applies(cls: type[QueryStrategy], task: str) -> bool:
    """Whether strategy ``cls`` applies to ``task``: its own ``tasks``, else every classification
    strategy to classification and those without class probabilities to every task."""
    if cls.tasks is not None:
        return task in cls.tasks
    return task == "classification" or not cls.needs_probabilities
