"""Registry and preset/config parsing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from peftal.config import build_config, format_preset, parse_preset
from peftal.errors import UsageError
from peftal.registry import Registry


def test_registry_lists_valid_names_on_unknown():
    registry: Registry[int] = Registry("widget")
    registry.register("alpha")(1)
    registry.register("beta")(2)
    assert registry.get("beta") == 2
    assert registry.names() == ["alpha", "beta"]
    with pytest.raises(UsageError, match=r"unknown widget 'gamma'; valid widget names: alpha, beta"):
        registry.get("gamma")


def test_registry_rejects_duplicates_and_bad_names():
    registry: Registry[int] = Registry("widget")
    registry.register("alpha")(1)
    with pytest.raises(ValueError, match="twice"):
        registry.register("alpha")(2)
    with pytest.raises(ValueError, match="lower_snake"):
        registry.register("Alpha")(3)


@pytest.mark.parametrize(
    ("text", "name", "overrides"),
    [
        ("lora", "lora", {}),
        ("lora[r=16,alpha=32]", "lora", {"r": 16, "alpha": 32}),
        (" LoRA [ r = 4 ] ", "lora", {"r": 4}),
        ("mc_dropout[passes=10]", "mc_dropout", {"passes": 10}),
        ("lora[attn_matrices=[q,k,v],dropout=0.1]", "lora",
         {"attn_matrices": ["q", "k", "v"], "dropout": 0.1}),
        ("prefix-tuning", "prefix_tuning", {}),
    ],
)
def test_parse_preset(text, name, overrides):
    assert parse_preset(text) == (name, overrides)


@pytest.mark.parametrize("text", ["lora[r]", "lora[r=1", "[r=1]", ""])
def test_parse_preset_rejects_malformed(text):
    with pytest.raises(UsageError):
        parse_preset(text)


@dataclass(frozen=True)
class _Cfg:
    r: int = 8
    scale: float = 1.0
    names: tuple[str, ...] = ("q",)
    flag: bool = False


def test_build_config_coerces_and_validates():
    config = build_config(_Cfg, {"r": 4, "scale": 2, "names": "k"}, owner="demo")
    assert config == _Cfg(r=4, scale=2.0, names=("k",))
    assert isinstance(config.scale, float)
    with pytest.raises(UsageError, match=r"demo: unknown key 'rank'; valid keys: r, scale, names, flag"):
        build_config(_Cfg, {"rank": 4}, owner="demo")
    with pytest.raises(UsageError, match=r"demo\.r must be int, got 'x'"):
        build_config(_Cfg, {"r": "x"}, owner="demo")
    with pytest.raises(UsageError, match=r"demo\.r must be int, got True"):
        build_config(_Cfg, {"r": True}, owner="demo")


def test_format_preset_round_trips():
    config = _Cfg(r=4, names=("q", "v"))
    text = format_preset("demo", config)
    assert text == "demo[r=4,names=[q,v]]"
    name, overrides = parse_preset(text)
    assert build_config(_Cfg, overrides, owner=name) == config
    assert format_preset("demo", _Cfg()) == "demo"
