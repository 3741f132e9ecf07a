"""Build the Jupyter Book (warnings are errors), then check it makes no outside request.

First writes the results overview ``book/executed/results.md`` from the
verdicts the notebooks filed (``sp_prm_lib.experiments.comparison.collected``) for the
profile named in ``book/executed/profile.json`` (written by
``scripts/run_notebooks.py``). Skips the build when its inputs
(configuration, pages, executed notebooks, the results page, vendored
JavaScript) are unchanged since the last successful build.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import subprocess
import sys
import typing
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
STAMP = ROOT / "_build" / ".inputs-sha256"
EXECUTED = ROOT / "book" / "executed"

sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))
from sitecheck.static import check_site  # noqa: E402


# --- results overview (book/executed/results.md) ---------------------------
def _cell(text) -> str:
    """One Markdown table cell: one line, no column breaks, no stray math."""
    text = " ".join(str(text if text is not None else "").split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("$", "\\$").replace("<", "\\<") or "-"


def _model(spec) -> str:
    n = spec.num_layers
    layers = f", lower {n} layer{'' if n == 1 else 's'}" if n else ""
    return f"`{spec.id}` ({spec.source}{layers}, {spec.dtype})"


def _rm(spec) -> str:
    trained = f", trained here on {spec.train.train_pairs} pairs" if spec.train.train_pairs else ", used as released"
    return _model(spec.model) + trained


def _profile_paragraph(name: str) -> str:
    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.core.errors import ConfigError

    try:
        p = load_profile(name)
    except ConfigError as exc:
        return f"Profile `{name}` (its file could not be read: {exc})."
    d, r, a = p.data, p.reward, p.analysis
    labels = "the data set's own, human" if d.labels == "human" else f"the gold reward {p.gold.describe()}"
    return (
        f"These results come from the profile `{p.name}`: {p.description.rstrip('.')}. "
        f"Policy {_model(p.policy)}; outcome reward model (ORM) {_rm(r.orm)}; reference reward "
        f"model {_rm(r.reference)}; SP-PRM trained from the ORM on {r.prm.train_pairs} pairs "
        f"({r.prm.truncation.upper()}, K={r.prm.K}, weights `{r.prm.weighting}`); reward models "
        f"read at most {r.max_length} tokens (`{r.convention}` prefix convention). Data: "
        f"{d.train_pairs} training and {d.eval_pairs} held-out {d.eval_set} pairs "
        f"({d.source} source; labels: {labels}), {d.advbench_prompts} AdvBench prompts, {d.gsm8k_questions} GSM8K "
        f"questions. Decoding experiments: {p.decoding.prompts} prompts per task, at most "
        f"{p.decoding.max_new_tokens} new tokens per response ({p.decoding.summary_max_new_tokens} for "
        f"TL;DR); the demo answer of notebook 00 at most {p.generation.max_new_tokens}. "
        f"Agreement rates use {a.pairs} pairs with the `{a.judge}` judge"
        f"{f' ({a.judge_model})' if a.judge_model else ''} as the stand-in for human preference. "
        f"The paper's own settings are in each row's notebook and in `sp_prm_lib/experiments/paper_values.yaml`."
    )


@functools.lru_cache(maxsize=1)
def _toc_entries() -> tuple[frozenset[str], tuple[str, ...]]:
    """The ``file`` entries of ``_toc.yml`` and its ``glob`` patterns (only those pages are built)."""
    import yaml

    found, globs, todo = set(), [], [yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            if isinstance(item.get("file"), str):
                found.add(item["file"])
            if isinstance(item.get("glob"), str):
                globs.append(item["glob"])
            todo += list(item.values())
        elif isinstance(item, list):
            todo += item
    return frozenset(found), tuple(globs)


def _in_toc(page: str) -> bool:
    files, globs = _toc_entries()
    return page in files or any(fnmatch.fnmatchcase(page, g) for g in globs)


def _notebook_link(name: str, executed: Path, sub: str = "") -> str:
    """A ``{doc}`` link to the notebook's page when the build has it (else a warning under -n);
    ``sub`` is the track's folder under ``book/executed`` (``lab/`` for the gold lab)."""
    stem = Path(str(name)).stem
    if (executed / sub / f"{stem}.ipynb").is_file() and _in_toc(f"book/executed/{sub}{stem}"):
        return f"{{doc}}`{stem} <{sub}{stem}>`"
    return f"`{stem}` (not in this build)"


class Track(typing.NamedTuple):
    """One profile's run shown in the book: its title, where its pages are, its verdicts."""

    title: str
    profile: str
    path: str
    sub: str
    timings: dict
    entries: list[dict]


def _tracks(executed: Path) -> list[Track]:
    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.core.errors import ConfigError
    from sp_prm_lib.experiments.comparison import collected

    tracks = []
    for sub in ("", "lab/"):
        run_file = executed / sub / "profile.json"
        if not run_file.is_file():
            continue
        run = json.loads(run_file.read_text(encoding="utf-8"))
        name = run.get("profile", "?")
        try:
            title = load_profile(run.get("path") or name).track
        except ConfigError:
            title = name
        tracks.append(Track(title, name, run.get("path") or name, sub, run.get("timings") or {}, collected(name)))
    return tracks


