"""Unlabelled text for continued masked-LM pretraining (Gururangan et al. 2020, "Don't Stop
Pretraining"): a task's own training texts (TAPT) or any text corpus (DAPT).

TAPT reads only the training split of a dataset (for QA: its distinct contexts), never its test
split. DAPT on a built-in domain (``domain:NAME``) reads the texts of every built-in dataset of
NAME's domain except NAME's own evaluation split (:func:`domain_corpus`). Long texts are not
truncated here: :func:`encode_corpus` cuts them into ``max_length`` windows so that every token of
a long document (imdb, hyperpartisan) is seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from peftal.data.encoding import Encoded
from peftal.errors import UsageError


@dataclass
class Corpus:
    """Texts to pretrain on (``text_pairs`` for sentence-pair tasks) and where they came from."""

    texts: list[str]
    text_pairs: list[str] | None
    source: str
    kind: str  # "task" (TAPT) or "corpus" (DAPT)

    def __len__(self) -> int:
        return len(self.texts)


def load_corpus(name_or_path: str, *, text_column: str = "text", text_pair_column: str | None = None,
                max_texts: int | None = None, seed: int = 0, header: bool = True) -> Corpus:
    """Texts of a built-in dataset's training split, or of a local file or folder.

    Args:
        name_or_path: A built-in name, a ``.txt`` file (one document per non-empty line), a
            CSV/TSV/JSONL/Parquet file, or a folder holding such a ``train`` file.
        text_column: Text column of a data file.
        text_pair_column: Second text column of a data file, if any.
        max_texts: Keep a seeded random sample of this many texts (quick runs).
        seed: Seed of that sample.
        header: CSV/TSV files have a header row (else columns are named by 0-based positions).
    """
    from peftal.data import DATASETS, load_task
    from peftal.data.loading import _read_folder, read_records

    if name_or_path.startswith(DOMAIN_PREFIX):
        corpus = domain_corpus(name_or_path[len(DOMAIN_PREFIX):])
    elif name_or_path in DATASETS:
        spec = DATASETS.get(name_or_path)
        if spec.task == "qa":
            from peftal.data.qa import load_qa

            contexts = list(dict.fromkeys(load_qa(name_or_path, hub_id=spec.hub_id).train.contexts))
            corpus = Corpus(contexts, None, f"{name_or_path} (training contexts)", "task")
        else:
            train = load_task(name_or_path).train
            corpus = Corpus(train.texts, train.text_pairs, f"{name_or_path} (training split)", "task")
    else:
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise UsageError(f"unknown dataset {name_or_path!r}: not a built-in name "
                             f"({', '.join(DATASETS.names())}) and no such file or folder")
        if path.is_file() and path.suffix.lower() == ".txt":
            corpus = Corpus(_read_lines(path), None, str(path.resolve()), "corpus")
        else:
            records = (_read_folder(path, header=header)["train"] if path.is_dir()
                       else read_records(path, header=header))
            corpus = _from_records(records, text_column, text_pair_column, str(path.resolve()))
    if max_texts is not None and max_texts < len(corpus):
        keep = np.sort(np.random.default_rng(seed).choice(len(corpus), size=max_texts, replace=False))
        corpus = Corpus([corpus.texts[i] for i in keep],
                        None if corpus.text_pairs is None else [corpus.text_pairs[i] for i in keep],
                        corpus.source, corpus.kind)
    return corpus


DOMAIN_PREFIX = "domain:"


def domain_corpus(target: str) -> Corpus:
    """The domain-adaptive pretraining corpus of built-in dataset ``target``: the distinct texts of
    every built-in dataset of its domain (``DatasetSpec.domain``) — all splits of the others, the
    training and validation splits of ``target`` — less every text of ``target``'s evaluation split.

    This stands in for the large unlabelled domain corpora of Gururangan et al. (2020) (2-8 B tokens
    from S2ORC, RealNews, Amazon reviews), which are not available here: it is thousands of
    sentences, not billions of tokens, and labelled data of the domain's other tasks serves as its
    unlabelled text.
    """
    from peftal.data import DATASETS, load_task

    spec = DATASETS.get(target) if target in DATASETS else None
    if spec is None or spec.domain is None:
        raise UsageError(f"{DOMAIN_PREFIX}{target}: {target!r} is not a built-in dataset of a domain "
                         f"(the domains: {domains_text()})")
    members = [name for name in DATASETS.names() if DATASETS.get(name).domain == spec.domain]
    own = load_task(target)
    held_out = set(own.test.texts)
    texts: dict[str, None] = {}
    parts = []
    for name in members:
        task = own if name == target else load_task(name)
        splits = {"train": task.train}
        if task.validation is not None and task.eval_split != "validation":
            splits["validation"] = task.validation
        if name != target:
            splits[task.eval_split] = task.test
        for split in splits.values():
            texts.update(dict.fromkeys(text for text in split.texts if text not in held_out))
        parts.append(f"{name} ({', '.join(splits)})")
    source = (f"{spec.domain} domain: {'; '.join(parts)}, less {target}'s {own.eval_split} "
              f"texts")
    return Corpus(list(texts), None, source, "corpus")


def domains_text() -> str:
    """The built-in domains and their datasets, e.g. ``biomed: chemprot; cs: acl_arc, sciie; ...``."""
    from peftal.data import DATASETS

    domains: dict[str, list[str]] = {}
    for name in DATASETS.names():
        if DATASETS.get(name).domain:
            domains.setdefault(DATASETS.get(name).domain, []).append(name)
    return "; ".join(f"{domain}: {', '.join(names)}" for domain, names in sorted(domains.items()))


def _read_lines(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            texts = [line.strip() for line in handle if line.strip()]
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not valid UTF-8 text") from None
    if not texts:
        raise UsageError(f"{path}: the file is empty")
    return texts


def _from_records(records: list[dict], text_column: str, pair_column: str | None, source: str) -> Corpus:
    for column in filter(None, (text_column, pair_column)):
        if column not in records[0]:
            raise UsageError(f"{source}: column {column!r} not found; columns are: "
                             f"{', '.join(map(str, records[0]))}")
    keep = [r for r in records if isinstance(r.get(text_column), str) and r[text_column].strip()]
    if not keep:
        raise UsageError(f"{source}: no non-empty texts in column {text_column!r}")
    return Corpus([r[text_column] for r in keep],
                  [str(r.get(pair_column) or "") for r in keep] if pair_column else None, source, "corpus")


def _special_tokens_around(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids a tokenizer puts before and after a single text (e.g. [CLS] / [SEP]),
    read off how it encodes one word (transformers 5 tokenizers no longer expose the template)."""
    bare = list(tokenizer("a", add_special_tokens=False)["input_ids"])
    full = list(tokenizer("a")["input_ids"])
    for position in range(len(full) - len(bare) + 1):
        if full[position:position + len(bare)] == bare:
            return full[:position], full[position + len(bare):]
    raise UsageError("cannot tell where this tokenizer puts its special tokens")


