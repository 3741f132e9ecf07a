"""Build the Jupyter Book (warnings are errors), then check it makes no outside request.

First writes the results overview ``book/executed/results.md`` from the
verdicts the notebooks filed (``sp_prm_lib.experiments.comparison.collected``) for the
profile named in ``book/executed/profile.json`` (written by
``scripts/run_notebooks.py``). Skips the build when its inputs
(configuration, pages, executed notebooks, the results page, vendored
JavaScript) are unchanged since the last successful build.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
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
    return (
        f"These results come from the profile `{p.name}`: {p.description.rstrip('.')}. "
        f"Policy {_model(p.policy)}; outcome reward model (ORM) {_rm(r.orm)}; reference reward "
        f"model {_rm(r.reference)}; SP-PRM trained from the ORM on {r.prm.train_pairs} pairs "
        f"({r.prm.truncation.upper()}, K={r.prm.K}, weights `{r.prm.weighting}`); reward models "
        f"read at most {r.max_length} tokens (`{r.convention}` prefix convention). Data: "
        f"{d.train_pairs} training and {d.eval_pairs} held-out {d.eval_set} pairs "
        f"({d.source} source), {d.advbench_prompts} AdvBench prompts, {d.gsm8k_questions} GSM8K "
        f"questions. Decoding experiments: {p.decoding.prompts} prompts per task, at most "
        f"{p.decoding.max_new_tokens} new tokens per response ({p.decoding.summary_max_new_tokens} for "
        f"TL;DR); the demo answer of notebook 00 at most {p.generation.max_new_tokens}. "
        f"Agreement rates use {a.pairs} pairs with the `{a.judge}` judge"
        f"{f' ({a.judge_model})' if a.judge_model else ''} as the stand-in for human preference. "
        f"The paper's own settings are in each row's notebook and in `sp_prm_lib/experiments/paper_values.yaml`."
    )


@functools.lru_cache(maxsize=1)
def _toc_files() -> frozenset[str]:
    """The ``file`` entries of ``_toc.yml`` (only those pages are built)."""
    import yaml

    found, todo = set(), [yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            if isinstance(item.get("file"), str):
                found.add(item["file"])
            todo += list(item.values())
        elif isinstance(item, list):
            todo += item
    return frozenset(found)


def _notebook_link(name: str, executed: Path) -> str:
    """A ``{doc}`` link to the notebook's page when the build has it (else a warning under -n)."""
    stem = Path(str(name)).stem
    if (executed / f"{stem}.ipynb").is_file() and f"book/executed/{stem}" in _toc_files():
        return f"{{doc}}`{stem} <{stem}>`"
    return f"`{stem}` (not in this build)"


def results_page(executed: Path = EXECUTED) -> str:
    """The Markdown of the results overview for the profile of ``executed/profile.json``."""
    from sp_prm_lib.experiments.comparison import VERDICTS, collected

    run_file = executed / "profile.json"
    lines = ["# Results overview: the paper's claims at our scale", ""]
    if not run_file.is_file():
        lines += [
            "No notebook run is recorded here (`book/executed/profile.json` is missing): run "
            "`make reproduce` to execute the notebooks and fill this page.",
            "",
        ]
        return "\n".join(lines)
    run = json.loads(run_file.read_text(encoding="utf-8"))
    name = run.get("profile", "?")
    entries = collected(name)
    lines += [
        _profile_paragraph(run.get("path") or name),
        "",
        "Each row is one claim of the paper (a figure, a table or Theorem 1) with a verdict; "
        "the evidence our run gives for it and our setting follow below the table. "
        "*reproduced*: every check holds; *partly*: some do; "
        "*not at this scale*: none do (our small models or data cannot show it); "
        "*not run here*: the run needs models, data or a judge this profile lacks.",
        "",
    ]
    lines += ["## Verdicts", ""]
    if entries:
        counts = Counter(e.get("verdict", "?") for e in entries)
        order = [v for v in VERDICTS if counts.get(v)] + sorted(set(counts) - set(VERDICTS))
        summary = ", ".join(f"{counts[v]} {v}" for v in order)
        lines += [f"{len(entries)} claims checked with profile `{name}`: {summary}.", ""]
        lines += ["| Paper | The paper's claim | Verdict | Notebook |", "|---|---|---|---|"]
        for e in entries:
            lines.append(
                "| "
                + " | ".join(
                    [
                        _cell(e.get("ref")),
                        _cell(e.get("claim")),
                        f"**{_cell(e.get('verdict'))}**",
                        _notebook_link(e.get("notebook", ""), executed),
                    ]
                )
                + " |"
            )
        lines += ["", "## Evidence, claim by claim", ""]
        for e in entries:
            lines += [
                f"### {_cell(e.get('ref'))}: {_cell(e.get('verdict'))}",
                "",
                f"**Claim.** {_cell(e.get('claim'))}",
                "",
                f"**Our evidence.** {_cell(e.get('evidence'))}",
                "",
                f"**Our setting.** {_cell(e.get('setting'))}",
                "",
                f"Notebook: {_notebook_link(e.get('notebook', ''), executed)}",
                "",
            ]
        lines.append("")
    else:
        lines += [
            f"No verdicts were filed by the notebooks of profile `{name}` (`build/results/{name}/` is empty).",
            "",
        ]
    timings = run.get("timings") or {}
    lines += ["## Notebook run times", ""]
    if timings:
        lines += [
            "Wall time of each notebook's last execution (papermill, this machine); "
            "*cached*: not re-run because nothing it depends on changed.",
            "",
            "| Notebook | Seconds | |",
            "|---|--:|---|",
        ]
        for nb, t in timings.items():
            lines.append(
                f"| {_notebook_link(nb, executed)} | {float(t.get('seconds', 0)):.1f} | "
                f"{'cached' if t.get('cached') else 'run'} |"
            )
        total = sum(float(t.get("seconds", 0)) for t in timings.values())
        lines += [
            f"| **total** | **{total:.1f}** | |",
            "",
            f"The notebooks of this run took {total / 60:.1f} minutes in all (set-up, data, models, "
            "the book build and the browser test not included).",
            "",
        ]
    else:
        lines += ["No timings recorded.", ""]
    return "\n".join(lines)


def write_results_page(executed: Path = EXECUTED) -> Path:
    """Write ``executed/results.md`` (atomically; untouched when unchanged)."""
    executed.mkdir(parents=True, exist_ok=True)
    out = executed / "results.md"
    text = results_page(executed)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:
        tmp = out.with_name(f".results.md.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    return out


def _inputs() -> list[Path]:
    files = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "book" / "_vendor" / ".stamp"]
    files += sorted((ROOT / "book").glob("*.md"))
    files += sorted(EXECUTED.glob("*"))  # executed notebooks, profile.json, results.md
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
