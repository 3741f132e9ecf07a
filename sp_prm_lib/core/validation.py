"""Argument checks shared by metrics and judges."""

from __future__ import annotations

from collections.abc import Sequence

from sp_prm_lib.core.errors import ConfigError


def parallel_lists(action: str, *, strings: bool = False, **named: Sequence) -> int:
    """Common length of parallel lists (prompts, responses, ...); one-line ConfigError
    when the first is empty, the lengths differ, or (``strings``) an entry is not a str."""
    lengths = {name: len(values) for name, values in named.items()}
    first = next(iter(named))
    if lengths[first] == 0:
        raise ConfigError(f"no generations to {action}: {first} is empty")
    for name, n in lengths.items():
        if n != lengths[first]:
            raise ConfigError(f"{lengths[first]} {first} but {n} {name}: the lists must have one entry per item")
    if strings:
        for name, values in named.items():
            for i, value in enumerate(values):
                if not isinstance(value, str):
                    raise ConfigError(f"{name}[{i}] is {type(value).__name__}, not a string")
    return lengths[first]
