"""Build the numbered notebooks from their plain-text sources (``notebooks/src/*.py``).

A source is a Python file in the "percent" format: cells start at a line
``# %%`` (code) or ``# %% [markdown]`` (markdown, every line commented with
``# ``). Tags go in brackets after ``tags=``: ``# %% tags=["parameters"]``.
The committed ``.ipynb`` files carry no outputs; ``--check`` fails when one
differs from its source or when a code line is longer than ``CODE_WIDTH``
characters, which the book would show cut off (CI runs it through the tests).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
#: the longest code line the book shows without a scroll bar (ruff formats notebooks/src to it)
CODE_WIDTH = 88
#: the same for the code of an exercise's solution, shown indented in its dropdown box
SOLUTION_WIDTH = 72
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str, name: str = "<source>") -> nbformat.NotebookNode:
    """A notebook from percent-format text."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    cell = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            cell = {"md": bool(header["md"]), "lines": [], "tags": json.loads(header["tags"]) if header["tags"] else []}
            nb.cells.append(cell)
            continue
        if cell is None:
            if line.strip():
                raise ValueError(f"{name}:{number}: text before the first '# %%' cell marker")
            continue
        if cell["md"] and line.strip():
            if not line.startswith("#"):
                raise ValueError(f"{name}:{number}: a markdown cell line must start with '#'")
            line = line[2:] if line.startswith("# ") else line[1:]
        elif cell["md"]:
            line = ""
        cell["lines"].append(line)
    cells = []
    for c in nb.cells:
        source = "\n".join(c["lines"]).strip("\n")
        made = nbformat.v4.new_markdown_cell(source) if c["md"] else nbformat.v4.new_code_cell(source)
        made.pop("id", None)
        if c["tags"]:
            made.metadata["tags"] = c["tags"]
        cells.append(made)
    nb.cells = cells
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def long_code_lines(nb: nbformat.NotebookNode) -> list[str]:
    """Where a code line is too long for the book: "cell C line L" for a code cell's line over
    ``CODE_WIDTH``, "cell C solution of LABEL line L" for a solution's over ``SOLUTION_WIDTH``."""
    from sp_prm_lib.report.exercises import parse_exercises

    found = []
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "code":
            found += [
                f"cell {i} line {j}" for j, line in enumerate(cell.source.splitlines(), 1) if len(line) > CODE_WIDTH
            ]
            continue
        for solution in parse_exercises(cell.source, f"cell {i}").solutions:
            found += [
                f"cell {i} solution of {solution.label} line {j}"
                for j, line in enumerate(solution.code.splitlines(), 1)
                if len(line) > SOLUTION_WIDTH
            ]
    return found


def render(source: Path) -> str:
    nb = parse(source.read_text(encoding="utf-8"), str(source.relative_to(ROOT)))
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if a notebook differs from its source")
    args = ap.parse_args(argv)
    stale, wide = [], []
    for source in sorted(SRC.glob("[0-9][0-9]_*.py")):
        target = OUT / f"{source.stem}.ipynb"
        text = render(source)
        wide += [f"{source.stem} {where}" for where in long_code_lines(nbformat.reads(text, 4))]
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(target.name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    orphans = sorted({p.stem for p in OUT.glob("[0-9][0-9]_*.ipynb")} - {p.stem for p in SRC.glob("*.py")})
    if orphans:
        print(f"error: notebooks without a source in notebooks/src: {', '.join(orphans)}", file=sys.stderr)
        return 1
    if wide:
        print(
            f"error: code lines over {CODE_WIDTH} characters ({SOLUTION_WIDTH} in a solution): {'; '.join(wide)}",
            file=sys.stderr,
        )
        return 1
    if stale:
        print(
            f"error: out of date with notebooks/src (run python scripts/make_notebooks.py): {', '.join(stale)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
