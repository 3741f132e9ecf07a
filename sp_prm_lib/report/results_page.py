"""The book's results overview (``book/executed/results.md``) and the gold lab's opening page.

Built from the verdicts the notebooks filed with ``experiments.comparison.record``
(``build/results/<profile>/<id>.json``: id, ref, claim, verdict, why, evidence,
setting, notebook, profile, tests, n_needed, mde, view_of, estimates, table),
one section per track (``report.book_runs``), narrow enough to read at 1280 px:
a bottom line in words, the counts (views of another claim apart), the claims
grouped by verdict with their reason, a short table of the numbers, and the
evidence claim by claim. Records of an older format (no why, no tests) are
shown with what they have. ``scripts/build_book.py`` writes the pages.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

from sp_prm_lib.report.book_runs import notebook_link, read_tracks
from sp_prm_lib.report.markdown import cell


def _cell(value) -> str:
    """A recorded text as one line of Markdown (a table cell or a heading); "-" when empty."""
    return cell(value, empty="-")


def _model(spec) -> str:
    n = spec.num_layers
    layers = f", lower {n} layer{'' if n == 1 else 's'}" if n else ""
    return f"`{spec.id}` ({spec.source}{layers}, {spec.dtype})"


def _rm(spec) -> str:
    trained = f", trained here on {spec.train.train_pairs} pairs" if spec.train.train_pairs else ", used as released"
    return _model(spec.model) + trained


def _notice(name: str) -> str | None:
    """The profile's ``notice`` as one line of Markdown, or None (no notice, or no such profile)."""
    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.core.errors import ConfigError

    try:
        notice = load_profile(name).notice
    except ConfigError:
        return None
    return _cell(notice) if notice else None


def _profile_paragraph(name: str) -> str:
    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.core.errors import ConfigError

    try:
        p = load_profile(name)
    except ConfigError as exc:
        return f"Profile `{name}` (its file could not be read: {exc})."
    d, r, a = p.data, p.reward, p.analysis
    labels = "the data set's own, human" if d.labels == "human" else f"the gold reward {p.gold.describe()}"
    return (
        f"These results come from the profile `{p.name}`: {p.description.rstrip('.')}. "
        f"Policy {_model(p.policy)}; outcome reward model (ORM) {_rm(r.orm)}; reference reward "
        f"model {_rm(r.reference)}; SP-PRM trained from the ORM on {r.prm.train_pairs} pairs "
        f"({r.prm.truncation.upper()}, K={r.prm.K}, weights `{r.prm.weighting}`); reward models "
        f"read at most {r.max_length} tokens (`{r.convention}` prefix convention). Data: "
        f"{d.train_pairs} training and {d.eval_pairs} held-out {d.eval_set} pairs "
        f"({d.source} source; labels: {labels}), {d.advbench_prompts} AdvBench prompts, {d.gsm8k_questions} GSM8K "
        f"questions. Decoding experiments: {p.decoding.prompts} prompts per task, at most "
        f"{p.decoding.max_new_tokens} new tokens per response ({p.decoding.summary_max_new_tokens} for "
        f"TL;DR); the demo answer of notebook 00 at most {p.generation.max_new_tokens}. "
        f"Agreement rates use {a.pairs} pairs with the `{a.judge}` judge"
        f"{f' ({a.judge_model})' if a.judge_model else ''} as the stand-in for human preference. "
        f"The paper's own settings are in each row's notebook and in `sp_prm_lib/experiments/paper_values.yaml`."
    )


