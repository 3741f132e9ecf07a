"""The book's performance results, generated from the benchmarks' records in ``bench/results/*.json``.

Each ``bench/bench_*.py`` writes one record (``bench/_record.py``): when and where it ran, the
exact command, the git commit and its measurements. A measurement compares a *subject* (the fast
path) with a *baseline* (the path it replaces or is measured against), both timed in the same
run, and may be held to a target from the design notes::

    {"what": "...", "subject": {"name": "one pass", "seconds": 1.25},
     "baseline": {"name": "one forward per prefix", "seconds": 48.97},
     "ratio": 39.1, "ratio_kind": "speedup",            # baseline / subject; "time" is subject / baseline
     "same_result": {"max_abs_diff": 1.3e-06},          # or {"identical_tokens": [true, true]}, or null
     "target": {"text": "...", "ratio_at_least": 30, "max_abs_diff_at_most": 0.0001}, "passed": true,
     "note": null}

A measurement that is not a timing (judge agreement) has ``"value"`` instead of the two times.
This module checks the records, decides whether a target is met (the benchmarks call
:func:`target_met` when they write) and renders the Markdown; it never invents a number: a
benchmark without a record is listed with the command that produces one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sp_prm_lib.core.errors import DataError
from sp_prm_lib.report.markdown import cell

#: keys every record has
RECORD_FIELDS = ("benchmark", "title", "date", "machine", "command", "commit", "measurements")
#: keys every measurement has
MEASUREMENT_FIELDS = ("what", "ratio", "same_result", "target", "passed")
#: keys of ``machine``
MACHINE_FIELDS = ("cpu", "cores", "torch_threads", "torch", "gpu")
RATIO_KINDS = ("speedup", "time")
#: the command that runs a benchmark by default (the one ``make bench`` runs)
DEFAULT_COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python bench/{name}.py"


# --- targets -----------------------------------------------------------------------------------
def target_met(measurement: dict) -> bool | None:
    """Whether ``measurement`` meets its target: ``None`` without a target, else every stated
    condition (ratio bounds, largest allowed difference, identical output) must hold."""
    target = measurement.get("target")
    if not target:
        return None
    checks = []
    ratio = measurement.get("ratio")
    if "ratio_at_least" in target:
        checks.append(ratio is not None and ratio >= target["ratio_at_least"])
    if "ratio_at_most" in target:
        checks.append(ratio is not None and ratio <= target["ratio_at_most"])
    same = measurement.get("same_result") or {}
    if "max_abs_diff_at_most" in target:
        diff = same.get("max_abs_diff")
        checks.append(diff is not None and diff <= target["max_abs_diff_at_most"])
    if target.get("identical"):
        tokens = same.get("identical_tokens")
        checks.append(bool(tokens) and all(tokens))
    return all(checks) if checks else None


# --- loading -----------------------------------------------------------------------------------
def check_record(record: object, where: str) -> dict:
    """``record`` when it has every required field; a one-line :class:`DataError` naming ``where`` if not."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: a benchmark record must be a JSON object, not {type(record).__name__}")
    missing = [k for k in RECORD_FIELDS if k not in record]
    if missing:
        raise DataError(f"{where}: benchmark record lacks {', '.join(missing)}")
    machine = record["machine"]
    if not isinstance(machine, dict) or any(k not in machine for k in MACHINE_FIELDS):
        raise DataError(f"{where}: 'machine' must be an object with {', '.join(MACHINE_FIELDS)}")
    try:
        datetime.fromisoformat(str(record["date"]))
    except ValueError:
        raise DataError(f"{where}: 'date' is not an ISO date: {record['date']!r}") from None
    if not isinstance(record["measurements"], list) or not record["measurements"]:
        raise DataError(f"{where}: 'measurements' must be a non-empty list")
    for i, m in enumerate(record["measurements"]):
        if not isinstance(m, dict):
            raise DataError(f"{where}: measurement {i} is not an object")
        lacking = [k for k in MEASUREMENT_FIELDS if k not in m]
        if lacking:
            raise DataError(f"{where}: measurement {i} ({m.get('what', '?')}) lacks {', '.join(lacking)}")
        if m["ratio"] is not None and m.get("ratio_kind") not in RATIO_KINDS:
            raise DataError(f"{where}: measurement {i} has a ratio but 'ratio_kind' is not one of {RATIO_KINDS}")
        if m["ratio"] is None and not isinstance(m.get("value"), dict):
            raise DataError(f"{where}: measurement {i} ({m['what']}) has neither a ratio nor a value")
    compute = record.get("compute", [])
    if not isinstance(compute, list):
        raise DataError(f"{where}: 'compute' must be a list of runs")
    for i, row in enumerate(compute):
        lacking = [k for k in COMPUTE_FIELDS if not isinstance(row, dict) or k not in row]
        if lacking:
            raise DataError(f"{where}: compute row {i} lacks {', '.join(lacking)}")
    return record


