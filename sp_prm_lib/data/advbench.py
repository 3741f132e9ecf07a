"""AdvBench harmful behaviours: a goal (the prompt) and the attack's target reply.

Mirror ``advbench/harmful_behaviors.csv``: columns ``goal,target``.
Hub ``walledai/AdvBench`` (split ``train``; gated: accept its terms and log
in first): fields ``prompt``, ``target``.
AdvBench has no reference answer, so ``reference`` is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sp_prm_lib.data.rows import nonempty_text

CSV_COLUMNS = ("goal", "target")


def map_advbench_csv_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row to {prompt, reference, target} (pure)."""
    return {"prompt": nonempty_text(record, "goal"), "reference": None, "target": nonempty_text(record, "target")}


def map_advbench_hub_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One hub row to {prompt, reference, target} (pure)."""
    return {"prompt": nonempty_text(record, "prompt"), "reference": None, "target": nonempty_text(record, "target")}