def _number(value) -> float | None:
    """A recorded number, or None when absent, not a number or not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value) -> str:
    """A number of units: ``1,234`` (rounded up), or "-"."""
    n = _number(value)
    return f"{math.ceil(n):,}" if n is not None else "-"


def _rows(table) -> list[dict]:
    """The rows of a frame recorded with ``orient="split"``, as dicts (``[]`` when absent or malformed)."""
    if not isinstance(table, dict) or not isinstance(table.get("data"), list):
        return []
    columns = table.get("columns") or []
    return [dict(zip(columns, row)) for row in table["data"] if isinstance(row, list)]


_INTERVAL = re.compile(r"([+-]?\d*\.?\d+) \[([+-]?\d*\.?\d+), ([+-]?\d*\.?\d+)\]")


def _weakest(rows: list[dict], direction: str) -> dict:
    """Of a claim's deciding parts, the one whose interval lies least on the paper's side of what
    it is tested against (the part that holds the verdict back)."""

    def slack(r: dict) -> float:
        m = _INTERVAL.search(str(r.get("estimate", "")))
        try:
            against = float(str(r.get("tested against", "0")).split()[-1])
        except ValueError:
            against = 0.0
        if not m:
            return float("inf")
        low, high = float(m.group(2)), float(m.group(3))
        return low - against if direction != "lower" else against - high

    return min(rows, key=slack)


def _estimate(entry: dict, test: str = "") -> str:
    """Our estimate of a claim's effect (of its test named ``test``): the row that decides it; for
    a claim about every part, the weakest deciding part ("weakest of k"), since the pooled mean
    does not decide it; old records (no ``role`` column: the pooled row, a ``metric`` per test)
    are read as before."""
    rows = _rows(entry.get("estimates"))
    if test:
        rows = [r for r in rows if r.get("test", r.get("metric")) == test]
    if not rows:
        return ""
    deciding = [r for r in rows if r.get("role") == "decides"]
    if deciding:
        summary = next((t for t in _tests(entry) if t.get("test", "") == test), {})
        chosen = deciding[0] if len(deciding) == 1 else _weakest(deciding, summary.get("direction", "higher"))
        text = str(chosen.get("estimate", ""))
        part = str(chosen.get("part", ""))
        if len(deciding) > 1:
            return f"weakest of {len(deciding)}: {part} {text}"
        return f"{part} {text}" if len(rows) > 1 and part else text
    pooled = [r for r in rows if "pooled" in (r.get("part"), r.get("method"))]
    if not test and len(pooled) > 1 and all("metric" in r for r in pooled):
        return "; ".join(f"{r['metric']} {r.get('estimate', '')}" for r in pooled)
    chosen = pooled[-1] if pooled else rows[-1]
    text = str(chosen.get("estimate", ""))
    return f"pooled {text}" if pooled and len(rows) > 1 else text


def _tests(entry: dict) -> list[dict]:
    """The entry's tests (``[]`` for an old record or a claim decided otherwise)."""
    tests = entry.get("tests")
    return [t for t in tests if isinstance(t, dict)] if isinstance(tests, list) else []


def _paper_effect(test: dict, entry: dict | None = None) -> str:
    """The paper's effect in our units as the test uses it (for a bound, its level(s) from the
    deciding rows of ``entry``; for non-inferiority, the margin), signed in the paper's direction;
    "-" when the paper's effect is not convertible."""
    lower = test.get("direction") == "lower"
    if test.get("kind") == "bound":
        rows = _rows((entry or {}).get("estimates"))
        rows = [r for r in rows if r.get("role") == "decides" and r.get("test", test.get("test")) == test.get("test")]
        levels = list(dict.fromkeys(str(r["tested against"]) for r in rows if r.get("tested against")))
        return f"{'below' if lower else 'above'} {'/'.join(levels)}" if levels else "a bound"
    effect = _number(test.get("paper_effect"))
    if effect is not None:
        return f"{'-' if lower else '+'}{effect:.3g}"
    margin = _number(test.get("margin"))
    if test.get("kind") == "non-inferiority" and margin is not None:
        return f"margin {margin:.3g}"
    return "-"


def _detectable(test: dict) -> str:
    mde = _number(test.get("mde"))
    return "-" if mde is None else f"{mde:.3g} (n={test.get('n', '?')})"


def _ref(entry: dict, test: dict | None = None) -> str:
    name = (test or {}).get("test")
    return _cell(entry.get("ref")) + (f": {_cell(name)}" if name else "")


def _needs(entry: dict) -> str:
    """The text ``(needs n >= N)`` for a claim whose units needed are known, else ""."""
    n = _number(entry.get("n_needed"))
    return f" (needs n >= {_count(n)})" if n is not None else ""


# --- the bottom line ------------------------------------------------------------------------
OWN_CLAIM = re.compile(r"^(Fig\. 5|Table [1-5])\b")  # SP-PRM's own results in the paper
OBSERVATION = re.compile(r"observation", re.IGNORECASE)  # the paper's observations about ORMs (obs. 1-4)


def _kind(entry: dict) -> str:
    """``own`` for SP-PRM's own claims (Fig. 5, Tables 1-5), ``observation`` for the paper's
    observations about outcome reward models, ``other`` for the rest (Theorem 1, Table 9)."""
    ref = str(entry.get("ref", ""))
    if OBSERVATION.search(ref):
        return "observation"
    return "own" if OWN_CLAIM.match(ref) else "other"


def _short(ref) -> str:
    """A ref in a sentence: "observation 2" for "Fig. 2a, observation 2", else the ref up to its
    first comma ("Table 1 (+Ablation)" for "Table 1 (+Ablation), section 5.3.2")."""
    ref = str(ref or "?")
    found = re.search(r"observation \d+", ref, re.IGNORECASE)
    return _cell(found.group(0) if found else ref.split(", ")[0])


