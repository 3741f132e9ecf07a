"""The book's page on how it was built (``book/executed/execution.md``): per track, each
notebook's wall time, whether this build re-ran it, and the commit and time of its run; then the
whole ``make reproduce`` runs measured on fresh clones, against the time budget."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sp_prm_lib.report.book_runs import notebook_link, read_tracks


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(round(seconds % 60)):02d} s"


def fresh_clone_markdown(reference: Mapping) -> list[str]:
    """The measured whole runs (``results/run_times/reference.json``): cold and cached times, the
    machine and its load, each against the budget the record names."""
    runs = [r for r in reference.get("runs", []) if "reproduce_seconds" in r]
    if not runs:
        return []
    budget = (reference.get("budget") or {}).get("seconds")
    lines = [
        "## Whole runs on fresh clones",
        "",
        "`make reproduce` (both tracks, set-up and the book included) on a fresh clone, from "
        "`results/run_times/reference.json`" + (f"; the budget is {_minutes(float(budget))} cold." if budget else "."),
        "",
        "| Date | Commit | Cold | Everything cached | Machine and load |",
        "|---|---|--:|--:|---|",
    ]
    for r in runs:
        cached = r.get("cached_reproduce_seconds")
        lines.append(
            f"| {r['date']} | `{r.get('commit', '?')}` | {_minutes(float(r['reproduce_seconds']))} | "
            f"{'' if cached is None else _minutes(float(cached))} | {r.get('machine', '')} |"
        )
    last = runs[-1]
    if budget:
        over = float(last["reproduce_seconds"]) - float(budget)
        verdict = f"over the budget by {_minutes(over)}" if over > 0 else f"within the budget by {_minutes(-over)}"
        lines += ["", f"The latest measured cold run ({last['date']}) is {verdict}."]
    return lines + [""]


def execution_markdown(executed: Path, toc: Path, reference: Mapping | None = None) -> str:
    """The Markdown of ``executed/execution.md``: per track, each notebook's profile, wall time,
    cached or run, and the commit and time of the run that produced its page; then the whole runs
    measured on fresh clones (``reference``: the record of ``results/run_times/reference.json``)."""
    lines = [
        "# How this build ran",
        "",
        "Written by `scripts/build_book.py` from the run records of `scripts/run_notebooks.py` "
        "(`book/executed/profile.json`, and `lab/profile.json` for the gold lab). *Seconds*: the wall time "
        "of the notebook's last execution (papermill, on the machine that built this book). *cached*: this "
        "build did not re-run it, because neither the notebook, the library, nor the profile changed since "
        "that execution; the commit and time are those of the execution. A commit marked `+changes` ran "
        "with uncommitted changes to the library, profiles, notebooks or scripts.",
        "",
    ]
    tracks = read_tracks(executed)
    measured = fresh_clone_markdown(reference or {})
    if not tracks:
        return "\n".join(lines + ["No run is recorded in this build.", "", *measured])
    for t in tracks:
        lines += [f"## {t.title}", "", f"Profile `{t.profile}`.", ""]
        if not t.timings:
            lines += ["No timings recorded.", ""]
            continue
        lines += [
            "| Notebook | Seconds | This build | Commit | Finished | Load at the end |",
            "|---|--:|---|---|---|--:|",
        ]
        for nb, tm in t.timings.items():
            load = tm.get("load")
            lines.append(
                f"| {notebook_link(nb, executed, toc, t.sub)} | {float(tm.get('seconds', 0)):.1f} | "
                f"{'cached' if tm.get('cached') else 'run'} | `{tm.get('commit', 'unknown')}` | "
                f"{tm.get('finished', 'unknown')} | {'' if load is None else f'{float(load):.2f}'} |"
            )
        total = sum(float(tm.get("seconds", 0)) for tm in t.timings.values())
        lines += [
            f"| **total** | **{total:.1f}** | | | | |",
            "",
            f"The notebooks of this track took {total / 60:.1f} minutes in all (set-up, data, models, "
            "the book build and the browser test not included). *Load at the end* is the machine's "
            "1-minute load average when each notebook finished (2 cores here: above 2, other work shared "
            "the machine and the time is not a clean measurement of the code).",
            "",
        ]
    return "\n".join(lines + measured)
