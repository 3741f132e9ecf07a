"""Reading the verdict out of a judge's free-text reply.

Accepted forms, in order of preference: a JSON object with a "Verdict" key
(any case; value an integer, an integral float or a numeric string), then a
loose ``verdict: N`` / ``"Verdict" : N`` mention. The last occurrence wins
(replies tend to end with their decision). A value outside ``allowed`` or no
verdict at all gives None: the caller counts it as unparseable, never as a win.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection

_LOOSE = re.compile(r"""["']?\bverdict\b["']?\s*[:=]\s*["']?\s*(-?\d+(?:\.0+)?)\b""", re.IGNORECASE)


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(?:\.0+)?\s*", value):
        return int(float(value))
    return None


def _json_verdicts(text: str) -> list[int | None]:
    decoder = json.JSONDecoder()
    found = []
    for start in [m.start() for m in re.finditer(r"\{", text)]:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(obj, dict):
            for key, value in obj.items():
                if isinstance(key, str) and key.strip().lower() == "verdict":
                    found.append(_as_int(value))
    return found


def parse_verdict(text: str | None, allowed: Collection[int]) -> int | None:
    """The verdict in ``text`` if it is one of ``allowed``, else None."""
    if not text:
        return None
    found = _json_verdicts(text)
    if not found:
        found = [int(float(m.group(1))) for m in _LOOSE.finditer(text)]
    if not found or found[-1] is None:
        return None
    return found[-1] if found[-1] in allowed else None
