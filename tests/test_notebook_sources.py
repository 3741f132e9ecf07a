"""The committed notebooks are built from notebooks/src by scripts/make_notebooks.py."""

import subprocess
import sys
from pathlib import Path

import pytest

from make_notebooks import CODE_WIDTH, SOLUTION_WIDTH, long_code_lines, parse

ROOT = Path(__file__).resolve().parent.parent


def test_committed_notebooks_match_their_sources():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_notebooks.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_percent_format_cells_and_tags():
    nb = parse('# %% [markdown]\n# # Title\n#\n# text\n\n# %% tags=["parameters"]\nprofile = "tiny"\n\n# %%\nx = 1\n')
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[0].source == "# Title\n\ntext"
    assert nb.cells[1].metadata["tags"] == ["parameters"]
    assert nb.cells[2].source == "x = 1"


@pytest.mark.parametrize(
    "text, message",
    [
        ("x = 1\n# %%\n", "before the first"),
        ("# %% [markdown]\nnot a comment\n", "must start with '#'"),
    ],
)
def test_bad_sources_name_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text, "nb.py")


def test_long_code_lines_are_found_in_code_cells_only():
    long = "y = " + "1 + " * 30 + "1"
    assert len(long) > CODE_WIDTH
    nb = parse(f"# %% [markdown]\n# {'word ' * 40}\n\n# %%\nx = 1\n{long}\n\n# %%\n{long[:CODE_WIDTH]}\n")
    assert long_code_lines(nb) == ["cell 2 line 2"]


def test_long_lines_of_a_solution_are_found_at_the_narrower_width():
    fits, wide = "x = " + "1" * (SOLUTION_WIDTH - 4), "x = " + "1" * (SOLUTION_WIDTH - 3)
    body = f"::::{{solution}} ex-a\n```python\n{fits}\n{wide}\n```\n::::"
    nb = parse("# %% [markdown]\n" + "\n".join("# " + line for line in body.splitlines()) + "\n")
    assert long_code_lines(nb) == ["cell 1 solution of ex-a line 2"]