def load_record(path: Path) -> dict:
    """One record, checked; unreadable or malformed files raise a one-line :class:`DataError` naming the file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read benchmark record ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return check_record(record, str(path))


def load_records(folder: Path) -> dict[str, dict]:
    """Every ``*.json`` record in ``folder``, keyed by file stem (the benchmark's name)."""
    return {p.stem: load_record(p) for p in sorted(Path(folder).glob("*.json"))}


def expected_benchmarks(bench_dir: Path) -> list[str]:
    """The benchmarks that should have a record: the ``bench_*.py`` files of ``bench_dir``."""
    return sorted(p.stem for p in Path(bench_dir).glob("bench_*.py"))


# --- formatting --------------------------------------------------------------------------------
def _seconds(s: float) -> str:
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def _ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


def _number(x: float) -> str:
    """Small differences in scientific notation, exact zero as 0."""
    if x == 0:
        return "0"
    return f"{x:.1e}" if abs(x) < 1e-2 else f"{x:.3g}"


def format_measured(m: dict) -> str:
    """What was measured, for people: the ratio in words with the two times, or the value."""
    if m.get("ratio") is None:
        v = m["value"]
        text = f"{v.get('name', 'value')} **{v['value']:.3f}**"
        if v.get("low") is not None and v.get("high") is not None:
            text += f" [{v['low']:.3f}, {v['high']:.3f}]"
        if v.get("seconds") is not None:
            text += f" ({_seconds(v['seconds'])})"
        return text
    sub, base = m.get("subject") or {}, m.get("baseline") or {}
    times = ""
    if sub.get("seconds") is not None and base.get("seconds") is not None:
        times = f" ({_seconds(sub['seconds'])} vs {_seconds(base['seconds'])})"
    if m["ratio_kind"] == "speedup":
        return f"**{_ratio(m['ratio'])}** faster{times}"
    return f"**{_ratio(m['ratio'])}** the time of {base.get('name', 'the baseline')}{times}"


def format_same(same: dict | None) -> str:
    """Whether the two paths gave the same result: the largest difference, or identical tokens."""
    if not same:
        return "-"
    parts = []
    if "max_abs_diff" in same:
        diff = same["max_abs_diff"]
        parts.append("identical (max abs diff 0)" if diff == 0 else f"max abs diff {_number(diff)}")
    if "identical_tokens" in same:
        tokens = same["identical_tokens"]
        word = "identical tokens" if all(tokens) else "**different tokens**"
        parts.append(f"{word} ({sum(map(bool, tokens))} of {len(tokens)} prompts)")
    return "; ".join(parts) or "-"


def format_pass(passed: bool | None) -> str:
    return {True: "pass", False: "**fail**", None: "-"}[passed]


def format_date(date: str) -> str:
    d = datetime.fromisoformat(date)
    zone = " UTC" if d.utcoffset() is not None and d.utcoffset().total_seconds() == 0 else ""
    return d.strftime("%Y-%m-%d %H:%M") + zone


def format_machine(machine: dict) -> str:
    threads = machine["torch_threads"]
    text = (
        f"{machine['cpu']}, {machine['cores']} cores, {threads} torch thread{'s' if threads != 1 else ''}, "
        f"torch {machine['torch']}, {('GPU ' + machine['gpu']) if machine['gpu'] else 'no GPU'}"
    )
    load = machine.get("load_average")
    if load:
        text += f"; load average {load[0]:.2f} when it finished"
    return text


# --- the page ----------------------------------------------------------------------------------
#: a ``compute`` row of a record: one decoding run's wall time next to its forward counts
COMPUTE_FIELDS = (
    "run",
    "seconds",
    "new_tokens",
    "policy_calls",
    "policy_forward_tokens",
    "rm_calls",
    "rm_forward_tokens",
)


def compute_table(rows: list[dict]) -> list[str]:
    """The Markdown table of a record's ``compute`` rows (empty list: none)."""
    if not rows:
        return []
    lines = [
        "Compute of each run (forward token positions include padding; cached positions are not run again):",
        "",
        "| Run | Wall time | New tokens | Policy forwards | Policy tokens run | RM forwards | RM tokens run |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {cell(r['run'])} | {_seconds(r['seconds'])} | {r['new_tokens']:,} | {r['policy_calls']:,} "
            f"| {r['policy_forward_tokens']:,} | {r['rm_calls']:,} | {r['rm_forward_tokens']:,} |"
        )
    return [*lines, ""]


def _section(name: str, record: dict) -> list[str]:
    lines = [
        f"### {record['title']}",
        "",
        f"- Benchmark: `bench/{name}.py`, record `bench/results/{name}.json`",
        f"- Measured: {format_date(record['date'])}, commit `{record['commit']}`",
        f"- Machine: {format_machine(record['machine'])}",
        f"- Command: `{record['command']}`",
        "",
        "| What is compared | Measured | Same result? | Target | Pass? |",
        "|---|---|---|---|---|",
    ]
    notes = []
    for m in record["measurements"]:
        target = m["target"].get("text", "stated") if m["target"] else "none stated"
        what = m["what"]
        if m.get("note"):
            notes.append(m["note"])
            what += f" [{len(notes)}]"
        lines.append(
            f"| {cell(what)} | {cell(format_measured(m))} | {cell(format_same(m['same_result']))} "
            f"| {cell(target)} | {format_pass(m['passed'])} |"
        )
    lines.append("")
    for i, note in enumerate(notes, 1):
        lines += [f"[{i}] {note}", ""]
    lines += compute_table(record.get("compute", []))
    for note in record.get("notes") or []:
        lines += [note, ""]
    return lines


def performance_markdown(results: Path, bench_dir: Path | None = None) -> str:
    """The Markdown of the results part of the performance page, from the records in ``results``.

    ``bench_dir`` (default: the parent of ``results``) names the benchmarks that should have a
    record; one without is listed with the command that writes it, never with a number."""
    results = Path(results)
    bench_dir = Path(bench_dir) if bench_dir is not None else results.parent
    records = load_records(results)
    names = sorted(set(expected_benchmarks(bench_dir)) | set(records))
    held = [m for r in records.values() for m in r["measurements"] if m["passed"] is not None]
    lines = [
        "## Results",
        "",
        "<!-- generated from bench/results/*.json by sp_prm_lib.report.performance; do not edit -->",
        "",
        f"Generated from the benchmarks' records in `bench/results/` ({len(records)} of {len(names)} "
        "benchmarks recorded). Every figure below was written by the command shown with it. "
        f"Targets held: {sum(m['passed'] for m in held)} of {len(held)} met.",
        "",
    ]
    missing = [n for n in names if n not in records]
    if missing:
        lines += ["```{note}", "No recorded result for:", ""]
        for n in missing:
            lines.append(f"- `{n}`: run `{DEFAULT_COMMAND.format(name=n)}` (writes `bench/results/{n}.json`)")
        lines += ["```", ""]
    for name in names:
        if name in records:
            lines += _section(name, records[name])
    return "\n".join(lines).rstrip() + "\n"
