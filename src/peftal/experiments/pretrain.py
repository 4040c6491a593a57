"""Continued masked-LM pretraining (``peftal pretrain``): TAPT on a task's texts, DAPT on a corpus.

Gururangan et al. (2020) continue pretraining on the task's unlabelled texts (TAPT) or on a domain
corpus (DAPT); Jukić & Šnajder (2023) do TAPT with an adapter only ("adapter TAPT"). The output
folder feeds later runs:

- ``--method full``: the whole model with its MLM head in Hugging Face format; use it as
  ``--model DIR``.
- any PEFT method: ``adapter.safetensors`` with the method's encoder weights; use it as
  ``--init-adapter DIR`` with the same method and model.

``summary.json`` (written last), ``results.sqlite`` (kind ``pretrain``, per-epoch losses) and
``peftal_pretrain.json`` (what the folder holds) sit beside them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from peftal.data.corpus import Corpus, encode_corpus, load_corpus
from peftal.data.options import TextOptions
from peftal.defaults import DEFAULT_METHOD
from peftal.errors import UsageError
from peftal.experiments.run_folder import RUN_ID, check_out_dir, complete_run, recorded_run
from peftal.models.backbone import display_name
from peftal.models.limits import check_max_length
from peftal.models.mlm import apply_method, load_masked_lm
from peftal.models.options import TrainingOptions
from peftal.peft import MethodSpec, count_parameters, parse_method
from peftal.peft.pretrained_adapter import save_pretrained_adapter, write_pretrain_meta
from peftal.peft.recipes import RecipeOptions
from peftal.peft.recipes import train_config as make_train_config
from peftal.records import RoundRecord, epochs_of
from peftal.seeding import stream_rng, stream_seed, torch_seeded
from peftal.training import train
from peftal.training.mlm import MLM_PROBABILITY, masked_lm_loss
from peftal.validation import check_rate


@dataclass(frozen=True)
class PretrainConfig(TextOptions, TrainingOptions, RecipeOptions):
    """Everything that defines one ``peftal pretrain`` run: its options (generated from this
    class; each field below, and those of the option blocks it inherits (the head is the MLM head
    here), is ``--field-name``, with this text as its help). The texts' columns and the training
    options are :class:`~peftal.data.options.TextOptions` and
    :class:`~peftal.models.options.TrainingOptions`; an epoch is a pass over the texts, a text
    longer than ``max_length`` is cut into several sequences, and ``pooling`` does not apply.

    Attributes:
        dataset: Built-in name (TAPT on its training texts), ``domain:NAME`` (DAPT on the texts of
            built-in NAME's domain less NAME's evaluation split, e.g. ``domain:acl_arc``), a .txt
            file (one document per line), or a CSV/TSV/JSONL/Parquet file or folder (DAPT).
        method: ``full`` or a PEFT method preset; only its parameters and the MLM head train.
        mlm_probability: Share of tokens masked (BERT's 15%).
        max_texts: Pretrain on a seeded sample of this many texts.
        time_budget: Stop after this many seconds (checked every step).
    """

    dataset: str = "trec"
    method: str = DEFAULT_METHOD
    epochs: int = 3
    mlm_probability: float = MLM_PROBABILITY
    max_texts: int | None = None
    time_budget: float | None = None

    def __post_init__(self) -> None:
        if self.max_texts is not None and self.max_texts < 1:
            raise UsageError(f"--max-texts must be >= 1, got {self.max_texts}")
        super().__post_init__()
        if self.pooling != TrainingOptions.pooling:
            raise UsageError("--pooling does not apply to pretrain (the masked-LM head reads every token)")
        check_rate(self.time_budget, "--time-budget")
        if not 0 < self.mlm_probability < 1:
            raise UsageError(f"--mlm-probability must lie in (0, 1), got {self.mlm_probability}")


def prepare(config: PretrainConfig) -> tuple[MethodSpec, Corpus]:
    """Check the method and read the texts before any compute."""
    method = parse_method(config.method)
    corpus = load_corpus(config.dataset, text_column=config.text_column,
                         text_pair_column=config.text_pair_column, max_texts=config.max_texts,
                         seed=config.seed, header=not config.no_header)
    check_max_length(config.model, config.max_length, method.config)
    return method, corpus


def execute_pretrain(config: PretrainConfig, out: Path, *, overwrite: bool = False,
                     progress: bool = True) -> dict[str, Any]:
    """Run masked-LM pretraining of ``config`` and write its outputs into ``out``; returns the summary."""
    from tqdm.auto import tqdm

    check_out_dir(out, overwrite)
    method, corpus = prepare(config)
    model, tokenizer, new_head = load_masked_lm(config.model, config.seed)
    apply_method(model, method, seed=config.seed)
    encoded = encode_corpus(tokenizer, corpus, config.max_length)
    train_config = make_train_config(method, "mlm", config, epochs=config.epochs,
                                     batch_size=config.batch_size, time_budget=config.time_budget)
    with recorded_run(out, "pretrain", dataclasses.asdict(config), config.seed) as store:
        steps = -(-len(encoded) // config.batch_size) * train_config.epochs_for(len(encoded))
        with tqdm(total=steps, disable=None if progress else True, unit="step", leave=False,
                  desc=f"MLM {config.dataset} {method.preset}") as bar:
            with torch_seeded(stream_seed(config.seed, "dropout")):  # apart from the head's init
                result = train(model, encoded, np.arange(len(encoded)), None, train_config, task="mlm",
                               rng=stream_rng(config.seed, "batches"), on_step=bar.update,
                               batch_loss=masked_lm_loss(tokenizer,
                                                         mlm_probability=config.mlm_probability,
                                                         seed=config.seed))
        result.judge_convergence("mlm")
        trainable, total = count_parameters(model)
        final_loss = result.epochs[-1]["loss"] if result.epochs else None
        store.add_round(RUN_ID, RoundRecord(
            round=0, num_labeled=0, metrics={"mlm_loss": final_loss}, train_seconds=result.seconds,
            epochs=epochs_of(result.epochs), num_train_items=len(encoded), steps=result.steps,
            stopped_by_budget=result.stopped_by_budget, converged=result.converged,
            convergence=result.convergence))
        use = _save(config, method, model, tokenizer, out)
        summary = {
            "dataset": config.dataset,
            "corpus": corpus.source,
            "kind": "TAPT" if corpus.kind == "task" else "DAPT",
            "model": display_name(config.model),
            "method": method.preset,
            "seed": config.seed,
            "objective": "mlm",
            "mlm_probability": config.mlm_probability,
            "num_texts": len(corpus),
            "num_sequences": len(encoded),
            "train_seconds": result.seconds,
            "epochs_completed": len(result.epochs),
            "steps": result.steps,
            "stopped_by_budget": result.stopped_by_budget,
            "converged": result.converged,
            "convergence": result.convergence,
            "losses": [epoch["loss"] for epoch in result.epochs],
            "trainable_params": trainable,
            "total_params": total,
            "mlm_head_from_scratch": new_head,
            "use_with": use,
            "config": dataclasses.asdict(config),
        }
        complete_run(store, out, summary)
    return summary


def _save(config: PretrainConfig, method: Any, model: Any, tokenizer: Any, out: Path) -> str:
    """Write the pretrained weights into ``out``; returns the options that use them."""
    meta = {"objective": "mlm", "method": method.preset, "model": _model_ref(config.model),
            "mlm_probability": config.mlm_probability, "max_length": config.max_length}
    if method.name == "full":
        model.mlm.save_pretrained(out)
        tokenizer.save_pretrained(out)
        write_pretrain_meta(out, {**meta, "kind": "full"})
        return f"--model {out}"
    save_pretrained_adapter(model, out, meta)
    return f"--method {method.preset} --init-adapter {out}"


def _model_ref(model: str | None) -> str | None:
    """How the pretrained output names its base model: local paths absolute, the default as ``None``."""
    if model is not None and Path(model).expanduser().exists():
        return str(Path(model).expanduser().resolve())
    return None if display_name(model) == display_name(None) else model
