"""The book's page on the reward-model window fix (issue 23): observations 1-4 and Fig. 5 scored
with the same reward models under the old and the new window, from ``results/window/*.json``
(written by ``scripts/window_before_after.py``)."""

from __future__ import annotations

from sp_prm_lib.report.markdown import cell

#: the default run's two tracks first, then the CI-sized profiles (16 pairs: wide intervals)
ORDER = ("tiny", "lab", "smoke", "smoke-lab")

QUANTITIES = {
    "ar_rm_sc": "AR_RM-SC (obs. 1)",
    "ar_rm_own": "AR_RM-SC, pairs ordered by the RM's own full scores",
    "ar_rm_hp": "AR_RM-HP (obs. 2)",
    "ar_sc_hp": "AR_SC-HP (obs. 3; the judge alone)",
    "reward_gap": "reward gap (obs. 4)",
}


def _interval(v: list[float]) -> str:
    return f"{v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]"


def _quantity(name: str) -> str:
    if name in QUANTITIES:
        return QUANTITIES[name]
    if name.startswith("ar_rm_sc ") and " - " in name:  # "ar_rm_sc sp-prm - orm": Fig. 5 / obs. 4 contrasts
        return f"AR_RM-SC, {name.split(' ', 1)[1]}, pooled over t"
    return name


def record_command(record: dict) -> str:
    """The command that writes the record."""
    command = f"python scripts/window_before_after.py --profile {record['profile']}"
    return command + (" --models current" if record.get("models") == "current" else "")


def record_markdown(record: dict, level: str = "###") -> str:
    """One profile's before/after: the share of pairs whose sides got different contexts under the
    old window, then every quantity at every t, old, new and the paired change, with 95% intervals."""
    models = (
        "the profile's reward models of today's code (trained under the new window)"
        if record.get("models") == "current"
        else "reward models trained under the old window (cache entries of an earlier run)"
    )
    lines = [
        f"{level} {record['profile']}: {record['pairs']} pairs, judge {record['judge']}, "
        f"window {record['max_length']} tokens, response budget {record['response_budget']}",
        "",
        f"Scored: {models}. Command: `{record_command(record)}`"
        + (f" ({record['seconds']:.0f} s)." if isinstance(record.get("seconds"), (int, float)) else "."),
        "",
    ]
    for role, c in record["old_window_contexts"].items():
        lines.append(
            f"- old window, {role}: the two sides of {c['different_contexts']:.0%} of {c['pairs']} pairs got "
            f"different contexts (by {c['mean_abs_token_difference']:.1f} tokens on average where they differ)"
        )
    lines += [
        "",
        "| quantity | rm | t | old window | new window | change (new - old) | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        moved = r["change"][1] > 0 or r["change"][2] < 0
        change = _interval(r["change"])
        cells = [
            cell(_quantity(r["quantity"])),
            cell(r["rm"]),
            cell(r["t"]),
            _interval(r["old"]),
            _interval(r["new"]),
            f"**{change}**" if moved else change,
            str(r["n"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def window_markdown(records: list[dict]) -> str:
    """The page: the two rules, then each profile's record."""
    lines = [
        "# The reward-model window: before and after the fix",
        "",
        "A reward model reads at most `reward.max_length` tokens, so a long prompt must be cut. The old "
        "rule cut the prompt's context from the left by `max_length - len(closing) - len(full response)`: "
        "a prefix's context then depended on how long the *rest* of its response was, and the two sides of "
        "a pair, or a prefix and its full response, saw different contexts. Identical prefix texts could get "
        "different scores. The new rule (`sp_prm_lib/scoring/inputs.py`) cuts the context by the prompt "
        "alone, to leave a fixed response budget, so a prefix's score depends only on the prompt and the "
        "prefix; a property test checks that identical prefixes score identically whatever follows them.",
        "",
        "Each table scores the same reward models on the profile's analysis pairs under both rules. "
        "Intervals are 95% bootstrap intervals over pairs; the change is paired (the same pairs, new minus "
        "old), in bold where its interval excludes 0. The judge is scored one way in both columns where it "
        "is the lab's gold (so AR_SC-HP cannot move there); the HH-RLHF track's rm-proxy judge is its "
        "reference reward model, scored under each rule like the others.",
        "",
    ]
    if not records:
        return "\n".join(lines + ["No before/after results are in `results/window/` yet.", ""])
    for record in sorted(records, key=lambda r: ORDER.index(r["profile"]) if r["profile"] in ORDER else len(ORDER)):
        lines += [record_markdown(record, "##"), ""]
    return "\n".join(lines)
