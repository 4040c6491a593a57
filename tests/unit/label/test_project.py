"""Creating a project streams the file into the store (the same seeded orders as before, nothing
left behind by a bad row); how much of a pool a retrain scores."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.label.project import LARGE_POOL, LabelSettings


def test_a_large_pool_is_scored_by_sample_unless_told():
    settings = LabelSettings(labels=("a", "b"))
    assert settings.scored_pool(LARGE_POOL) is None
    assert settings.scored_pool(1_000_000) == LARGE_POOL
    given = LabelSettings(labels=("a", "b"), pool_subsample=500)
    assert given.scored_pool(100) == 500 and given.scored_pool(1_000_000) == 500


def test_a_project_is_streamed_in_with_the_seeded_orders(tmp_path):
    from peftal.label import LabelSettings, create
    from peftal.label.schema import overlap_order
    from tests.unit.label.conftest import write_csv

    n = 25
    data = write_csv(tmp_path / "data.csv", [f"text {i}" for i in range(n)])
    settings = LabelSettings(labels=("a", "b"), data=str(data), seed=3)
    store = create(tmp_path / "project", data, settings)
    with store.read() as db:
        rows = db.execute("SELECT id, text, cold_position, overlap_rank FROM examples ORDER BY id").fetchall()
    assert [row["text"] for row in rows] == [f"text {i}" for i in range(n)]
    permutation = np.random.default_rng(3).permutation(n)  # the cold order: permutation[place] = id
    assert [row["cold_position"] for row in rows] == np.argsort(permutation).tolist()
    assert [row["overlap_rank"] for row in rows] == overlap_order(3, n).tolist()


def test_a_bad_row_late_in_the_file_leaves_nothing_behind(tmp_path):
    from peftal.errors import UsageError
    from peftal.label import LabelSettings, create
    from tests.unit.label.conftest import write_csv

    data = write_csv(tmp_path / "data.csv", [f"text {i}" for i in range(30)] + [" "])
    settings = LabelSettings(labels=("a", "b"), data=str(data))
    with pytest.raises(UsageError, match="empty text in column 'text', row 31"):
        create(tmp_path / "project", data, settings, chunk_rows=8)
    assert not (tmp_path / "project").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(UsageError, match="budget"):
        create(tmp_path / "kept", write_csv(tmp_path / "ok.csv", ["x", "y"]),
               LabelSettings(labels=("a", "b"), budget=5))
    assert list((tmp_path / "kept").iterdir()) == []  # a folder the user made stays, empty
