"""The teaching page's run times come from records (this build's runs and measured runs), as ranges."""

import json
import re
from pathlib import Path

import pytest

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.report import teaching_times as tt
from sp_prm_lib.report.book_runs import Track, read_tracks

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "results" / "run_times" / "reference.json"
TEACHING = ROOT / "book" / "teaching.md"


def _track(sub, profile, seconds):
    timings = {nb: {"seconds": s, "cached": False} for nb, s in seconds.items()}
    return Track(profile, profile, profile, sub, timings, [])


def _minutes(seconds):
    return f"{seconds / 60:.1f}"


def test_span_reads_like_a_person_writes_it():
    assert tt.span([15, 13, 14]) == "13-15 s"
    assert tt.span([312, 366]) == "5.2-6.1 min"
    assert tt.span([53]) == "53 s" and tt.span([60.02, 59.98]) == "60 s"
    assert tt.span([]) == "not recorded"


def test_times_are_ranges_over_this_build_and_the_measured_runs():
    reference = tt.load_reference(REFERENCE)
    measured = reference["runs"][0]["notebooks"]
    session1 = [nb for _, _, names in tt.SESSIONS["session1"] for nb in names]
    # this build: every notebook 1.5 times as slow as the reference run, so each range is [reference, 1.5 x]
    tiny = _track("", "tiny", {nb: 1.5 * s for nb, s in measured["tiny"].items()})
    lab = _track("lab/", "lab", {nb: 1.5 * s for nb, s in measured["lab"].items()})
    page = tt.times_markdown([tiny, lab], reference)
    tiny_sum, lab_sum = sum(measured["tiny"].values()), sum(measured["lab"].values())
    slow_runs = {k: v for r in reference["runs"] for k, v in (r.get("track_seconds") or {}).items()}
    tiny_all = [tiny_sum, 1.5 * tiny_sum, slow_runs["tiny"]]
    lab_all = [lab_sum, 1.5 * lab_sum, slow_runs["lab"]]
    assert f"| {_minutes(min(tiny_all))}-{_minutes(max(tiny_all))} min |" in page
    assert f"| {_minutes(min(lab_all))}-{_minutes(max(lab_all))} min |" in page
    setup = sorted(s["seconds"] for s in reference["setup"])
    assert "`make setup data models`" in page and f"{_minutes(setup[0])}-{_minutes(setup[-1])} min" in page
    assert "the notebook runs of this build" in page
    line = tt.session_markdown([tiny, lab], reference, "session1")
    # every measured run with all of the session's notebooks, and this build (1.5 x the first run)
    with_notebooks = [r["notebooks"]["tiny"] for r in reference["runs"] if "tiny" in (r.get("notebooks") or {})]
    want = [sum(nbs[nb] for nb in session1) for nbs in with_notebooks]
    want.append(1.5 * sum(measured["tiny"][nb] for nb in session1))
    runs = len(want)
    assert f"**{_minutes(min(want))}-{_minutes(max(want))} min** ({runs} runs on record)" in line
    assert "00, 01, 02, 03, 04, 13" in line
    two = tt.session_markdown([tiny, lab], reference, "session2")
    assert two.count(f"({runs} runs on record)") == 3 and "`lab`: 02" in two


def test_a_build_that_lacks_a_sessions_notebook_is_left_out_of_its_range():
    reference = tt.load_reference(REFERENCE)
    tiny = _track("", "tiny", {"00_setup_and_data": 1000.0})  # 02 etc. not run in this build
    line = tt.session_markdown([tiny], reference, "session1")
    measured = sum("tiny" in (r.get("notebooks") or {}) for r in reference["runs"])
    assert f"({measured} run{'s' if measured > 1 else ''} on record)" in line and "1000" not in line
    smoke = _track("", "smoke", {nb: 1.0 for _, _, names in tt.SESSIONS["session1"] for nb in names})
    line = tt.session_markdown([smoke], reference, "session1")  # no measured smoke run: only this build
    assert "**6 s** (1 run on record)" in line
    assert "no run of this build" in tt.times_markdown([], reference)
    with pytest.raises(ConfigError, match="unknown session 'session9'"):
        tt.session_markdown([], reference, "session9")


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not a readable JSON record"),
        ('{"runs": []}', "lists 'runs' and 'setup'"),
        ('{"runs": [{"reproduce_seconds": 3}], "setup": []}', r"runs\[0\]: needs a 'date'"),
        ('{"runs": [], "setup": [{"date": "d", "seconds": -1}]}', r"setup\[0\]: times must be seconds >= 0"),
        ('{"runs": [{"date": "d", "notebooks": {"tiny": {"00": true}}}], "setup": []}', "times must be seconds"),
    ],
)
def test_a_bad_reference_record_is_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "reference.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        tt.load_reference(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_the_build_writes_the_snippets_the_teaching_page_includes(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
    bb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bb)
    executed = tmp_path / "executed"
    executed.mkdir()
    timings = {"02_obs1_score_consistency": {"seconds": 400.0, "cached": False}}
    (executed / "profile.json").write_text(json.dumps({"profile": "tiny", "path": "tiny", "timings": timings}))
    bb.write_results_page(executed)
    written = sorted(p.name for p in (executed / "teaching").iterdir())
    assert written == sorted(tt.teaching_snippets(read_tracks(executed), REFERENCE))
    page = TEACHING.read_text(encoding="utf-8")
    included = re.findall(r"```\{include\} executed/teaching/(\S+)\n```", page)
    assert sorted(included) == written  # every snippet is shown, and every include exists
    assert "400" not in (executed / "teaching" / "session1.md").read_text()  # not every notebook of it ran


def test_the_teaching_page_types_no_run_time_by_hand():
    page = TEACHING.read_text(encoding="utf-8")
    # lesson plans (0-10 min) are schedule, not compute; a compute time would be seconds or "N min" of a run
    schedule = re.compile(r"^\| \d+-\d+ min \|", re.M)
    text = schedule.sub("|", page)
    hand = re.findall(r"\b\d+(?:\.\d+)? ?(?:s|sec|seconds|min|minutes)\b(?! session)", text)
    assert [h for h in hand if not h.startswith("90 min")] == [], hand
    sessions = page.split("## Lab session")[1:]
    assert len(sessions) == 2
    for part in sessions:
        assert "**A classroom pre-computes: run `make reproduce` before the session" in part
    assert "`make setup data models`" in page