def _estimate(entry: dict) -> str:
    """The estimates that decide a claim (the pooled rows, else the last row), as text; a claim over
    several metrics (reward and accuracy, ...) shows each metric's pooled estimate by name."""
    est = entry.get("estimates")
    if not est:
        return ""
    rows = [dict(zip(est["columns"], row)) for row in est["data"]]
    pooled = [r for r in rows if r.get("method") == "pooled"] or rows[-1:]
    if len(pooled) > 1 and all("metric" in r for r in pooled):
        return "; ".join(f"{r['metric']} {r.get('estimate', '')}" for r in pooled)
    return str(pooled[-1].get("estimate", ""))


SUMMARIES = {
    "": "The paper's own setting scaled to this machine: reward models trained here on a few thousand "
    "HH-RLHF pairs with their human labels. It shows what the paper's recipe gives at this size. It cannot "
    "show the paper's observations about human preference on prefixes (no human judges prefixes here: a "
    "reward model stands in, which is not independent of the models it judges), and its reward models are "
    "close to chance on held-out full pairs, so most effects are too small to tell from noise.",
    "lab/": "The same code and claims where the human is a known function: a gold reward labels the same "
    "HH-RLHF pairs and judges every prefix and every decoded answer. Reward models can learn its labels, "
    "human preference on prefixes is exact, and every claim gets an interval that means something. It "
    "cannot say how real people judge: the gold is a different rater from the HH-RLHF labellers (it "
    "agrees with their labels about half of the time), so the lab tests the paper's mechanisms, not its "
    "numbers.",
}


