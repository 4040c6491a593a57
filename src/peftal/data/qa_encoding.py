"""SQuAD preprocessing: question + context windows with a stride, and answer token positions.

The standard recipe of BERT (Devlin et al. 2019) as the Hugging Face ``run_qa`` example implements
it with a fast tokenizer: each (question, context) pair becomes one or more features of at most
``max_length`` tokens; a long context is cut into windows that overlap by ``doc_stride`` tokens
(``return_overflowing_tokens``), and ``offset_mapping`` maps every context token back to its
characters so that predicted spans become answer strings. A training feature whose window does not
hold the whole answer points at the [CLS] token (position 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peftal.data.encoding import Encoded
from peftal.data.qa import QASplit
from peftal.errors import UsageError

MIN_MAX_LENGTH = 64
NOT_CONTEXT = -1  # offset of tokens that are not context tokens (question, special, padding)


def window_sizes(max_length: int) -> tuple[int, int]:
    """``(max_query_length, doc_stride)`` for ``max_length``: BERT's 64 and 128 at 384 tokens,
    scaled down for shorter windows so that a window always has room for new context tokens."""
    if max_length < MIN_MAX_LENGTH:
        raise UsageError(f"question answering needs --max-length >= {MIN_MAX_LENGTH}, got {max_length}")
    return min(64, max_length // 4), min(128, max_length // 3)


@dataclass
class QAFeatures:
    """Tokenised windows of some questions.

    Attributes:
        encoded: Token ids, one row per feature (window).
        example_index: ``(features,)`` position, among the encoded questions, of each feature's question.
        offsets: Per feature ``(tokens, 2)`` character span of each token in the context, or
            ``NOT_CONTEXT`` for question, special and padding tokens.
        targets: ``(features, 2)`` start and end token of the first gold answer (0 = [CLS] when the
            window does not hold it); ``None`` for evaluation features.
    """

    encoded: Encoded
    example_index: np.ndarray
    offsets: list[np.ndarray]
    targets: np.ndarray | None

    def __len__(self) -> int:
        return len(self.encoded)


def encode_qa(tokenizer, split: QASplit, max_length: int, *, with_targets: bool) -> QAFeatures:
    """Tokenise every question of ``split`` with its context into features of ``max_length`` tokens."""
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError("question answering needs a fast (Rust) tokenizer for offset mappings; "
                         f"{type(tokenizer).__name__} is not one")
    max_query, stride = window_sizes(max_length)
    questions = [_cut(tokenizer, q.lstrip(), max_query) for q in split.questions]
    output = tokenizer(
        questions, split.contexts, truncation="only_second", max_length=max_length, stride=stride,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding=False,
    )
    with_types = "token_type_ids" in tokenizer.model_input_names and "token_type_ids" in output
    example_index = np.asarray(output["overflow_to_sample_mapping"], dtype=np.int64)
    offsets, targets = [], []
    for f, mapping in enumerate(output["offset_mapping"]):
        sequence_ids = output.sequence_ids(f)
        spans = np.array([span if sid == 1 else (NOT_CONTEXT, NOT_CONTEXT)
                          for span, sid in zip(mapping, sequence_ids, strict=True)],
                         dtype=np.int64).reshape(-1, 2)
        offsets.append(spans)
        if with_targets:
            e = example_index[f]
            start = split.answer_starts[e][0]
            targets.append(answer_tokens(spans, start, start + len(split.answers[e][0])))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoded = Encoded(
        input_ids=[np.asarray(ids, dtype=np.int64) for ids in output["input_ids"]],
        token_type_ids=[np.asarray(t, dtype=np.int64) for t in output["token_type_ids"]]
        if with_types else None,
        pad_id=pad_id,
    )
    return QAFeatures(encoded, example_index, offsets,
                      np.asarray(targets, dtype=np.int64).reshape(-1, 2) if with_targets else None)


def answer_tokens(offsets: np.ndarray, start_char: int, end_char: int) -> tuple[int, int]:
    """First and last token of the answer ``[start_char, end_char)`` in one window, or ``(0, 0)``.

    Args:
        offsets: ``(tokens, 2)`` character spans, ``NOT_CONTEXT`` outside the context.
        start_char: First character of the answer in the context.
        end_char: One past its last character.
    """
    context = np.flatnonzero(offsets[:, 0] != NOT_CONTEXT)
    if len(context) == 0:
        return 0, 0
    first, last = context[0], context[-1]
    if offsets[first, 0] > start_char or offsets[last, 1] < end_char:
        return 0, 0  # the answer is not (wholly) inside this window
    # The tokens whose spans contain the answer's first and last characters.
    start = first + int(np.searchsorted(offsets[first:last + 1, 0], start_char, side="right")) - 1
    end = first + int(np.searchsorted(offsets[first:last + 1, 1], end_char, side="left"))
    return int(start), int(min(end, last))


def _cut(tokenizer, question: str, max_tokens: int) -> str:
    """``question`` cut to its first ``max_tokens`` tokens (BERT's max_query_length), by characters."""
    spans = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return question if len(spans) <= max_tokens else question[: spans[max_tokens - 1][1]]
