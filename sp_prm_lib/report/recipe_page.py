"""The book's page on the reward-model recipe study, generated from ``results/recipe_study/*.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from sp_prm_lib.report.markdown import cell

LENGTH_RULE = "longer answer wins"
TRACK_TITLES = {"human": "HH-RLHF, human labels", "gold": "gold lab, labels from the gold reward"}


def load_records(folder: Path) -> list[dict]:
    """The study records in ``folder`` (one JSON file per profile), in file-name order."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(folder).glob("*.json"))]


def _interval(row: dict, key: str, low: str, high: str, signed: bool = False) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f"{fmt.format(value)} [{fmt.format(row[low])}, {fmt.format(row[high])}]"


def _cell(value) -> str:
    """A table value: blank when missing, floats in their shortest form, text escaped (``markdown.cell``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return cell(f"{value:g}" if isinstance(value, float) else value)


def _best_sentence(record: dict) -> str:
    recipes = [r for r in record["rows"] if r["recipe"] != LENGTH_RULE]
    rule = next((r for r in record["rows"] if r["recipe"] == LENGTH_RULE), None)
    if not recipes:
        return "No recipe was trained."
    best = max(recipes, key=lambda r: r["accuracy"])
    if best["margin_low"] > 0:
        versus = "above the length rule (the interval of the margin excludes 0)"
    elif best["margin_high"] < 0:
        versus = "below the length rule (the interval of the margin excludes 0)"
    else:
        versus = "not distinguishable from the length rule (the interval of the margin contains 0)"
    accuracy = _interval(best, "accuracy", "accuracy_low", "accuracy_high")
    text = (
        f"The best recipe here, *{best['recipe']}*, reaches {accuracy} "
        f"on {best['eval_pairs']} held-out pairs, {versus}: margin "
        f"{_interval(best, 'margin over length rule', 'margin_low', 'margin_high', signed=True)}"
    )
    if rule is not None:
        text += f"; the length rule alone scores {rule['accuracy']:.3f}"
    return text + "."


def recipe_study_markdown(records: list[dict]) -> str:
    """The page: what the study asks, then per profile its provenance, the best recipe and the table."""
    lines = [
        "# How good can a small reward model get?",
        "",
        "The reward models of this book are trained here, on a CPU, from the lower layers of SmolLM2-135M. "
        "This page asks how much their recipe matters: each row trains the profile's outcome reward model "
        "with one change (layers kept, layers trained, pairs, passes, learning rates) and scores it on the "
        "same held-out pairs, next to the rule *the longer answer wins*. Intervals are 95% bootstrap "
        "intervals over the pairs, paired across rows; the margin is the recipe's accuracy minus the "
        "length rule's on the same pairs. The numbers come from `results/recipe_study/`, written by the "
        "command shown (`make recipe-study` runs both); the notebooks use the profile's own recipe "
        "(the first row of each table).",
        "",
    ]
    if not records:
        return "\n".join(lines + ["No study results are in `results/recipe_study/` yet.", ""])
    for record in records:
        title = TRACK_TITLES.get(record.get("labels"), record.get("labels", "?"))
        lines += [
            f"## Profile `{record['profile']}` ({title})",
            "",
            f"Run on {record['date']}, {record['machine']}, commit `{record['commit']}`: `{record['command']}`.",
            "",
            *([record["note"], ""] if record.get("note") else []),
            _best_sentence(record),
            "",
            "| recipe | layers | trained layers | pairs | epochs | lr | head lr | train s | final loss | "
            "accuracy [95% CI] | margin over length rule [95% CI] |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in record["rows"]:
            loss = r.get("final loss")
            cells = [
                _cell(r["recipe"]),
                *(_cell(r.get(k)) for k in ("layers", "trained layers", "pairs", "epochs", "lr", "head lr")),
                _cell(None if r.get("train seconds") is None else round(r["train seconds"])),
                "" if loss is None else f"{loss:.3f}",
                _interval(r, "accuracy", "accuracy_low", "accuracy_high"),
                _interval(r, "margin over length rule", "margin_low", "margin_high", signed=True),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "A final loss near ln 2 = 0.693 means the model barely separates the pairs it trains on. "
        "The training seconds are from the run that trained each model (bfloat16 mixed precision where "
        "the recipe says so).",
        "",
    ]
    return "\n".join(lines)
