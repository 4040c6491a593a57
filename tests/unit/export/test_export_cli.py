"""``peftal export``, ``predict`` and ``serve`` refuse bad folders with one line, before any model loads."""

from __future__ import annotations

import pytest

from peftal.cli import main


@pytest.mark.parametrize(("make", "args", "message"), [
    (None, ["export", "{tmp}/nope", "--out", "{tmp}/out"], "not a run folder or a saved model"),
    ("run", ["export", "{tmp}/run", "--out", "{tmp}/run"], "is not empty; choose another folder"),
    ("run", ["export", "{tmp}/run", "--out", "{tmp}/run", "--overwrite"], "replaces an earlier export"),
    (None, ["serve", "{tmp}/nope"], "no such folder"),
    ("run", ["serve", "{tmp}/run", "--max-texts", "0"], "--max-texts must be >= 1"),
    ("run", ["serve", "{tmp}/run"], "not a run folder, a model/ folder or a `peftal export` folder"),
])
def test_one_line_exit_2(tmp_path, capsys, make, args, message):
    if make == "run":
        (tmp_path / "run" / "model").mkdir(parents=True)
        (tmp_path / "run" / "model" / "peftal_model.json").write_text("{}")
        if args[0] == "serve" and "--max-texts" not in args:
            (tmp_path / "run" / "model" / "peftal_model.json").unlink()
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("peftal: error:") and message in err[0]
