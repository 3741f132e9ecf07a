"""Sphinx extension: drop repeated inline <script> entries from each page.

sphinx-thebe and sphinx-togglebutton register some inline scripts twice (once with
filename ``None``, once with ``""``), so each page ran them twice and the browser test
saw the second run fail. Entries are compared by filename (``None`` and ``""`` alike)
and attributes, inline body included; the first of each is kept, order is kept.
"""

from __future__ import annotations


def _key(script) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def _dedup(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = _key(script)
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedup, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
