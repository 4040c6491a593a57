"""What a user gets without choosing: the method that ``peftal run``, ``train``, ``pretrain`` and the
labelling app train by default, and the strategy an AL run queries with.

``ia3`` ((IA)³, Liu et al. 2022) with its own learning rates (3e-2, head 1e-2) had the best mean
rank among the candidate recipes (``lora`` as it was, ``lora`` with a 10× faster head or a
200-step budget or an LP-FT head, ``bitfit``, ``ia3``, the ``head`` linear probe) on the
*validation* splits of ten built-in datasets at 100, 200 and 300 labels
(``benchmarks/choose_recipe.py``; the tables are in docs/label-efficiency.md). It also builds on
every architecture peftal knows (``bitfit`` does not: ModernBERT has no biases).

On the two sentence-pair datasets of that search (MRPC, RTE) ``lora`` was ahead of ``ia3`` in five
of the six (dataset, size) cells, by 3.1 points of validation accuracy on average, so an AL run
(``peftal run``, :class:`peftal.experiments.active_learning.RunConfig`) on text pairs defaults to ``lora``.

A run without ``--strategy`` queries by ``entropy`` (the predictive entropy of the class
distribution); on multi-label data, where a text has one probability per label and no class
distribution, by ``br_entropy_mean`` (binary-relevance entropy averaged over the labels, the
multi-label counterpart; :mod:`peftal.al.strategies.multilabel`).
"""

DEFAULT_METHOD = "ia3"
DEFAULT_PAIR_METHOD = "lora"


def default_method(pairs: bool) -> str:
    """The method an AL run trains when none is named: ``lora`` on text pairs, else ``ia3``."""
    return DEFAULT_PAIR_METHOD if pairs else DEFAULT_METHOD


DEFAULT_STRATEGY = "entropy"
DEFAULT_MULTILABEL_STRATEGY = "br_entropy_mean"


def default_strategy(multilabel: bool) -> str:
    """The strategy an AL run queries with when none is named: ``br_entropy_mean`` on multi-label
    data, else ``entropy``."""
    return DEFAULT_MULTILABEL_STRATEGY if multilabel else DEFAULT_STRATEGY
