"""scripts/verdict_table.py: the verdicts a run filed, and what changed against another run."""

import json

import verdict_table


def _write(folder, cid, verdict, why="", decided="a +0.1 [0, 0.2] (n=9)"):
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"id": cid, "verdict": verdict, "why": why, "tests": [{"test": "", "decided_on": decided}], "n_needed": 120}
    (folder / f"{cid}.json").write_text(json.dumps(entry))


def test_prints_each_claim_and_the_change(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SP_PRM_HOME", str(tmp_path))
    now = tmp_path / "build" / "results" / "p"
    _write(now, "obs3", "inconclusive", "holds the bound")
    old = tmp_path / "old"
    _write(old, "obs3", "reproduced", decided="pooled +0.25 [0.09, 0.40] (n=300)")
    assert verdict_table.main(["p", "--before", str(old)]) == 0
    out = capsys.readouterr().out
    assert "obs3: reproduced -> inconclusive (before: pooled +0.25 [0.09, 0.40] (n=300))" in out
    assert "why: holds the bound" in out and "n for 80% power: 120" in out


def test_missing_or_foreign_folders_are_one_line_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SP_PRM_HOME", str(tmp_path))
    assert verdict_table.main(["nothing"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    folder = tmp_path / "build" / "results" / "p"
    folder.mkdir(parents=True)
    (folder / "x.json").write_text("[1, 2]")
    assert verdict_table.main(["p"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "x.json: not a verdict record" in err and err.count("\n") == 1
    _write(folder.parent / "q", "a", "inconclusive")
    assert verdict_table.main(["q", "--before", str(tmp_path / "nope")]) == 2
    assert "no such results folder" in capsys.readouterr().err
