"""Progress of long steps on the terminal, never in a notebook's stored outputs.

A notebook run by papermill (or opened in Jupyter) runs in an IPython kernel,
where ``sys.stderr`` is the cell's captured output and, since ipykernel 6,
even the process's own file descriptor 2 (``sys.__stderr__``) is piped into
the cell's output (and echoed to the terminal). ``terminal_progress`` writes
its tqdm bar (what runs, how far, time left) to the terminal alone: outside a
kernel, ``sys.__stderr__``; inside one, the copy of the original descriptor 2
that the kernel keeps for its echo, else ``sys.__stderr__`` when the kernel
captures nothing. So ``make reproduce`` shows the bars and the executed
notebooks (and the book) carry none, and two runs of a notebook do not differ
by a bar's timings. ``SP_PRM_PROGRESS=0`` turns them off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

_TERMINALS: dict[int, object] = {}  # kernel's saved descriptor -> our stream on a duplicate of it


def terminal_stream():
    """The stream that reaches the terminal and no notebook output, or None when there is none."""
    saved = getattr(sys.stderr, "_original_stdstream_copy", None)  # ipykernel >= 6 capturing fd 2
    if isinstance(saved, int):
        if saved not in _TERMINALS:
            try:
                _TERMINALS[saved] = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
            except OSError:
                return None
        return _TERMINALS[saved]
    return sys.__stderr__  # outside a kernel, or a kernel that leaves the descriptors alone


def progress_enabled() -> bool:
    """Whether progress bars are shown (``SP_PRM_PROGRESS`` unset or not ``0``) and there is a terminal."""
    return os.environ.get("SP_PRM_PROGRESS", "1") != "0" and terminal_stream() is not None


def terminal_progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    leave: bool = True,
    quiet: bool = False,
):
    """A tqdm bar on the terminal (the process's original standard error); a silent one when disabled
    or ``quiet`` (a short step not worth a bar). ``leave=False`` erases it when done."""
    from tqdm.std import tqdm  # the plain bar: tqdm.auto would pick a widget inside a kernel

    enabled = not quiet and progress_enabled()
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        file=terminal_stream() if enabled else None,
        disable=not enabled,
        mininterval=2.0,
        dynamic_ncols=False,
        ncols=100,
        leave=leave,
    )
