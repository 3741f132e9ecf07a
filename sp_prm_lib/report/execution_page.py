"""The book's page on how it was built (``book/executed/execution.md``): per track, each
notebook's wall time, whether this build re-ran it, and the commit and time of its run."""

from __future__ import annotations

from pathlib import Path

from sp_prm_lib.report.book_runs import notebook_link, read_tracks


def execution_markdown(executed: Path, toc: Path) -> str:
    """The Markdown of ``executed/execution.md``: per track, each notebook's profile, wall time,
    cached or run, and the commit and time of the run that produced its page."""
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
    if not tracks:
        return "\n".join(lines + ["No run is recorded in this build.", ""])
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
    return "\n".join(lines)