def results_page(executed: Path = EXECUTED) -> str:
    """The Markdown of the results overview: one column of verdicts per track (the profile of
    ``executed/profile.json`` and, when run, its gold lab in ``executed/lab/``)."""
    from sp_prm_lib.experiments.verdicts import VERDICTS

    lines = ["# Results overview: the paper's claims at our scale", ""]
    tracks = _tracks(executed)
    if not tracks:
        lines += [
            "No notebook run is recorded here (`book/executed/profile.json` is missing): run "
            "`make reproduce` to execute the notebooks and fill this page.",
            "",
        ]
        return "\n".join(lines)
    lines += [
        "Each claim of the paper (a figure, a table or Theorem 1) is tested as an *effect* whose sign says "
        "whether the claim holds (SP-PRM minus ORM reward, a difference of agreement rates, ...), estimated "
        "with a 95% percentile-bootstrap interval over prompts or pairs, one resampling shared by every "
        "method of a claim. *reproduced*: the interval excludes no effect on the paper's side; "
        "*contradicted*: it excludes it on the other side; *inconclusive*: it contains no effect (the "
        "interval is shown); *not run here*: the run lacks models, data or a judge the claim needs. A claim "
        "tested with a judge that is not independent of the method can be at most inconclusive. The rules "
        "live in `sp_prm_lib.experiments.verdicts`.",
        "",
        "## What each track can and cannot show",
        "",
    ]
    for t in tracks:
        lines += [f"**{t.title}** (profile `{t.profile}`). {SUMMARIES.get(t.sub, '')}", ""]
    lines += ["## Verdicts", ""]
    for t in tracks:
        counts = Counter(e.get("verdict", "?") for e in t.entries)
        order = [v for v in VERDICTS if counts.get(v)] + sorted(set(counts) - set(VERDICTS))
        summary = ", ".join(f"{counts[v]} {v}" for v in order) or "no verdicts filed"
        lines.append(f"- {t.title}: {len(t.entries)} claims checked with profile `{t.profile}`: {summary}.")
    lines.append("")
    claims: dict[str, dict] = {}
    for t in tracks:
        for e in t.entries:
            claims.setdefault(e["id"], e)
    if claims:
        header = ["Paper", "The paper's claim", *[t.title for t in tracks]]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for cid, first in claims.items():
            cells = [_cell(first.get("ref")), _cell(first.get("claim"))]
            for t in tracks:
                e = next((x for x in t.entries if x["id"] == cid), None)
                if e is None:
                    cells.append("-")
                    continue
                est = _estimate(e)
                link = _notebook_link(e.get("notebook", ""), executed, t.sub)
                cells.append(f"**{_cell(e.get('verdict'))}**" + (f" {_cell(est)}" if est else "") + f"; {link}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for t in tracks:
        lines += [f"## {t.title}: evidence, claim by claim", "", _profile_paragraph(t.path), ""]
        if not t.entries:
            lines += [f"No verdicts were filed by the notebooks of profile `{t.profile}`.", ""]
        for e in t.entries:
            lines += [
                f"### {_cell(e.get('ref'))} ({t.title}): {_cell(e.get('verdict'))}",
                "",
                f"**Claim.** {_cell(e.get('claim'))}",
                "",
                f"**Our evidence.** {_cell(e.get('evidence'))}",
                "",
                f"**Our setting.** {_cell(e.get('setting'))}",
                "",
                f"Notebook: {_notebook_link(e.get('notebook', ''), executed, t.sub)}",
                "",
            ]
    lines += [
        "## Notebook run times",
        "",
        "Each notebook's profile, wall time, whether it was re-run, and the commit it ran on: {doc}`execution`.",
        "",
    ]
    return "\n".join(lines)


def execution_page(executed: Path = EXECUTED) -> str:
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
    tracks = _tracks(executed)
    if not tracks:
        return "\n".join(lines + ["No run is recorded in this build.", ""])
    for t in tracks:
        lines += [f"## {t.title}", "", f"Profile `{t.profile}`.", ""]
        if not t.timings:
            lines += ["No timings recorded.", ""]
            continue
        lines += ["| Notebook | Seconds | This build | Commit | Finished |", "|---|--:|---|---|---|"]
        for nb, tm in t.timings.items():
            lines.append(
                f"| {_notebook_link(nb, executed, t.sub)} | {float(tm.get('seconds', 0)):.1f} | "
                f"{'cached' if tm.get('cached') else 'run'} | `{tm.get('commit', 'unknown')}` | "
                f"{tm.get('finished', 'unknown')} |"
            )
        total = sum(float(tm.get("seconds", 0)) for tm in t.timings.values())
        lines += [
            f"| **total** | **{total:.1f}** | | | |",
            "",
            f"The notebooks of this track took {total / 60:.1f} minutes in all (set-up, data, models, "
            "the book build and the browser test not included).",
            "",
        ]
    return "\n".join(lines)


def lab_index(executed: Path = EXECUTED) -> str:
    """The Markdown of the gold lab's part opening (``executed/lab/index.md``)."""
    lines = ["# The gold-reward lab", ""]
    run_file = executed / "lab" / "profile.json"
    if not run_file.is_file():
        return "\n".join(
            lines
            + [
                "This build ran no gold lab: the profile of the run has no `lab` key, or the lab has not "
                "run yet (`make reproduce` runs it next to the default profile).",
                "",
            ]
        )
    run = json.loads(run_file.read_text(encoding="utf-8"))
    lines += [
        SUMMARIES["lab/"],
        "",
        _profile_paragraph(run.get("path") or run.get("profile", "?")),
        "",
        "The pages of this part are the same notebooks as the HH-RLHF track, run with the lab's profile; "
        "{doc}`14_gold_lab <14_gold_lab>` describes the gold and measures what makes it a fair stand-in "
        "for a human rater."
        if (executed / "lab" / "14_gold_lab.ipynb").is_file()
        else "The pages of this part are the same notebooks as the HH-RLHF track, run with the lab's profile.",
        "",
    ]
    return "\n".join(lines)


def _write(out: Path, text: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    return out


def write_results_page(executed: Path = EXECUTED) -> Path:
    """Write ``executed/results.md``, the lab's opening page, the execution page and the recipe
    study's page from ``results/recipe_study/`` (atomically; untouched when unchanged)."""
    from sp_prm_lib.report.performance import performance_markdown
    from sp_prm_lib.report.recipe_page import load_records, recipe_study_markdown

    _write(executed / "lab" / "index.md", lab_index(executed))
    _write(executed / "recipe_study.md", recipe_study_markdown(load_records(ROOT / "results" / "recipe_study")))
    _write(executed / "execution.md", execution_page(executed))
    _write(executed / "performance.md", performance_markdown(ROOT / "bench" / "results"))
    return _write(executed / "results.md", results_page(executed))


def _inputs() -> list[Path]:
    files = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "book" / "_vendor" / ".stamp"]
    files += sorted((ROOT / "book").glob("*.md"))
    files += sorted(EXECUTED.glob("*")) + sorted(EXECUTED.glob("lab/*"))  # notebooks, profile.json, results
    files += sorted((ROOT / "bench" / "results").glob("*.json")) + sorted((ROOT / "results").glob("*/*.json"))
    return [f for f in files if f.is_file()]


def _hash(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def main() -> int:
    page = write_results_page()
    print(f"book: wrote {page.relative_to(ROOT)}", flush=True)
    digest = _hash(_inputs())
    if STAMP.is_file() and STAMP.read_text() == digest and (HTML / "index.html").is_file():
        print("book: up to date (_build/html)")
        return 0
    STAMP.unlink(missing_ok=True)
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(ROOT),
        "--builder",
        "html",
        "-W",
        "-n",
        "--keep-going",
        # a fresh environment: Sphinx's saved one can keep a page's old labels and report
        # duplicates that the current pages do not have
        "--all",
    ]
    print("book:", " ".join(cmd[1:]), flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        print("error: the book build failed (warnings count as errors); see the log above", file=sys.stderr)
        return 1
    problems = check_site(HTML)
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print(f"error: {len(problems)} outside or missing references in _build/html", file=sys.stderr)
        return 1
    STAMP.write_text(digest)
    print(f"book: built {HTML / 'index.html'}; no request to outside hosts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
