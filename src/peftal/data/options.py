"""The data options shared by the commands that read data, written once here with their help and
checks: :class:`TextOptions` (which columns hold the texts) by every command that reads texts
(``peftal run``, ``train``, ``pretrain``, ``label start``), :class:`DataOptions` (the texts and
their labels) by those that read a labelled dataset (``peftal run``, ``train``). A command's config
inherits them, so its fields (the spec's keys, the ``--options``) stay flat.
"""

from __future__ import annotations

from dataclasses import dataclass

from peftal.errors import UsageError

TASKS = ("classification", "regression", "multilabel", "qa")  # the tasks a labelled dataset can hold


@dataclass(frozen=True)
class TextOptions:
    """Which columns of a data file hold the texts.

    Attributes:
        text_column: Column holding the text: a name, or a 0-based position with ``--no-header``.
        text_pair_column: Column holding the second text of sentence pairs (default: none).
        no_header: CSV/TSV files have no header row (default: the first row names the columns);
            give columns as 0-based positions, e.g. ``--text-column 1`` for id,text rows.
    """

    text_column: str = "text"
    text_pair_column: str | None = None
    no_header: bool = False

    def __post_init__(self) -> None:
        getattr(super(), "__post_init__", lambda: None)()  # the other option blocks' checks


@dataclass(frozen=True)
class DataOptions(TextOptions):
    """How a dataset's columns and labels are read.

    Attributes:
        label_column: Column holding the label: a name, or a 0-based position with ``--no-header``.
        task: Task of a local file (default: classification); ``multilabel``: several labels per
            text (a list per row, ``--label-separator`` or ``--label-columns``).
        unlabeled_values: A label value that means "no label" (repeatable), besides an empty
            label and -1 in an otherwise non-negative integer column; such rows are not a class
            and are left out of a simulated run.
        min_class_count: Drop classes with fewer than this many training examples (default: keep
            all; classes with 1-2 examples get a warning).
        label_separator: Multi-label files: a label cell joins several labels with this string
            (e.g. ``,``).
        label_columns: Multi-label files: one 0/1 column per label, comma-separated names (e.g.
            ``toxic,obscene,insult``); they replace ``--label-column``.
    """

    label_column: str = "label"
    task: str | None = None
    unlabeled_values: tuple[str, ...] = ()
    min_class_count: int = 0
    label_separator: str | None = None
    label_columns: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()  # the text options' checks, then the other blocks'
        object.__setattr__(self, "unlabeled_values", tuple(str(v) for v in self.unlabeled_values))
        if self.task is not None and self.task not in TASKS:
            raise UsageError(f"unknown task {self.task!r}; valid tasks: {', '.join(TASKS)}")
        if self.min_class_count < 0:
            raise UsageError(f"--min-class-count must be >= 0, got {self.min_class_count}")

        if isinstance(self.label_columns, (list, tuple)):  # a list in a YAML file or a study cell
            object.__setattr__(self, "label_columns", ",".join(str(c) for c in self.label_columns))
        if self.label_separator == "":
            raise UsageError("--label-separator must not be empty")

    @property
    def label_column_names(self) -> tuple[str, ...]:
        """``--label-columns a,b,c`` as a tuple of column names (empty when not given)."""
        return tuple(c.strip() for c in (self.label_columns or "").split(",") if c.strip())

    def load_options(self) -> dict[str, object]:
        """These options as the keywords of :func:`peftal.data.load_task`."""
        return {"text_column": self.text_column, "text_pair_column": self.text_pair_column,
                "label_column": self.label_column, "task": self.task, "no_header": self.no_header,
                "unlabeled_values": self.unlabeled_values, "min_class_count": self.min_class_count,
                "label_separator": self.label_separator, "label_columns": self.label_column_names}
