"""Extractive QA: SQuAD file checks and article split, windows with offsets, span post-processing."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from peftal.data.qa import QASplit, load_qa, split_by_article
from peftal.data.qa_encoding import NOT_CONTEXT, answer_tokens, encode_qa
from peftal.errors import UsageError
from peftal.training.qa import answers_from_logits, best_span

N = NOT_CONTEXT


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from peftal.models.backbone import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(None))


@functools.cache
def _load_squad():
    return load_qa("squad", hub_id="rajpurkar/squad")


@pytest.fixture
def squad(data_dir):
    """The built-in squad, read once per test session."""
    return _load_squad()


def _squad_file(tmp_path, answer_start=None, text="Denver Broncos"):
    context = "The American Football Conference champion Denver Broncos defeated the Carolina Panthers."
    answer = {"text": text, "answer_start": context.find(text) if answer_start is None else answer_start}
    articles = [{"title": title, "paragraphs": [{"context": context, "qas": [
        {"id": f"{title}-{k}", "question": "Which team won?", "answers": [answer]} for k in range(3)]}]}
        for title in ("A", "B", "C", "D", "E")]
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "1.1", "data": articles}))
    return path


def test_answer_tokens_hand_case():
    # [CLS] q q [SEP] "Denver"(0,6) "Bron"(7,11) "##cos"(11,14) "won"(15,18) [SEP]
    offsets = np.array([[N, N], [N, N], [N, N], [N, N], [0, 6], [7, 11], [11, 14], [15, 18], [N, N]])
    assert answer_tokens(offsets, 7, 14) == (5, 6)     # "Broncos"
    assert answer_tokens(offsets, 0, 14) == (4, 6)     # "Denver Broncos"
    assert answer_tokens(offsets, 15, 18) == (7, 7)    # "won"
    assert answer_tokens(offsets[:6], 7, 14) == (0, 0)  # the window ends inside the answer -> [CLS]


def test_best_span_skips_invalid_pairs():
    offsets = np.array([[N, N], [N, N], [0, 6], [7, 14], [15, 18], [N, N]])
    start = np.array([9.0, 0.0, 1.0, 3.0, 0.5, 8.0])  # the best start logits are not context
    end = np.array([9.0, 0.0, 2.0, 0.1, 1.0, 8.0])
    # valid pairs: (2,2)=3.0 (2,3)=1.1 (2,4)=2.0 (3,3)=3.1 (3,4)=4.0 (4,4)=1.5 -> (3, 4)
    assert best_span(offsets, start, end) == (4.0, 7, 18)
    assert best_span(offsets, start, end, max_answer_length=1) == (3.1, 7, 14)
    assert best_span(offsets, -start, -end, n_best=2) is None  # top-2 are non-context or reversed


def test_answers_from_logits_takes_the_best_window(tokenizer):
    context = " ".join(f"word{k}" for k in range(120)) + " The answer is Zanzibar indeed."
    start_char = context.find("Zanzibar")
    split = QASplit(["q"], ["Where?"], [context], [["Zanzibar"]], [[start_char]], ["t"])
    features = encode_qa(tokenizer, split, 64, with_targets=True)
    assert len(features) > 2  # the long context is cut into overlapping windows
    assert set(features.example_index.tolist()) == {0}
    hits = [f for f in range(len(features)) if features.targets[f, 0] > 0]
    assert hits
    # Logits that point at the gold tokens of one window and nowhere else recover the answer text.
    starts = [np.zeros(len(o)) for o in features.offsets]
    ends = [np.zeros(len(o)) for o in features.offsets]
    f = hits[-1]
    starts[f][features.targets[f, 0]] = ends[f][features.targets[f, 1]] = 10.0
    assert answers_from_logits(features, split.contexts, starts, ends) == ["Zanzibar"]


def test_windows_cover_the_context_and_targets_point_at_the_answer(tokenizer, squad):
    split = squad.train.subset(np.arange(40))
    features = encode_qa(tokenizer, split, 96, with_targets=True)
    assert all(len(ids) <= 96 for ids in features.encoded.input_ids)
    for f in range(len(features)):
        s, e = features.targets[f]
        if s == 0:
            continue
        example = features.example_index[f]
        text = split.contexts[example][features.offsets[f][s, 0]:features.offsets[f][e, 1]]
        # The gold tokens cover the answer exactly, up to the sub-words at its edges ("gold" in "golden").
        assert split.answers[example][0] in text
        assert len(text) - len(split.answers[example][0]) <= 10


def test_builtin_squad_is_split_by_article(squad):
    task = squad
    assert len(task.train) + len(task.test) == 10570
    assert not set(task.train.titles) & set(task.test.titles)
    assert len(set(task.test.titles)) == 10 and len(set(task.train.titles)) == 38
    assert "split by article" in task.split_note and task.eval_split == "test"
    again = load_qa("squad", hub_id="rajpurkar/squad")
    assert again.test.ids == task.test.ids  # the split does not depend on the run


def test_split_by_article_is_seeded():
    titles = [t for t in "ABCDE" for _ in range(3)]
    n = len(titles)
    whole = QASplit([str(k) for k in range(n)], ["q"] * n, ["c"] * n, [["c"]] * n, [[0]] * n, titles)
    first = split_by_article("x", whole, source="x", seed=1)
    assert split_by_article("x", whole, source="x", seed=1).test.ids == first.test.ids
    assert len(set(first.test.titles)) == 1 and len(first.test) == 3  # 20% of 5 articles
    assert not set(first.test.titles) & set(first.train.titles)
    others = {tuple(split_by_article("x", whole, source="x", seed=s).test.ids) for s in range(10)}
    assert len(others) > 1


def test_a_single_file_is_split_by_article(tmp_path):
    task = load_qa(str(_squad_file(tmp_path)))
    assert len(task.train) == 12 and len(task.test) == 3
    assert task.train.answers[0] == ["Denver Broncos"]


def test_answer_not_in_context_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="answer 'Denver Broncos' of question 'A-0' is not found"):
        load_qa(str(_squad_file(tmp_path, answer_start=3)))
    with pytest.raises(UsageError, match="'Green Bay' of question 'A-0' is not found in its context"):
        (tmp_path / "flat.jsonl").write_text(json.dumps(
            {"id": "A-0", "question": "Who?", "context": "Denver won.", "answers": {"text": ["Green Bay"]}}))
        load_qa(str(tmp_path / "flat.jsonl"))