def _refs(entries: list[dict]) -> str:
    """``a``, ``a and b``, ``a, b and c``: the entries' short refs in a sentence."""
    names = [_short(e.get("ref")) for e in entries]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def bottom_line(entries: list[dict]) -> str:
    """A track's verdicts in plain words: which of SP-PRM's own claims held, what happened to the
    others, and whether what reproduced is only the paper's observations about ORMs."""
    tested = [e for e in entries if not e.get("view_of")]
    if not tested:
        return "no claim was tested."
    own = [e for e in tested if _kind(e) == "own"]
    words = []
    if own:
        held = [e for e in own if e.get("verdict") == "reproduced"]
        rest = [e for e in own if e.get("verdict") != "reproduced"]
        if not held:
            opening = f"none of SP-PRM's own claims (Fig. 5 and Tables 1-5: {len(own)} tested) held"
        elif not rest:
            opening = f"every one of SP-PRM's own claims held ({_refs(held)})"
        else:
            opening = f"{len(held)} of SP-PRM's {len(own)} own claims held ({_refs(held)})"
        others = []
        for verdict in _ordered({e.get("verdict", "?") for e in rest}):
            group = [e for e in rest if e.get("verdict", "?") == verdict]
            others.append(f"{_refs(group)} {verdict}")
        words.append(opening + (f" ({'; '.join(others)})" if others and not held else "") + ".")
        if others and held:
            words.append("Of the others: " + "; ".join(others) + ".")
    else:
        words.append("none of SP-PRM's own claims (Fig. 5, Tables 1-5) was tested here.")
    reproduced = [e for e in tested if e.get("verdict") == "reproduced"]
    observations = [e for e in reproduced if _kind(e) == "observation"]
    if not reproduced:
        words.append("Nothing was reproduced.")
    elif len(observations) == len(reproduced):
        words.append(
            f"What reproduced are only the paper's observations about outcome reward models ({_refs(observations)}), "
            "not claims about SP-PRM."
        )
    else:
        non_own = [e for e in reproduced if _kind(e) == "other"]
        if observations:
            words.append(f"Of the paper's observations about outcome reward models, {_refs(observations)} reproduced.")
        if non_own:
            words.append(f"Also reproduced: {_refs(non_own)}.")
    text = " ".join(words)
    return text[0].upper() + text[1:]


def _ordered(verdicts) -> list[str]:
    from sp_prm_lib.experiments.verdicts import VERDICTS

    verdicts = set(verdicts)
    return [v for v in VERDICTS if v in verdicts] + sorted(verdicts - set(VERDICTS))


def counts_line(entries: list[dict]) -> str:
    """``5 claims tested: 1 reproduced, 4 inconclusive; 2 views of another claim not counted (Fig. 8, Fig. 4).``"""
    tested = [e for e in entries if not e.get("view_of")]
    views = [e for e in entries if e.get("view_of")]
    counts = Counter(e.get("verdict", "?") for e in tested)
    summary = ", ".join(f"{counts[v]} {v}" for v in _ordered(counts)) or "none"
    line = f"{len(tested)} claim{'' if len(tested) == 1 else 's'} tested: {summary}"
    if views:
        line += f"; {len(views)} view{'' if len(views) == 1 else 's'} of another claim not counted ({_refs(views)})"
    return line + "."


def _group_heading(verdict: str, group: list[dict]) -> str:
    if verdict != "inconclusive":
        return verdict[0].upper() + verdict[1:]
    needs = sorted({math.ceil(n) for n in (_number(e.get("n_needed")) for e in group) if n is not None})
    if not needs:
        return "Inconclusive"
    span = f"{needs[0]:,}" if len(needs) == 1 else f"{needs[0]:,} to {needs[-1]:,}"
    return f"Inconclusive (needs n >= {span})"


_N_SUFFIX = re.compile(r"\s*\(n=\d+\)$")


