"""Build the Jupyter Book (warnings are errors), then check it makes no outside request.

First writes the generated pages (rendered by ``sp_prm_lib.report``): the
results overview ``book/executed/results.md`` from the verdicts the notebooks
filed (``sp_prm_lib.experiments.comparison.collected``) for the profile named
in ``book/executed/profile.json`` (written by ``scripts/run_notebooks.py``),
the gold lab's opening page, the execution, recipe-study, budget-study and
performance pages (the budget study's figures beside its page), and the run
times ``book/teaching.md`` includes (``executed/teaching/``).
Skips the build when its inputs (configuration, pages, executed notebooks,
the generated pages, vendored JavaScript) are unchanged since the last
successful build.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
STAMP = ROOT / "_build" / ".inputs-sha256"
EXECUTED = ROOT / "book" / "executed"

TOC = ROOT / "_toc.yml"


# --- the generated pages (rendered by sp_prm_lib.report) --------------------
def results_page(executed: Path = EXECUTED) -> str:
    """The Markdown of the results overview (``sp_prm_lib.report.results_page``)."""
    from sp_prm_lib.report.results_page import results_markdown

    return results_markdown(executed, TOC)


def _write(out: Path, text: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    return out


def _write_bytes(out: Path, data: bytes) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file() or out.read_bytes() != data:
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
    return out


def write_budget_page(executed: Path, records: list[dict]) -> Path:
    """The budget study's page and its figures (``sp_prm_lib.report.budget_page``); figures of
    profiles no longer in ``results/budget_study/`` are removed."""
    from sp_prm_lib.report.budget_page import budget_figures, budget_study_markdown

    figures = budget_figures(records)
    for old in executed.glob("budget_study_*.png"):
        if old.name not in figures:
            old.unlink()
    for name, data in figures.items():
        _write_bytes(executed / name, data)
    return _write(executed / "budget_study.md", budget_study_markdown(records))


def write_results_page(executed: Path = EXECUTED) -> Path:
    """Write ``executed/results.md``, the lab's opening page, the execution page, the recipe
    study's page from ``results/recipe_study/``, the budget study's page and figures from
    ``results/budget_study/``, the window fix's page from ``results/window/`` and the performance
    page from ``bench/results/`` (atomically; untouched when unchanged)."""
    from sp_prm_lib.report import budget_page
    from sp_prm_lib.report.book_runs import read_tracks
    from sp_prm_lib.report.execution_page import execution_markdown
    from sp_prm_lib.report.performance import performance_markdown
    from sp_prm_lib.report.recipe_page import load_records, recipe_study_markdown
    from sp_prm_lib.report.results_page import lab_index_markdown
    from sp_prm_lib.report.teaching_times import load_reference, teaching_snippets
    from sp_prm_lib.report.window_page import window_markdown

    _write(executed / "lab" / "index.md", lab_index_markdown(executed))
    _write(executed / "recipe_study.md", recipe_study_markdown(load_records(ROOT / "results" / "recipe_study")))
    write_budget_page(executed, budget_page.load_records(ROOT / "results" / "budget_study"))
    _write(executed / "window_fix.md", window_markdown(load_records(ROOT / "results" / "window")))
    run_times = ROOT / "results" / "run_times" / "reference.json"
    _write(executed / "execution.md", execution_markdown(executed, TOC, load_reference(run_times)))
    _write(executed / "performance.md", performance_markdown(ROOT / "bench" / "results"))
    for name, text in teaching_snippets(read_tracks(executed), run_times).items():
        _write(executed / "teaching" / name, text)  # included by book/teaching.md
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
    from sitecheck.static import check_site  # scripts/sitecheck, beside this script

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
