"""The performance page (``report/performance.py``) is generated from the benchmarks' records, never typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sp_prm_lib.core.errors import DataError
from sp_prm_lib.report.performance import (
    MACHINE_FIELDS,
    MEASUREMENT_FIELDS,
    RECORD_FIELDS,
    load_record,
    performance_markdown,
    target_met,
)

ROOT = Path(__file__).resolve().parents[1]


def _timing(ratio: float, **extra) -> dict:
    m = {
        "what": "fast path vs slow path",
        "subject": {"name": "fast", "seconds": 1.25},
        "baseline": {"name": "slow", "seconds": 1.25 * ratio},
        "ratio": ratio,
        "ratio_kind": "speedup",
        "same_result": {"max_abs_diff": 1.3e-6},
        "target": {"text": ">= 30x faster", "ratio_at_least": 30},
        "note": None,
    }
    m.update(extra)
    m["passed"] = target_met(m)
    return m


def _record(name: str, measurements: list[dict]) -> dict:
    return {
        "benchmark": name,
        "title": f"Title of {name}",
        "date": "2026-12-01T18:50:00+00:00",
        "machine": {"cpu": "AMD EPYC", "cores": 2, "torch_threads": 1, "torch": "2.13.0", "gpu": None},
        "command": f"OMP_NUM_THREADS=1 .venv/bin/python bench/{name}.py --max-new-tokens 32",
        "commit": "abc1234",
        "measurements": measurements,
    }


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    """A bench/ folder with three benchmarks, two of them recorded."""
    for name in ("bench_alpha", "bench_beta", "bench_gamma"):
        (tmp_path / f"{name}.py").write_text("")
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench_alpha.json").write_text(json.dumps(_record("bench_alpha", [_timing(39.123)])))
    slow = _timing(1.5, ratio_kind="time", target={"text": "<= 1.2x ORM", "ratio_at_most": 1.2}, note="A note.")
    slow["same_result"] = {"identical_tokens": [True, False]}
    (results / "bench_beta.json").write_text(json.dumps(_record("bench_beta", [slow])))
    return tmp_path


def test_table_shows_each_recorded_figure_with_its_provenance(bench):
    page = performance_markdown(bench / "results")
    assert "### Title of bench_alpha" in page
    assert (
        "| fast path vs slow path | **39.1x** faster (1.25 s vs 48.9 s) | max abs diff 1.3e-06 | >= 30x faster | pass |"
        in page
    )
    assert "**1.50x** the time of slow" in page
    assert "**different tokens** (1 of 2 prompts)" in page
    assert "| <= 1.2x ORM | **fail** |" in page
    assert "[1] A note." in page
    assert "2026-12-01 18:50 UTC" in page
    assert "AMD EPYC, 2 cores, 1 torch thread, torch 2.13.0, no GPU" in page
    assert "`OMP_NUM_THREADS=1 .venv/bin/python bench/bench_beta.py --max-new-tokens 32`" in page
    assert "commit `abc1234`" in page
    assert "Targets held: 1 of 2 met." in page


def test_missing_record_is_named_with_its_command_and_no_number(bench):
    page = performance_markdown(bench / "results")
    assert "No recorded result for:" in page
    line = next(x for x in page.splitlines() if "`bench_gamma`" in x)
    assert "OMP_NUM_THREADS=1 .venv/bin/python bench/bench_gamma.py" in line
    assert "bench/results/bench_gamma.json" in line
    assert "Title of bench_gamma" not in page
    assert "(2 of 3 benchmarks recorded)" in page


def test_bad_json_gives_one_line_error_naming_the_file(bench):
    bad = bench / "results" / "bench_gamma.json"
    bad.write_text('{"benchmark": "bench_gamma", ')
    with pytest.raises(DataError) as err:
        performance_markdown(bench / "results")
    message = str(err.value)
    assert "bench_gamma.json" in message and "not valid JSON" in message
    assert "\n" not in message


def test_record_missing_a_field_gives_one_line_error(bench):
    record = _record("bench_gamma", [_timing(40.0)])
    del record["command"]
    path = bench / "results" / "bench_gamma.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError, match=r"bench_gamma\.json: benchmark record lacks command$"):
        load_record(path)


def test_value_measurement_without_ratio():
    m = {
        "what": "judge",
        "ratio": None,
        "value": {"name": "agreement", "value": 0.5, "low": 0.4, "high": 0.6, "seconds": 12.0},
        "same_result": None,
        "target": None,
        "passed": None,
    }
    assert target_met(m) is None
    from sp_prm_lib.report.performance import format_measured

    assert format_measured(m) == "agreement **0.500** [0.400, 0.600] (12.0 s)"


@pytest.mark.parametrize(
    ("target", "same", "expected"),
    [
        ({"ratio_at_least": 10, "identical": True}, {"identical_tokens": [True, True]}, True),
        ({"ratio_at_least": 10, "identical": True}, {"identical_tokens": [True, False]}, False),
        ({"ratio_at_least": 30}, None, False),
        ({"ratio_at_most": 3}, None, False),
        ({"max_abs_diff_at_most": 1e-4}, {"max_abs_diff": 2e-4}, False),
        (None, None, None),
    ],
)
def test_target_met(target, same, expected):
    assert target_met({"ratio": 20.0, "same_result": same, "target": target}) is expected


def test_record_writer_round_trips(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import _record

    m = _record.timing(
        "a vs b", ("a", 1.0), ("b", 20.0), same={"max_abs_diff": 0.0}, target={"text": "t", "ratio_at_least": 10}
    )
    assert m["ratio"] == 20.0 and m["passed"] is True
    path = _record.write("bench_demo", "Demo", [m], details={"nan": float("nan")}, folder=tmp_path)
    assert json.loads(path.read_text())["details"]["nan"] is None  # strict JSON, no NaN
    record = load_record(path)
    assert record["benchmark"] == "bench_demo" and record["machine"]["cores"] >= 1
    assert record["date"].endswith("+00:00") and record["commit"]
    assert "identical (max abs diff 0)" in performance_markdown(tmp_path, bench_dir=tmp_path)


COMMITTED = sorted((ROOT / "bench" / "results").glob("*.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_records_parse_and_have_the_required_fields(path):
    record = load_record(path)
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path.name}: {c} is not strict JSON"))
    assert record["benchmark"] == path.stem
    assert all(k in record for k in RECORD_FIELDS)
    assert all(k in record["machine"] for k in MACHINE_FIELDS)
    assert record["command"].startswith("OMP_NUM_THREADS=1 ") and f"bench/{path.stem}.py" in record["command"]
    for m in record["measurements"]:
        assert all(k in m for k in MEASUREMENT_FIELDS)
        assert m["passed"] == target_met(m), f"{path.name}: {m['what']}: stored pass/fail disagrees with its target"


def test_every_benchmark_has_a_committed_record():
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    assert [p.stem for p in COMMITTED if p.stem in names] == names


def test_a_records_compute_rows_become_a_table_and_a_bad_row_is_named(tmp_path):
    row = {
        "run": "args incremental",
        "seconds": 29.83,
        "new_tokens": 256,
        "policy_calls": 128,
        "policy_forward_tokens": 656,
        "rm_calls": 255,
        "rm_forward_tokens": 24256,
    }
    (tmp_path / "bench_alpha.py").write_text("")
    results = tmp_path / "results"
    results.mkdir()
    record = {**_record("bench_alpha", [_timing(39.0)]), "compute": [row]}
    (results / "bench_alpha.json").write_text(json.dumps(record))
    page = performance_markdown(results, tmp_path)
    assert "| args incremental | 29.8 s | 256 | 128 | 656 | 255 | 24,256 |" in page
    del row["rm_calls"]
    (results / "bench_alpha.json").write_text(json.dumps(record))
    with pytest.raises(DataError, match="bench_alpha.json: compute row 0 lacks rm_calls"):
        performance_markdown(results, tmp_path)
