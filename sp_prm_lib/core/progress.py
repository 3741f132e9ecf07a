"""Progress of long steps on the terminal, never in a notebook's stored outputs.

A notebook run by papermill inherits the terminal as its kernel's standard
error (``sys.__stderr__``), while ``sys.stderr`` is the cell's captured
output. ``terminal_progress`` writes a tqdm bar (what runs, how far, time
left) to the former, so ``make reproduce`` shows it and the book does not.
``SP_PRM_PROGRESS=0`` turns it off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable


def progress_enabled() -> bool:
    """Whether progress bars are shown (``SP_PRM_PROGRESS`` unset or not ``0``) and there is a stream."""
    return os.environ.get("SP_PRM_PROGRESS", "1") != "0" and sys.__stderr__ is not None


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

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        file=sys.__stderr__,
        disable=quiet or not progress_enabled(),
        mininterval=2.0,
        dynamic_ncols=False,
        ncols=100,
        leave=leave,
    )
