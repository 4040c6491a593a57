"""Shared fixtures: tiny random encoders (no download), the local data folder, CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

if "PEFTAL_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["PEFTAL_DATA_DIR"] = str(SHARED_DATA)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # one worker per core: each, and each CLI it starts,
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # computes on one thread
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

TINY_ARCHITECTURES = ("bert", "roberta", "distilbert", "electra", "modernbert")


def tiny_encoder(arch: str = "bert", vocab_size: int = 120, seed: int = 0) -> torch.nn.Module:
    """A randomly initialised 2-layer encoder of ``arch`` with hidden size 32 (built, not downloaded)."""
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, max_position_embeddings=64)
    if arch == "distilbert":
        config = AutoConfig.for_model("distilbert", dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                      **common)
    elif arch == "modernbert":  # pre-LN, fused Wqkv, rotary positions, alternating local attention
        config = AutoConfig.for_model("modernbert", hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64, pad_token_id=0,
                                      bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2,
                                      global_attn_every_n_layers=2, local_attention=8, **common)
    else:
        extra = {"embedding_size": 32} if arch == "electra" else {}
        config = AutoConfig.for_model(arch, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64,
                                      type_vocab_size=2, pad_token_id=0, **common, **extra)
    model = AutoModel.from_config(config)
    model.eval()
    return model


def random_encoded(num_examples: int, vocab_size: int = 120, seed: int = 0, max_len: int = 12,
                   with_types: bool = True):
    """An :class:`~peftal.data.encoding.Encoded` of random token ids of random lengths."""
    from peftal.data.encoding import Encoded

    rng = np.random.default_rng(seed)
    ids = [np.concatenate([[1], rng.integers(5, vocab_size, size=rng.integers(2, max_len)), [2]])
           for _ in range(num_examples)]
    types = [np.zeros_like(row) for row in ids] if with_types else None
    return Encoded(input_ids=ids, token_type_ids=types, pad_id=0)


@pytest.fixture
def data_dir() -> Path:
    """The local folder of real datasets (skips the test when it is absent)."""
    value = os.environ.get("PEFTAL_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("PEFTAL_DATA_DIR (../shared/data) is not available")
    return Path(value)


def trec_slice(folder: Path, per_class: int | None, test_rows: int) -> Path:
    """Write into ``folder`` a slice of real TREC: the first ``per_class`` training questions of each
    class (``None``: all 5,452, in their order, so ids are TREC's) and the first ``test_rows`` test
    questions (JSON lines, as in PEFTAL_DATA_DIR); skips the test when the data is absent. For CLI
    tests of plumbing, where the 500 test questions evaluated every round add only time."""
    value = os.environ.get("PEFTAL_DATA_DIR")
    source = Path(value or "") / "trec"
    if not value or not source.is_dir():
        pytest.skip("PEFTAL_DATA_DIR (../shared/data) is not available")
    seen: dict[str, int] = {}
    train = []
    for line in (source / "train.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if per_class is None or seen.setdefault(record["label"], 0) < per_class:
            seen[record["label"]] = seen.get(record["label"], 0) + 1
            train.append(line + "\n")
    (folder / "train.jsonl").write_text("".join(train), encoding="utf-8")
    test = (source / "test.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:test_rows]
    (folder / "test.jsonl").write_text("".join(test), encoding="utf-8")
    return folder


def run_cli(*args: str, cwd: Path | None = None, check: bool = True,
            timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run the real ``peftal`` command in a subprocess; returns the completed process."""
    result = subprocess.run([sys.executable, "-m", "peftal", *args], capture_output=True, text=True,
                            cwd=cwd, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if check and result.returncode != 0:
        raise AssertionError(f"peftal {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random BERT saved with the packaged MiniLM's tokenizer: a loadable `--model` path."""
    from transformers import AutoTokenizer

    from peftal.models.backbone import resolve_model

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None))
    tiny_encoder("bert", vocab_size=tokenizer.vocab_size).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def toy_csv(tmp_path) -> Path:
    """A 3-class CSV whose class is given away by a keyword, so even a tiny model can learn it."""
    rng = np.random.default_rng(0)
    words = ["apple", "river", "engine"]
    filler = "the a of and to in is it that was for on are with as".split()
    rows = ["text,label"]
    for i in range(150):
        label = i % 3
        body = " ".join(rng.choice(filler, size=6))
        rows.append(f"{words[label]} {body},{['fruit', 'nature', 'machine'][label]}")
    path = tmp_path / "toy.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def one_ray_at_a_time(tmp_path_factory):
    """Hold a lock shared by the test workers while a test starts a local Ray: two Ray instances
    started at once on one machine can pick the same ports (ray-project/ray#53906)."""
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # the same folder for every xdist worker
    with FileLock(str(shared / "ray.lock")):
        yield
