"""load_tokenizer gives load_backbone's tokenizer without loading weights."""

from __future__ import annotations

from peftal.models.backbone import load_backbone, load_tokenizer


def test_tokenizer_alone_matches_the_backbones(tiny_model_dir):
    encoder, expected = load_backbone(str(tiny_model_dir))
    tokenizer = load_tokenizer(str(tiny_model_dir))
    assert tokenizer.model_input_names == expected.model_input_names
    assert tokenizer("How far is the moon?", "A pair.") == expected("How far is the moon?", "A pair.")
