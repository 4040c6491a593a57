"""Bad method presets and backbones a method cannot apply to: one clear line, exit status 2,
before any compute."""

from __future__ import annotations

import dataclasses

import pytest

from peftal.cli import main
from peftal.errors import UsageError
from peftal.peft import METHODS, build_model, parse_method


def _run_cli(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().err.strip()


@pytest.mark.parametrize("name", METHODS.names())
def test_unknown_preset_key_names_it_and_the_valid_keys(capsys, tmp_path, name):
    status, err = _run_cli(capsys, "run", "--method", f"{name}[no_such_key=8]", "--out", str(tmp_path))
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("peftal: error:")
    assert "'no_such_key'" in err
    for field in dataclasses.fields(METHODS.get(name).Config):
        assert field.name in err
    assert not any(tmp_path.iterdir())


def test_lora_rank_is_called_r(capsys, tmp_path):
    status, err = _run_cli(capsys, "run", "--method", "lora[rank=8]", "--out", str(tmp_path))
    assert status == 2
    assert err == "peftal: error: lora: unknown key 'rank'; valid keys: r, alpha, dropout, attn_matrices"


@pytest.mark.parametrize("preset", ["houlsby[reduction_factor=0]", "pfeiffer[non_linearity=sigmoid]",
                                    "prompt_tuning[prompt_length=abc]", "ia3[attn_matrices=[x]]",
                                    "prefix_tuning[dropout=1.5]", "unipelt_prompt[prompt_length=0]"])
def test_bad_preset_value_names_the_key(capsys, tmp_path, preset):
    status, err = _run_cli(capsys, "run", "--method", preset, "--out", str(tmp_path))
    key = preset.split("[")[1].split("=")[0]
    assert status == 2 and len(err.splitlines()) == 1
    assert key in err


def test_presets_set_the_config():
    spec = parse_method("houlsby[reduction_factor=8,non_linearity=relu]")
    assert (spec.config.reduction_factor, spec.config.non_linearity) == (8, "relu")
    assert spec.preset == "houlsby[reduction_factor=8,non_linearity=relu]"
    assert parse_method("prompt_tuning[prompt_length=20]").config.prompt_length == 20
    assert parse_method("unipelt").preset == "unipelt"
    spec = parse_method("ia3[intermediate=false]")
    assert spec.config.intermediate is False and spec.preset == "ia3[intermediate=false]"
    assert parse_method(spec.preset) == spec  # presets round-trip (checkpoints store them)


def _tiny_mpnet():
    """An architecture whose layer layout peftal does not know (peft/arch.py)."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model("mpnet", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, vocab_size=120, max_position_embeddings=64)
    return AutoModel.from_config(config)


# Methods that need no layer map: they train existing parameters or only touch the input embeddings.
ANY_ENCODER = {"full", "bitfit", "prompt_tuning", "head", "setfit"}


@pytest.mark.parametrize("name", METHODS.names())
def test_unsupported_architecture(name):
    encoder = _tiny_mpnet()
    if name in ANY_ENCODER:
        build_model(encoder, parse_method(name), 2)
        return
    with pytest.raises(UsageError) as error:
        build_model(encoder, parse_method(name), 2)
    message = str(error.value)
    assert len(message.splitlines()) == 1 and f"method {name!r}" in message
    assert "'mpnet' architecture" in message
    assert message.endswith("methods that do: " + ", ".join(m for m in METHODS.names() if m in ANY_ENCODER))
