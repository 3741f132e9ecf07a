"""The book's page on the SP-PRM training-budget study, generated from ``results/budget_study/*.json``.

``budget_study_markdown`` writes the page; ``budget_figures`` draws its figures
(one PNG per profile, the pooled effect by budget with SP-PRM and SC side by
side), which ``scripts/build_book.py`` writes next to the page.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from sp_prm_lib.report.markdown import cell

POOLED, FULL = "pooled", "full"
TITLE = "Does SP-PRM training move the PRM? Fig. 5 by training budget"


def load_records(folder: Path) -> list[dict]:
    """The study records in ``folder`` (one JSON file per profile), in file-name order."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(folder).glob("*.json"))]


def figure_name(record: dict) -> str:
    """The file name of a record's figure, beside the page."""
    return f"budget_study_{record['profile']}.png"


def _finite(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _est(row: dict | None) -> str:
    if row is None or not _finite(row.get("mean")):
        return ""
    if not (_finite(row.get("ci_low")) and _finite(row.get("ci_high"))):
        return f"{row['mean']:+.3f}"
    return f"{row['mean']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return cell(f"{value:g}" if isinstance(value, float) else value)


def _in_order(values) -> list:
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def _rows(record: dict, t: str) -> dict[tuple[str, str], dict]:
    """(budget, variant) -> its row at part ``t`` (a prefix length as text, ``pooled`` or ``full``)."""
    return {(r["budget"], r["variant"]): r for r in record["rows"] if str(r["t"]) == t}


def _names(items: list[str]) -> str:
    quoted = [f"*{x}*" for x in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def variant_label(variant: str) -> str:
    """How the page names a PRM variant: SP-PRM, SC, else the variant's name."""
    return {"sp-prm": "SP-PRM", "sc": "SC"}.get(variant, variant)


def _variant_sentence(record: dict, variant: str) -> str:
    """What the pooled rows of one variant say: its largest effect, which budgets' intervals
    exclude 0 (either side), and how they stand to the paper's effect."""
    pooled = [r for (_, v), r in _rows(record, POOLED).items() if v == variant and _finite(r.get("mean"))]
    label = variant_label(variant)
    if not pooled:
        return f"{label}: no budget was scored."
    best = max(pooled, key=lambda r: r["mean"])
    above = [r["budget"] for r in pooled if _finite(r.get("ci_low")) and r["ci_low"] > 0]
    below = [r["budget"] for r in pooled if _finite(r.get("ci_high")) and r["ci_high"] < 0]
    text = f"{label}'s largest pooled effect is {_est(best)} (*{best['budget']}*). "
    n = len(pooled)
    if above:
        text += f"Its pooled interval lies above 0 at {len(above)} of {n} budgets ({_names(above)})"
        text += f" and below 0 at {len(below)} ({_names(below)})" if below else ""
        text += ": training moves held-out prefix agreement there."
    elif below:
        text += (
            f"Its pooled interval lies below 0 at {len(below)} of {n} budgets ({_names(below)}) and above 0 at none: "
            "training makes held-out prefix agreement worse there."
        )
    else:
        text += (
            f"At none of the {n} budgets does its pooled interval exclude 0: "
            "no budget tried moves held-out prefix agreement measurably."
        )
    paper = record.get("paper_effect")
    if _finite(paper):
        reach = [r["budget"] for r in pooled if r["mean"] >= paper]
        short = [r["budget"] for r in pooled if _finite(r.get("ci_high")) and r["ci_high"] < paper]
        if reach:
            text += f" Its mean reaches the paper's effect, {paper:+.3f}, at {_names(reach)}."
        elif len(short) == n:
            text += (
                f" Every budget's interval lies below the paper's effect, {paper:+.3f}: "
                "the effect here is smaller than the paper's."
            )
        else:
            text += f" No budget's mean reaches the paper's effect, {paper:+.3f}."
    return text


def answer(record: dict) -> str:
    """The page's answer for one record, written from its numbers."""
    variants = _in_order(r["variant"] for r in record["rows"])
    parts = [_variant_sentence(record, v) for v in variants]
    budgets = len(_in_order(r["budget"] for r in record["rows"]))
    if budgets > 1:
        chance = 1 - 0.975**budgets
        parts.append(
            f"Read single budgets with the whole curve: with no effect at all, each 95% interval lies above 0 "
            f"with probability 0.025, so at least one of {budgets} budgets does so {chance:.0%} of the time "
            "for each variant."
        )
    mde = record.get("pooled_mde")
    if _finite(mde):
        parts.append(
            f"On these {record.get('pairs', '?')} pairs the pooled effect that 80% power detects is about {mde:.3f} "
            "(the largest over the budgets and variants)."
        )
    return " ".join(parts)


def _table(record: dict) -> list[str]:
    ts = [str(t) for t in record.get("prefix_tokens") or []]
    shown_t = _in_order([ts[0], ts[-1]]) if ts else []
    head = ["budget", "variant", "pairs", "epochs", "lr", "trained layers", "rows kept", "steps", "train s"]
    head += ["pooled effect [95% CI]", *(f"t={t}" for t in shown_t), "full responses", "verdict (Fig. 5 test)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    parts = {t: _rows(record, t) for t in [POOLED, FULL, *shown_t]}
    for key, row in parts[POOLED].items():
        seconds = row.get("train seconds")
        cells = [
            _cell(row["budget"]),
            _cell(row["variant"]),
            *(_cell(row.get(k)) for k in ("pairs", "epochs", "lr", "trained layers", "rows kept", "steps")),
            _cell(None if seconds is None else round(seconds)),
            _est(row),
            *(_est(parts[t].get(key)) for t in shown_t),
            _est(parts[FULL].get(key)),
            _cell(row.get("verdict")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def budget_study_markdown(records: list[dict]) -> str:
    """The page: what the study asks, then per profile its provenance, the answer, the figure and the table."""
    lines = [
        f"# {TITLE}",
        "",
        "Fig. 5 of the paper says that SP-PRM training raises the agreement of a reward model's prefix "
        "scores with the label (AR<sub>RM-SC</sub>) at every prefix length. Notebook 06 tests that claim at "
        "the profile's own training budget. This page asks whether a larger budget moves the PRM: each row "
        "trains SP-PRM and its ablation SC (score consistency only, no reference RM) from the same ORM with "
        "the same settings, changing only the PRM's training (pairs, passes, learning rate, trained layers), "
        "and scores both on the same held-out pairs. The effect is Fig. 5's: per pair and prefix length, the "
        "PRM's agreement with the label minus the ORM's; *pooled* is its per-pair mean over the prefix lengths. "
        "Intervals are the 95% intervals of the claim's own test (`fig5` in `paper_values.yaml`), and the "
        "verdict is that test over the prefix lengths, as notebook 06 files it. The numbers come from "
        "`results/budget_study/`, written by the command shown (`make budget-study`); the first budget of "
        "each table is the profile's own.",
        "",
    ]
    if not records:
        return "\n".join(lines + ["No study results are in `results/budget_study/` yet.", ""])
    for record in records:
        load = ""
        if record.get("load average at start") and record.get("load average at end"):
            start, end = record["load average at start"], record["load average at end"]
            load = f" Load average (1, 5, 15 min) {', '.join(map(str, start))} at the start, "
            load += f"{', '.join(map(str, end))} at the end"
            load += f"; {record['wall seconds']:.0f} s in all." if _finite(record.get("wall seconds")) else "."
        lines += [
            f"## Profile `{record['profile']}` ({record.get('labels', '?')} labels)",
            "",
            f"Run on {record['date']}, {record['machine']}, commit `{record['commit']}`: `{record['command']}`.{load}",
            "",
            answer(record),
            "",
            f"![Fig. 5's pooled effect by training budget, profile {record['profile']}]({figure_name(record)})",
            "",
            *_table(record),
            "",
        ]
    lines += [
        "Rows kept: the D_partial prefix pairs trained on (SP-PRM's reference filter and identical prefixes "
        "leave some out, so SC trains on more rows at the same budget). The training seconds are from the run "
        "that trained each PRM.",
        "",
    ]
    return "\n".join(lines)


def budget_figure(record: dict) -> bytes:
    """A PNG: the pooled effect (with its 95% interval) per budget, the variants side by side,
    with 0 and the paper's effect marked."""
    from matplotlib.figure import Figure

    pooled = _rows(record, POOLED)
    budgets = _in_order(b for b, _ in pooled)
    variants = _in_order(v for _, v in pooled)
    fig = Figure(figsize=(max(5.0, 1.1 * len(budgets) + 2), 3.8))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(variants))
    for i, variant in enumerate(variants):
        xs, ys, lo, hi = [], [], [], []
        for j, budget in enumerate(budgets):
            row = pooled.get((budget, variant))
            if row is None or not _finite(row.get("mean")):
                continue
            xs.append(j + (i - (len(variants) - 1) / 2) * width)
            ys.append(row["mean"])
            lo.append(row["mean"] - row["ci_low"] if _finite(row.get("ci_low")) else 0.0)
            hi.append(row["ci_high"] - row["mean"] if _finite(row.get("ci_high")) else 0.0)
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label=variant_label(variant))
    ax.axhline(0.0, color="0.3", lw=0.8)
    paper = record.get("paper_effect")
    if _finite(paper):
        ax.axhline(paper, color="0.3", lw=0.8, ls="--", label=f"paper's effect ({paper:+.2f})")
    ax.set_xticks(range(len(budgets)))
    ax.set_xticklabels(budgets, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("PRM minus ORM AR_RM-SC, pooled over t")
    ax.set_title(f"Fig. 5's effect by training budget ({record['profile']})", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def budget_figures(records: list[dict]) -> dict[str, bytes]:
    """File name -> PNG bytes for every record's figure."""
    return {figure_name(r): budget_figure(r) for r in records}