def encode_corpus(tokenizer, corpus: Corpus, max_length: int) -> Encoded:
    """Token ids for masked-LM training: pairs truncated like task inputs; single texts cut into
    consecutive windows of ``max_length`` tokens (special tokens included), none dropped."""
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with_types = "token_type_ids" in tokenizer.model_input_names
    if corpus.text_pairs is not None:
        output = tokenizer(corpus.texts, corpus.text_pairs, truncation=True, max_length=max_length)
        ids = [np.asarray(row, dtype=np.int64) for row in output["input_ids"]]
        types = [np.asarray(row, dtype=np.int64) for row in output["token_type_ids"]] \
            if with_types and "token_type_ids" in output else None
        return Encoded(ids, types, pad_id)
    before, after = _special_tokens_around(tokenizer)
    room = max_length - len(before) - len(after)
    if room < 1:
        raise UsageError(f"--max-length {max_length} leaves no room for text tokens")
    ids: list[np.ndarray] = []
    for tokens in tokenizer(corpus.texts, add_special_tokens=False)["input_ids"]:
        for start in range(0, max(len(tokens), 1), room):
            window = before + list(tokens[start:start + room]) + after
            ids.append(np.asarray(window, dtype=np.int64))
    types = [np.zeros_like(row) for row in ids] if with_types else None
    return Encoded(ids, types, pad_id)
