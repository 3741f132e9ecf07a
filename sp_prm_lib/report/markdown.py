"""Markdown text the book's generated pages share: one table-cell escaper for every page."""

from __future__ import annotations

import re

# "<" that could open raw HTML, a comment or an autolink: not before a space, nor in "<= "
_HTML_OPEN = re.compile(r"<(?!\s|=\s)")


def cell(value, empty: str = "") -> str:
    """``value`` as one Markdown table cell: one line (whitespace runs become one space), no
    column break (``|``), no stray math (``$``) or HTML (``<tag``); ``empty`` when nothing is left."""
    text = " ".join(str(value if value is not None else "").split())
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("$", "\\$")
    return _HTML_OPEN.sub(r"\\<", text) or empty
