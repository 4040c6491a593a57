"""The built-in datasets of the studies, each registered with its task, columns and metrics.

A built-in name resolves to ``$PEFTAL_DATA_DIR/<name>/{train,validation,test}.jsonl[.gz]`` when
that folder exists, else to its Hugging Face hub id (which needs a network connection).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peftal.registry import Registry


@dataclass(frozen=True)
class DatasetSpec:
    """What peftal knows about a built-in dataset.

    Attributes:
        name: Registry name, also the local folder name.
        task: ``classification``, ``multilabel``, ``regression`` or ``qa``.
        description: One line for ``peftal datasets``.
        metrics: Metric names reported for this dataset (see :mod:`peftal.training.metrics`).
        hub_id: Hugging Face hub dataset id used when no local copy exists.
        hub_config: Hub config name, if any.
        hub_columns: Hub column → peftal column (``text``, ``text_pair``, ``label``).
        hub_splits: peftal split → hub split name.
        text_pair: Whether examples are sentence pairs.
        labels: The label names in a fixed order (``None`` for regression and QA).
        hub_label_names: Hub label name → peftal label name where they differ (``neg`` → ``negative``).
        hub_label_scale: Factor that brings hub regression targets to the local scale.
        domain: The text domain of Gururangan et al. (2020) the dataset belongs to (``biomed``,
            ``cs``, ``news``, ``reviews``): its domain-adaptive pretraining corpus is the texts of
            the domain's datasets (:func:`peftal.data.corpus.domain_corpus`); ``None`` for GLUE and
            the other general datasets.
    """

    name: str
    task: str
    description: str
    metrics: tuple[str, ...]
    hub_id: str
    hub_config: str | None = None
    hub_columns: dict[str, str] = field(default_factory=dict)
    hub_splits: dict[str, str] = field(default_factory=dict)
    text_pair: bool = False
    labels: tuple[str, ...] | None = None
    hub_label_names: dict[str, str] = field(default_factory=dict)
    hub_label_scale: float = 1.0
    domain: str | None = None

    @property
    def num_labels(self) -> int:
        if self.task == "regression":
            return 1
        return len(self.labels) if self.labels else 0


DATASETS: Registry[DatasetSpec] = Registry("dataset")

_CLS = ("accuracy", "f1_macro")
_DOMAIN = ("accuracy", "f1_macro", "f1_micro")


def _add(spec: DatasetSpec) -> None:
    DATASETS.register(spec.name)(spec)


_add(DatasetSpec(
    "trec", "classification", "TREC-6 question type (Li & Roth 2002)", _CLS,
    "CogComp/trec", hub_columns={"coarse_label": "label"},
    labels=("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"),
))
_add(DatasetSpec(
    "subj", "classification", "subjective vs objective sentences (Pang & Lee 2004)", _CLS,
    "SetFit/subj", hub_columns={"label_text": "label"}, labels=("objective", "subjective"),
))
_add(DatasetSpec(
    "sst2", "classification", "binary sentiment, GLUE SST-2", _CLS,
    "nyu-mll/glue", "sst2", hub_columns={"sentence": "text"}, labels=("negative", "positive"),
))
_add(DatasetSpec(
    "ag_news", "classification", "4-way news topic (Zhang et al. 2015)", _CLS,
    "fancyzhx/ag_news", labels=("Business", "Sci/Tech", "Sports", "World"),
    domain="news",  # Gururangan et al. (2020) count AG News in the News domain
))
_add(DatasetSpec(
    "mrpc", "classification", "paraphrase pairs, GLUE MRPC", ("accuracy", "f1", "f1_macro"),
    "nyu-mll/glue", "mrpc", hub_columns={"sentence1": "text", "sentence2": "text_pair"},
    text_pair=True, labels=("not_equivalent", "equivalent"),
))
_add(DatasetSpec(
    "rte", "classification", "textual entailment, GLUE RTE", _CLS,
    "nyu-mll/glue", "rte", hub_columns={"sentence1": "text", "sentence2": "text_pair"},
    text_pair=True, labels=("entailment", "not_entailment"),
))
_add(DatasetSpec(
    "cola", "classification", "grammatical acceptability, GLUE CoLA", ("accuracy", "f1_macro", "mcc"),
    "nyu-mll/glue", "cola", hub_columns={"sentence": "text"},
    labels=("unacceptable", "acceptable"),
))
_add(DatasetSpec(
    "stsb", "regression", "semantic similarity 0-5, GLUE STS-B", ("pearson", "spearman", "mse"),
    "sentence-transformers/stsb", hub_columns={"sentence1": "text", "sentence2": "text_pair",
                                               "score": "label"},
    text_pair=True, hub_label_scale=5.0,  # the sentence-transformers copy divides scores by 5
))
_add(DatasetSpec(
    "chemprot", "classification", "13-way chemical-protein relation (BioMed)", _DOMAIN,
    "allenai/chemprot", domain="biomed",  # label names as in the SciBERT release
    labels=("ACTIVATOR", "AGONIST", "AGONIST-ACTIVATOR", "AGONIST-INHIBITOR", "ANTAGONIST",
            "DOWNREGULATOR", "INDIRECT-DOWNREGULATOR", "INDIRECT-UPREGULATOR", "INHIBITOR",
            "PRODUCT-OF", "SUBSTRATE", "SUBSTRATE_PRODUCT-OF", "UPREGULATOR"),
))
_add(DatasetSpec(
    "acl_arc", "classification", "6-way citation intent (CS)", _DOMAIN,
    "hrithikpiyush/acl-arc", domain="cs",
    labels=("Background", "CompareOrContrast", "Extends", "Future", "Motivation", "Uses"),
))
_add(DatasetSpec(
    "sciie", "classification", "7-way scientific relation, SciERC (CS)", _DOMAIN,
    "hrithikpiyush/sciie", domain="cs",
    labels=("COMPARE", "CONJUNCTION", "EVALUATE-FOR", "FEATURE-OF", "HYPONYM-OF", "PART-OF",
            "USED-FOR"),
))
_add(DatasetSpec(
    "hyperpartisan", "classification", "hyperpartisan news by article (News)", _DOMAIN,
    "SemEvalWorkshop/hyperpartisan_news_detection", "byarticle",
    hub_columns={"hyperpartisan": "label"}, labels=("false", "true"),
    hub_label_names={"True": "true", "False": "false"},  # a boolean column on the hub
    domain="news",
))
_add(DatasetSpec(
    "imdb", "classification", "binary sentiment of long movie reviews (Reviews)", _DOMAIN,
    "stanfordnlp/imdb", labels=("negative", "positive"), domain="reviews",
    hub_label_names={"neg": "negative", "pos": "positive"},
))
_add(DatasetSpec(
    "goemotions", "multilabel", "28 emotions of Reddit comments, several per text (Demszky et al. 2020)",
    ("f1_micro", "f1_macro", "f1_samples", "subset_accuracy", "hamming_loss"),
    "google-research-datasets/go_emotions", "simplified",
    labels=("admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
            "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
            "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "neutral",
            "optimism", "pride", "realization", "relief", "remorse", "sadness", "surprise"),
))
_add(DatasetSpec(
    "squad", "qa", "extractive QA, SQuAD 1.1 (dev file split by article)", ("exact_match", "f1"),
    "rajpurkar/squad",
))


def is_multilabel(dataset: str, task: str | None) -> bool:
    """Whether a run's data hold several labels per text, known before loading: ``--task
    multilabel`` was given, or ``dataset`` is a built-in multi-label dataset (GoEmotions)."""
    return task == "multilabel" or (dataset in DATASETS and DATASETS.get(dataset).task == "multilabel")


def has_pairs(dataset: str, text_pair_column: str | None) -> bool:
    """Whether a run's data are text pairs, known before loading: a ``--text-pair-column`` was given,
    or ``dataset`` is a built-in pair dataset (MRPC, RTE, STS-B)."""
    return text_pair_column is not None or (dataset in DATASETS and DATASETS.get(dataset).text_pair)
