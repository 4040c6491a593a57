"""How much of a pool a retrain scores: all of a small pool, a sample of a large one, or what
--pool-subsample says."""

from __future__ import annotations

from peftal.label.project import LARGE_POOL, LabelSettings


def test_a_large_pool_is_scored_by_sample_unless_told():
    settings = LabelSettings(labels=("a", "b"))
    assert settings.scored_pool(LARGE_POOL) is None
    assert settings.scored_pool(1_000_000) == LARGE_POOL
    given = LabelSettings(labels=("a", "b"), pool_subsample=500)
    assert given.scored_pool(100) == 500 and given.scored_pool(1_000_000) == 500