def _numbers_table(entries: list[dict]) -> list[str]:
    """One short row per test: Paper | verdict | our estimate | paper's effect | detectable at n |
    n for 80% power (no long text: the why is in the groups, the words in the evidence)."""
    header = ["Paper", "Verdict", "Our estimate", "Paper's effect", "Detectable at n", "n for 80% power"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e in entries:
        tests = _tests(e)
        if not tests:
            lines.append(
                f"| {_ref(e)} | {_cell(e.get('verdict'))} | {_cell(_estimate(e)) or '-'} | - | - | "
                f"{_count(e.get('n_needed'))} |"
            )
            continue
        for t in tests:
            estimate = _estimate(e, t.get("test", "")) if len(tests) > 1 else _estimate(e)
            estimate = _N_SUFFIX.sub("", estimate)  # n is in the column "detectable at n"
            lines.append(
                f"| {_ref(e, t if len(tests) > 1 else None)} | {_cell(t.get('verdict'))} | {_cell(estimate) or '-'} | "
                f"{_paper_effect(t, e)} | {_detectable(t)} | {_count(t.get('n_needed'))} |"
            )
    return lines


def _viewed(view: dict, entries: list[dict]) -> str:
    """The claim a view shows again, by its ref when the track filed it (else by its id)."""
    seen = next((e for e in entries if e.get("id") == view.get("view_of")), None)
    return _cell(seen.get("ref")) if seen else f"`{_cell(view.get('view_of'))}`"


def _track_summary(t, executed: Path, toc: Path) -> list[str]:
    """A track's counts, its claims grouped by verdict with their one line of why, and its numbers."""
    tested = [e for e in t.entries if not e.get("view_of")]
    views = [e for e in t.entries if e.get("view_of")]
    lines = [f"## {t.title} (profile `{t.profile}`)", "", counts_line(t.entries), ""]
    if not t.entries:
        return lines[:-2] + [f"No verdicts were filed by the notebooks of profile `{t.profile}`.", ""]
    for verdict in _ordered(e.get("verdict", "?") for e in tested):
        group = [e for e in tested if e.get("verdict", "?") == verdict]
        lines += [f"**{_group_heading(verdict, group)}**", ""]
        for e in group:
            needs = _needs(e) if verdict == "inconclusive" else ""
            why = cell(e.get("why")) or "no reason recorded"
            link = notebook_link(e.get("notebook", ""), executed, toc, t.sub)
            lines.append(f"- **{_cell(e.get('ref'))}**{needs}: {why} ({link})")
        lines.append("")
    if views:
        lines += ["**Views of another claim** (the same test shown again; not counted)", ""]
        for e in views:
            lines.append(f"- **{_cell(e.get('ref'))}**: a view of {_viewed(e, t.entries)}; {_cell(e.get('verdict'))}")
        lines.append("")
    if tested:
        lines += [f"**The numbers** ({t.title})", "", *_numbers_table(tested), ""]
    return lines


def _how_tested(test: dict, entry: dict) -> str:
    """One test's estimand and method in one line of Markdown."""
    kind = test.get("kind") or "difference"
    over = test.get("over")
    margin = _number(test.get("margin")) or 0.0
    how = {
        "difference": "a difference",
        "bound": "a bound (the level against the paper's)",
        "non-inferiority": f"non-inferiority with margin {margin:.3g}",
    }.get(kind, kind)
    if over == "every":
        how += ", every part must hold (intersection-union)"
    elif over == "pooled":
        how += ", decided on the pooled mean"
    if test.get("direction"):
        how += f", the paper's side: {test['direction']}"
    name = f"*{_cell(test['test'])}*: " if test.get("test") else ""
    paper = _paper_effect(test, entry)
    source = cell(test.get("paper_effect_from"))
    parts = [
        f"{name}{cell(test.get('estimand')) or 'the effect'}; {how}",
        f"paper's effect {paper}" + (f" ({source})" if source else ""),
        f"decided on {cell(test.get('decided_on'))}" if test.get("decided_on") else "",
        f"detectable at n: {_detectable(test)}",
        f"n for 80% power: {_count(test.get('n_needed'))}",
        f"**{_cell(test.get('verdict'))}**" + (f" ({_cell(test.get('why'))})" if test.get("why") else ""),
    ]
    return "- " + "; ".join(p for p in parts if p) + "."


def _evidence(t, executed: Path, toc: Path) -> list[str]:
    lines = [f"## {t.title}: evidence, claim by claim", "", _profile_paragraph(t.path), ""]
    if not t.entries:
        return lines + [f"No verdicts were filed by the notebooks of profile `{t.profile}`.", ""]
    for e in t.entries:
        lines += [f"### {_cell(e.get('ref'))} ({t.title}): {_cell(e.get('verdict'))}", ""]
        if e.get("view_of"):
            lines += [f"A view of {_viewed(e, t.entries)}, shown again and not counted.", ""]
        lines += [f"**Claim.** {_cell(e.get('claim'))}", ""]
        if e.get("why"):
            lines += [f"**Why.** {_cell(e.get('why'))}", ""]
        lines += [f"**Our evidence.** {_cell(e.get('evidence'))}", ""]
        tests = _tests(e)
        if tests:
            lines += ["**How it was tested.**", "", *[_how_tested(x, e) for x in tests], ""]
        lines += [
            f"**Our setting.** {_cell(e.get('setting'))}",
            "",
            f"Notebook: {notebook_link(e.get('notebook', ''), executed, toc, t.sub)}",
            "",
        ]
    return lines


SUMMARIES = {
    "": "The paper's own setting scaled to this machine: reward models trained here on a few thousand "
    "HH-RLHF pairs with their human labels. It shows what the paper's recipe gives at this size. It cannot "
    "show the paper's observations about human preference on prefixes (no human judges prefixes here: a "
    "reward model stands in, which is not independent of the models it judges), and its reward models are "
    "close to chance on held-out full pairs, so most effects are too small to tell from noise. Its decoding "
    "runs few prompts on purpose: with guiding reward models at chance, no number of prompts would make its "
    "decoding verdicts say something about SP-PRM, and the time goes to the lab's power instead.",
    "lab/": "The same code and claims where the human is a known function: a gold reward labels the same "
    "HH-RLHF pairs and judges every prefix and every decoded answer. As in Gao et al.'s controlled setting, "
    "the gold is itself a larger reward model trained on a teacher's labels (sentiment and relevance), and "
    "the ORM, the reference RM and the PRMs learn the gold's labels. Reward models can learn its labels, "
    "human preference on prefixes is exact, and every claim gets an interval that means something. It "
    "cannot say how real people judge: the gold is a different rater from the HH-RLHF labellers (it "
    "agrees with their labels about half of the time), so the lab tests the paper's mechanisms, not its "
    "numbers.",
}


def results_markdown(executed: Path, toc: Path) -> str:
    """The Markdown of the results overview: a bottom line per track (the profile of
    ``executed/profile.json`` and, when run, its gold lab in ``executed/lab/``), how to read a
    verdict (``verdicts.rules_markdown``), per track the counts, the claims grouped by verdict
    and a narrow table of the numbers, then the evidence claim by claim; ``toc``: the book's
    ``_toc.yml`` (a notebook is linked only when the build has its page)."""
    from sp_prm_lib.experiments.verdicts import rules_markdown

    lines = ["# Results overview: the paper's claims at our scale", ""]
    tracks = read_tracks(executed)
    if not tracks:
        lines += [
            "No notebook run is recorded here (`book/executed/profile.json` is missing): run "
            "`make reproduce` to execute the notebooks and fill this page.",
            "",
        ]
        return "\n".join(lines)
    notices = [_notice(t.path) for t in tracks]
    lines = [f"**{n}**" for n in dict.fromkeys(n for n in notices if n)] + ([""] if any(notices) else []) + lines
    lines += ["## The bottom line", ""]
    for t in tracks:
        lines.append(f"- **{t.title}**: {bottom_line(t.entries)} {counts_line(t.entries)}")
    lines += ["", "## How to read a verdict", "", rules_markdown(), "", "## What each track can and cannot show", ""]
    for t in tracks:
        lines += [f"**{t.title}** (profile `{t.profile}`). {SUMMARIES.get(t.sub, '')}", ""]
    for t in tracks:
        lines += _track_summary(t, executed, toc)
    for t in tracks:
        lines += _evidence(t, executed, toc)
    lines += [
        "## Notebook run times",
        "",
        "Each notebook's profile, wall time, whether it was re-run, and the commit it ran on: {doc}`execution`.",
        "",
    ]
    return "\n".join(lines)


def lab_index_markdown(executed: Path) -> str:
    """The Markdown of the gold lab's part opening (``executed/lab/index.md``)."""
    lines = ["# The gold-reward lab", ""]
    run_file = executed / "lab" / "profile.json"
    if not run_file.is_file():
        return "\n".join(
            lines
            + [
                "This build ran no gold lab: the profile of the run has no `lab` key, or the lab has not "
                "run yet (`make reproduce` runs it next to the default profile).",
                "",
            ]
        )
    run = json.loads(run_file.read_text(encoding="utf-8"))
    lines += [
        SUMMARIES["lab/"],
        "",
        _profile_paragraph(run.get("path") or run.get("profile", "?")),
        "",
        "The pages of this part are the same notebooks as the HH-RLHF track, run with the lab's profile; "
        "{doc}`14_gold_lab <14_gold_lab>` describes the gold and measures what makes it a fair stand-in "
        "for a human rater."
        if (executed / "lab" / "14_gold_lab.ipynb").is_file()
        else "The pages of this part are the same notebooks as the HH-RLHF track, run with the lab's profile.",
        "",
    ]
    return "\n".join(lines)
