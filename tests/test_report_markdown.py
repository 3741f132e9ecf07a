"""The one Markdown cell escaper of the generated pages (``report/markdown.py``)."""

from __future__ import annotations

import pytest

from sp_prm_lib.report.markdown import cell


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a | b", "a \\| b"),  # no column break
        ("costs $5 and $6", "costs \\$5 and \\$6"),  # no inline math
        ("<script>x</script>", "\\<script>x\\</script>"),  # no raw HTML
        ("<!-- c -->", "\\<!-- c -->"),
        ("<https://example.org>", "\\<https://example.org>"),  # no autolink
        ("time <= 3x greedy", "time <= 3x greedy"),  # a comparison stays readable
        ("a < b", "a < b"),
        ("back\\slash", "back\\\\slash"),
        ("line one\nline  two\t end ", "line one line two end"),  # one line
        (1.5, "1.5"),
    ],
)
def test_cell_escapes_what_would_break_a_table_row(value, expected):
    assert cell(value) == expected


def test_empty_cells():
    assert cell(None) == "" and cell("  \n ") == ""
    assert cell(None, empty="-") == "-" and cell("", empty="-") == "-"
    assert cell(0, empty="-") == "0"
