"""Exercises at the end of the chapter notebooks: the blocks of their Markdown.

A chapter's exercises live in one Markdown cell tagged ``exercises``, written
with the ``sphinx-exercise`` directives (colon fences)::

    ::::{exercise}
    :label: ex-02-window
    The question.
    ::::

    ::::{solution} ex-02-window
    :class: dropdown

    ```python
    code that answers it, run after the chapter's own cells
    ```
    ::::

The book shows each solution behind a toggle; the tests run every solution's
Python blocks at the end of its notebook in the smoke profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXERCISES_TAG = "exercises"

_OPEN = re.compile(r"^(?P<fence>:{3,})\{(?P<kind>exercise|solution)\}\s*(?P<arg>\S*)\s*$")
_LABEL = re.compile(r"^:label:\s*(?P<label>\S+)\s*$")
_CODE_OPEN = re.compile(r"^```\s*(?:\{code-cell\}\s*)?(?P<lang>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Solution:
    """One ``{solution}`` block: the exercise it answers and its Python code (blocks joined)."""

    label: str
    code: str


@dataclass(frozen=True)
class Exercises:
    """The exercise labels and the solutions found in one Markdown text."""

    labels: tuple[str, ...]
    solutions: tuple[Solution, ...]


def parse_exercises(markdown: str, where: str = "<markdown>") -> Exercises:
    """The ``{exercise}`` labels and ``{solution}`` blocks of ``markdown``.

    Raises ``ValueError`` naming ``where`` and the line for an unclosed block,
    an exercise without a label or a solution that names no exercise."""
    labels: list[str] = []
    solutions: list[Solution] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opened = _OPEN.match(lines[i].strip())
        if not opened:
            i += 1
            continue
        start, fence, kind, arg = i + 1, opened["fence"], opened["kind"], opened["arg"]
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{where}:{start}: {{{kind}}} block is not closed by {fence!r}")
        i += 1
        if kind == "exercise":
            label = next((m["label"] for m in map(_LABEL.match, (b.strip() for b in body)) if m), None)
            if label is None:
                raise ValueError(f"{where}:{start}: {{exercise}} without a :label: (its solution names it)")
            labels.append(label)
        else:
            if not arg:
                raise ValueError(f"{where}:{start}: {{solution}} names no exercise label")
            solutions.append(Solution(arg, _python_blocks(body)))
    return Exercises(tuple(labels), tuple(solutions))


def _python_blocks(body: list[str]) -> str:
    code: list[str] = []
    inside = False
    for line in body:
        fence = _CODE_OPEN.match(line.strip())
        if not inside and fence and fence["lang"] in ("python", "python3", "ipython3", "py"):
            inside = True
        elif inside and line.strip() == "```":
            inside = False
            code.append("")
        elif inside:
            code.append(line)
    return "\n".join(code).strip("\n")
