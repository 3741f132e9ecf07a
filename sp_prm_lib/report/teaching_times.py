"""The run times on the teaching page, from records: never typed by hand.

``book/teaching.md`` includes three generated snippets that ``scripts/build_book.py``
writes under ``book/executed/teaching/``: how long set-up, each track's notebooks and a
whole ``make reproduce`` take (``times.md``), and the compute each lab session needs
(``session1.md``, ``session2.md``). Each time is a range over the runs on record: the
build being read (its notebooks' wall times, ``book/executed/profile.json`` and
``lab/profile.json``: ``book_runs.read_tracks``) and the measured runs of
``results/run_times/reference.json`` (fresh clones, as reported in the README), so a
reader sees how much the same work varied between machines and days.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.report.book_runs import Track

#: the notebooks each lab session of the teaching page runs, per track folder ("" the default
#: track, "lab/" the gold lab), with what the line calls them
SESSIONS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "session1": (
        (
            "",
            "the notebooks of this session",
            (
                "00_setup_and_data",
                "01_theorem1_toy",
                "02_obs1_score_consistency",
                "03_obs2_3_human_preference",
                "04_obs4_reward_gap",
                "13_prefix_probe",
            ),
        ),
    ),
    "session2": (
        (
            "",
            "the notebooks of this session",
            ("05_training_sp_prm", "06_score_consistency_after_training", "07_decoding_hh_rlhf"),
        ),
        ("lab/", "the lab's reward models (its notebook 02)", ("02_obs1_score_consistency",)),
        (
            "lab/",
            "the lab notebooks of this session",
            ("05_training_sp_prm", "07_decoding_hh_rlhf", "11_ablations", "14_gold_lab"),
        ),
    ),
}


def load_reference(path: Path) -> dict:
    """The measured runs of ``reference.json``, checked (a one-line error naming the file and key)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: not a readable JSON record ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) or not isinstance(data.get("setup"), list):
        raise ConfigError(f"{path}: expected an object with lists 'runs' and 'setup'")
    for where, item in [(f"runs[{i}]", r) for i, r in enumerate(data["runs"])] + [
        (f"setup[{i}]", r) for i, r in enumerate(data["setup"])
    ]:
        where = f"{path}: {where}"
        if not isinstance(item, dict) or not isinstance(item.get("date"), str):
            raise ConfigError(f"{where}: needs a 'date'")
        numbers = [item.get(k) for k in ("seconds", "reproduce_seconds", "cached_reproduce_seconds") if k in item]
        numbers += list((item.get("track_seconds") or {}).values())
        numbers += [s for nbs in (item.get("notebooks") or {}).values() for s in nbs.values()]
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0 for x in numbers):
            raise ConfigError(f"{where}: times must be seconds >= 0")
    return data


def span(values: Sequence[float]) -> str:
    """A time range for people: ``"13-15 s"``, ``"5.2-6.1 min"``; one value when all agree."""
    values = sorted(float(v) for v in values)
    if not values:
        return "not recorded"
    lo, hi = values[0], values[-1]
    if hi < 90:
        a, b, unit = f"{lo:.0f}", f"{hi:.0f}", "s"
    else:
        a, b, unit = f"{lo / 60:.1f}", f"{hi / 60:.1f}", "min"
    return f"{a} {unit}" if a == b else f"{a}-{b} {unit}"


def _track_seconds(track: Track, names: Sequence[str] | None = None) -> float | None:
    """The sum of a build's recorded notebook times (``None`` when one of ``names`` is missing)."""
    timings = track.timings
    names = list(timings) if names is None else names
    if not names or any(n not in timings for n in names):
        return None
    return sum(float(timings[n].get("seconds", 0)) for n in names)


def _reference_seconds(reference: Mapping, profile: str, names: Sequence[str] | None = None) -> list[float]:
    """The measured times of ``names`` (or the whole track) of ``profile``, one per run that has them."""
    out = []
    for run in reference["runs"]:
        nbs = (run.get("notebooks") or {}).get(profile)
        if names is None and profile in (run.get("track_seconds") or {}):
            out.append(float(run["track_seconds"][profile]))
        elif nbs and all(n in nbs for n in (names or nbs)):
            out.append(float(sum(nbs[n] for n in (names or nbs))))
    return out


def _track(tracks: Sequence[Track], sub: str) -> Track | None:
    return next((t for t in tracks if t.sub == sub), None)


def _sources(tracks: Sequence[Track], reference: Mapping) -> str:
    built = "the notebook runs of this build" if tracks else "no run of this build (none is recorded)"
    dates = " and ".join(f"{r['date']} (commit {r.get('commit', '?')})" for r in reference["runs"])
    return (
        f"Ranges over {built} and the runs measured on fresh clones on {dates} "
        "(`results/run_times/reference.json`); the times vary with the machine and its load."
    )


def times_markdown(tracks: Sequence[Track], reference: Mapping) -> str:
    """The table of how long set-up, each track and a whole run take (``teaching/times.md``)."""
    setup = [float(s["seconds"]) for s in reference["setup"]]
    rows = [
        "| Step | Time |",
        "|---|---|",
        f"| Set-up: `make setup data models` (virtual environment, pinned packages, data, model files; "
        f"pip's cache and `../shared` present) | {span(setup)} |",
    ]
    for sub, default in (("", "tiny"), ("lab/", "lab")):
        track = _track(tracks, sub)
        profile = track.profile if track else default
        values = _reference_seconds(reference, profile)
        own = _track_seconds(track) if track else None
        values += [own] if own is not None else []
        title = track.title if track else profile
        rows.append(f"| Notebooks of the {title} track (`{profile}`), each once, in order | {span(values)} |")
    whole = [float(r["reproduce_seconds"]) for r in reference["runs"] if "reproduce_seconds" in r]
    cached = [float(r["cached_reproduce_seconds"]) for r in reference["runs"] if "cached_reproduce_seconds" in r]
    rows.append(
        f"| `make reproduce` from a cold cache: set-up, both tracks, the book and its browser test | {span(whole)} |"
    )
    rows.append(f"| `make reproduce` again, everything cached | {span(cached)} |")
    return "\n".join(rows + ["", _sources(tracks, reference), ""])


def session_markdown(tracks: Sequence[Track], reference: Mapping, session: str) -> str:
    """One line per part of a session: its notebooks' compute from a cold cache, as a range."""
    if session not in SESSIONS:
        raise ConfigError(f"unknown session {session!r}; known: {sorted(SESSIONS)}")
    parts = []
    for sub, what, names in SESSIONS[session]:
        track = _track(tracks, sub)
        profile = track.profile if track else ("lab" if sub else "tiny")
        values = _reference_seconds(reference, profile, names)
        own = _track_seconds(track, names) if track else None
        values += [own] if own is not None else []
        numbers = ", ".join(n.split("_", 1)[0] for n in names)
        runs = f"{len(values)} run{'s' if len(values) != 1 else ''} on record"
        parts.append(f"{what} (`{profile}`: {numbers}) take **{span(values)}** ({runs})")
    return "Compute from a cold cache: " + "; ".join(parts) + ". " + _sources(tracks, reference) + "\n"


def teaching_snippets(tracks: Sequence[Track], reference_path: Path) -> dict[str, str]:
    """The snippets ``teaching.md`` includes, by file name (``times.md``, ``session1.md``, ...)."""
    reference = load_reference(reference_path)
    texts = {"times.md": times_markdown(tracks, reference)}
    texts.update({f"{s}.md": session_markdown(tracks, reference, s) for s in SESSIONS})
    return texts
