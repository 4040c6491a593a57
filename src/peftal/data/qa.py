"""Extractive question answering data (SQuAD 1.1 format): loading, checks and the article split.

Only the official SQuAD 1.1 dev file is available locally (``$PEFTAL_DATA_DIR/squad/dev-v1.1.json``),
so the built-in ``squad`` splits it by article into train and test: whole articles go to one side,
so no test question shares a paragraph with a training question. The split is seeded with a fixed
seed (:data:`SPLIT_SEED`), independent of a run's ``--seed``, so every run is evaluated on the same
articles. Where ``train-v1.1.json`` sits next to the dev file, the official split is used instead.

Question ids are positions in the training split: one global index space, as for every task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from peftal.data.loading import _read_folder, local_folder, read_records
from peftal.errors import UsageError

SPLIT_SEED = 0
TEST_ARTICLE_SHARE = 0.2
METRICS = ("exact_match", "f1")


@dataclass
class QASplit:
    """Questions with their contexts and gold answers, one entry per question.

    Attributes:
        ids: Question ids from the file.
        questions: Question texts.
        contexts: The paragraph each question is asked about.
        answers: All gold answer texts of each question (SQuAD dev has up to 6).
        answer_starts: Character offset of each gold answer in its context.
        titles: The article each question belongs to.
    """

    ids: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    answers: list[list[str]] = field(default_factory=list)
    answer_starts: list[list[int]] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: np.ndarray) -> QASplit:
        """The questions at ``indices`` (positions in this split), in that order."""
        pick = [int(i) for i in indices]
        return QASplit(*([column[i] for i in pick] for column in (
            self.ids, self.questions, self.contexts, self.answers, self.answer_starts, self.titles)))


@dataclass
class QATask:
    """An extractive QA dataset ready for training.

    Attributes:
        name: Built-in name or the path it was loaded from.
        train: Training questions (the global index space).
        test: Evaluation questions.
        eval_split: Which split ``test`` is (``test`` or ``validation``).
        source: Where the data came from.
        split_note: How train and test were made, for ``summary.json`` and the docs.
    """

    name: str
    train: QASplit
    test: QASplit
    eval_split: str = "test"
    source: str = ""
    split_note: str = ""
    task: str = "qa"
    metrics: tuple[str, ...] = METRICS


def load_qa(name_or_path: str, *, hub_id: str | None = None) -> QATask:
    """Load the built-in ``squad`` (local copy or hub) or a user's SQuAD-format file or folder.

    A file is SQuAD JSON (``{"data": [{"title", "paragraphs": [{"context", "qas"}]}]}``) or records
    with ``question``, ``context`` and ``answers`` (``{"text": [...], "answer_start": [...]}`` as
    on the hub, or a list of ``{"text", "answer_start"}``). A single file is split by article.
    """
    path = Path(name_or_path).expanduser()
    folder = local_folder(name_or_path) if hub_id else None
    if hub_id and folder is None:
        return _from_hub(name_or_path, hub_id)
    if folder is None:
        if not path.exists():
            raise UsageError(f"no such QA file or folder: {name_or_path!r}")
        folder = path if path.is_dir() else None
    if folder is None:
        return split_by_article(name_or_path, _read_any(path), source=str(path.resolve()))
    official = {name: folder / f"{name}-v1.1.json" for name in ("train", "dev")}
    if official["train"].exists() and official["dev"].exists():
        return QATask(name_or_path, _read_any(official["train"]), _read_any(official["dev"]),
                      eval_split="validation", source=str(folder),
                      split_note="official SQuAD 1.1 train / dev files")
    if official["dev"].exists():
        return split_by_article(name_or_path, _read_any(official["dev"]), source=str(official["dev"]))
    splits = _read_folder(folder)
    if "train" not in splits:
        raise UsageError(f"{folder}: no training split found")
    eval_name = "test" if "test" in splits else "validation" if "validation" in splits else None
    if eval_name is None:
        raise UsageError(f"{folder}: no test or validation split found")
    return QATask(name_or_path, _from_records(splits["train"], f"{folder} train"),
                  _from_records(splits[eval_name], f"{folder} {eval_name}"), eval_split=eval_name,
                  source=str(folder), split_note=f"train / {eval_name} files of {folder}")


def split_by_article(name: str, split: QASplit, *, source: str, seed: int = SPLIT_SEED,
                     test_share: float = TEST_ARTICLE_SHARE) -> QATask:
    """Split questions into train and test by whole article, seeded.

    Args:
        name: Dataset name for messages.
        split: All questions.
        source: Where they came from.
        seed: Seed of the article permutation (fixed by default so every run shares one test set).
        test_share: Share of articles held out for testing (at least one).
    """
    titles = list(dict.fromkeys(split.titles))  # article order of the file
    if len(titles) < 2:
        raise UsageError(f"{name}: needs at least 2 articles (titles) to split into train and test, "
                         f"has {len(titles)}")
    order = np.random.default_rng(seed).permutation(len(titles))
    num_test = max(1, int(round(test_share * len(titles))))
    test_titles = {titles[i] for i in order[:num_test]}
    is_test = np.array([title in test_titles for title in split.titles])
    note = (f"{Path(source).name} split by article (seed {seed}): {len(titles) - num_test} articles / "
            f"{int((~is_test).sum())} questions for training, {num_test} articles / "
            f"{int(is_test.sum())} questions for testing")
    return QATask(name, split.subset(np.flatnonzero(~is_test)), split.subset(np.flatnonzero(is_test)),
                  eval_split="test", source=source, split_note=note)


def _read_any(path: Path) -> QASplit:
    if path.name.lower().endswith(".json"):
        try:
            with open(path, encoding="utf-8") as handle:
                content = json.load(handle)
        except UnicodeDecodeError:
            raise UsageError(f"{path}: not valid UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
        if isinstance(content, dict) and "data" in content:
            return _from_squad_json(content["data"], str(path))
        if not isinstance(content, list):
            raise UsageError(f"{path}: expected SQuAD JSON ({{\"data\": [...]}}) or a list of records")
        return _from_records(content, str(path))
    return _from_records(read_records(path), str(path))


def _from_squad_json(articles: list[dict[str, Any]], where: str) -> QASplit:
    records = []
    for number, article in enumerate(articles):
        title = str(article.get("title", f"article {number}"))
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                records.append({"id": qa.get("id"), "title": title, "question": qa.get("question"),
                                "context": paragraph.get("context"), "answers": qa.get("answers")})
    return _from_records(records, where)


_QA_COLUMNS = ("question", "context", "answers")


def _check_qa_columns(first: dict[str, Any], where: str) -> None:
    """A file without the QA columns is most likely a classification file given ``--task qa``."""
    missing = [column for column in _QA_COLUMNS if column not in first]
    if missing:
        raise UsageError(f"{where}: --task qa needs the columns {', '.join(_QA_COLUMNS)} (SQuAD style); "
                         f"missing {', '.join(missing)}; columns are: {', '.join(map(str, first))}. "
                         "For labelled texts leave out --task qa")


def _from_records(records: list[dict[str, Any]], where: str) -> QASplit:
    """Check every question and build a :class:`QASplit`; the first bad record raises UsageError."""
    if not records:
        raise UsageError(f"{where}: holds no questions")
    _check_qa_columns(records[0], where)
    split, seen = QASplit(), set()
    for row, record in enumerate(records, 1):
        qid = str(record.get("id") if record.get("id") is not None else f"{row}")
        if qid in seen:
            raise UsageError(f"{where}: question id {qid!r} occurs twice")
        seen.add(qid)
        question, context = record.get("question"), record.get("context")
        for column, value in (("question", question), ("context", context)):
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{where}: question {qid!r} has no {column} (record {row})")
        texts, given = _answers(record.get("answers"), qid, where)
        starts = []
        for text, start in zip(texts, given, strict=True):
            found = context.find(text) if start is None else start
            if found < 0 or context[found:found + len(text)] != text:
                at = "" if start is None else f" at character {start}"
                raise UsageError(f"{where}: answer {text!r} of question {qid!r} is not found in its "
                                 f"context{at}")
            starts.append(found)
        split.ids.append(qid)
        split.questions.append(question)
        split.contexts.append(context)
        split.answers.append(texts)
        split.answer_starts.append(starts)
        split.titles.append(str(record.get("title") or context))
    return split


def _answers(answers: Any, qid: str, where: str) -> tuple[list[str], list[int | None]]:
    """Gold answers as ``(texts, starts)`` from the hub's dict-of-lists or SQuAD's list of dicts."""
    if isinstance(answers, dict):
        texts = list(answers.get("text") or [])
        starts = list(answers.get("answer_start") or [None] * len(texts))
    elif isinstance(answers, list):
        texts = [a.get("text") if isinstance(a, dict) else a for a in answers]
        starts = [a.get("answer_start") if isinstance(a, dict) else None for a in answers]
    else:
        texts, starts = [], []
    if not texts:
        raise UsageError(f"{where}: question {qid!r} has no answer (unanswerable SQuAD 2.0 questions "
                         "are not supported)")
    if len(starts) != len(texts) or not all(isinstance(t, str) and t for t in texts):
        raise UsageError(f"{where}: question {qid!r} has malformed answers {answers!r}")
    return texts, [None if s is None else int(s) for s in starts]


def _from_hub(name: str, hub_id: str) -> QATask:
    from peftal.data.hub import check_hub
    from peftal.data.loading import DATA_DIR_ENV

    check_hub(name, f"{name}/dev-v1.1.json")
    try:
        import datasets

        loaded = datasets.load_dataset(hub_id)
    except Exception as error:
        raise UsageError(f"dataset {name!r}: no local copy (set {DATA_DIR_ENV} to a folder holding "
                         f"{name}/dev-v1.1.json) and loading {hub_id!r} from the hub failed: "
                         f"{type(error).__name__}") from None
    train = _from_records([dict(row) for row in loaded["train"]], f"{hub_id} train")
    test = _from_records([dict(row) for row in loaded["validation"]], f"{hub_id} validation")
    return QATask(name, train, test, eval_split="validation", source=hub_id,
                  split_note=f"{hub_id}: official train / validation splits")
