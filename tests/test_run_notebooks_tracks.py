"""scripts/run_notebooks.py files a track's pages: a run split over jobs keeps the other half."""

import json
from pathlib import Path

from run_notebooks import file_track

from sp_prm_lib.config.profile import load_profile


def _page(folder: Path, name: str) -> None:
    (folder / f"{name}.ipynb").write_text("{}")


def test_a_run_split_over_two_jobs_keeps_both_halves(tmp_path):
    P = load_profile("smoke")
    names = [p for p in P.notebooks]
    first, second = names[:3], names[3:5]
    for n in first:
        _page(tmp_path, n)
    file_track(tmp_path, P, [Path(f"{n}.ipynb") for n in first], {n: {"seconds": 1.0} for n in first})
    for n in second:
        _page(tmp_path, n)
    _page(tmp_path, "99_not_in_the_profile")
    file_track(tmp_path, P, [Path(f"{n}.ipynb") for n in second], {n: {"seconds": 2.0} for n in second})
    pages = sorted(p.stem for p in tmp_path.glob("*.ipynb"))
    assert pages == sorted(first + second)  # the first job's pages stay, a stranger goes
    record = json.loads((tmp_path / "profile.json").read_text())
    assert list(record["timings"]) == first + second and record["profile"] == P.name


def test_pages_of_another_profile_are_dropped(tmp_path):
    smoke, tiny = load_profile("smoke"), load_profile("tiny")
    _page(tmp_path, smoke.notebooks[0])
    file_track(tmp_path, smoke, [Path(f"{smoke.notebooks[0]}.ipynb")], {smoke.notebooks[0]: {"seconds": 1.0}})
    _page(tmp_path, tiny.notebooks[1])
    file_track(tmp_path, tiny, [Path(f"{tiny.notebooks[1]}.ipynb")], {tiny.notebooks[1]: {"seconds": 1.0}})
    assert [p.stem for p in tmp_path.glob("*.ipynb")] == [tiny.notebooks[1]]
    assert list(json.loads((tmp_path / "profile.json").read_text())["timings"]) == [tiny.notebooks[1]]
