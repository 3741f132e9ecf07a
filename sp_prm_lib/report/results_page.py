"""The book's results overview (``book/executed/results.md``) and the gold lab's opening page.

Built from the verdicts the notebooks filed with ``experiments.comparison.record``
(``build/results/<profile>/<id>.json``: id, ref, claim, verdict, evidence,
setting, notebook, profile, table, estimates), one column per track
(``report.book_runs``); ``scripts/build_book.py`` writes the pages.
"""

from __future__ import annotations

import json
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


def _estimate(entry: dict) -> str:
    """The estimates that decide a claim (the pooled rows, else the last row), as text; a claim over
    several metrics (reward and accuracy, ...) shows each metric's pooled estimate by name."""
    est = entry.get("estimates")
    if not est:
        return ""
    rows = [dict(zip(est["columns"], row)) for row in est["data"]]
    pooled = [r for r in rows if r.get("method") == "pooled"] or rows[-1:]
    if len(pooled) > 1 and all("metric" in r for r in pooled):
        return "; ".join(f"{r['metric']} {r.get('estimate', '')}" for r in pooled)
    return str(pooled[-1].get("estimate", ""))


SUMMARIES = {
    "": "The paper's own setting scaled to this machine: reward models trained here on a few thousand "
    "HH-RLHF pairs with their human labels. It shows what the paper's recipe gives at this size. It cannot "
    "show the paper's observations about human preference on prefixes (no human judges prefixes here: a "
    "reward model stands in, which is not independent of the models it judges), and its reward models are "
    "close to chance on held-out full pairs, so most effects are too small to tell from noise.",
    "lab/": "The same code and claims where the human is a known function: a gold reward labels the same "
    "HH-RLHF pairs and judges every prefix and every decoded answer. Reward models can learn its labels, "
    "human preference on prefixes is exact, and every claim gets an interval that means something. It "
    "cannot say how real people judge: the gold is a different rater from the HH-RLHF labellers (it "
    "agrees with their labels about half of the time), so the lab tests the paper's mechanisms, not its "
    "numbers.",
}


def results_markdown(executed: Path, toc: Path) -> str:
    """The Markdown of the results overview: one column of verdicts per track (the profile of
    ``executed/profile.json`` and, when run, its gold lab in ``executed/lab/``); ``toc``: the
    book's ``_toc.yml`` (a notebook is linked only when the build has its page)."""
    from sp_prm_lib.experiments.verdicts import VERDICTS

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
    lines += [
        "Each claim of the paper (a figure, a table or Theorem 1) is tested as an *effect* whose sign says "
        "whether the claim holds (SP-PRM minus ORM reward, a difference of agreement rates, ...), estimated "
        "with a 95% percentile-bootstrap interval over prompts or pairs, one resampling shared by every "
        "method of a claim. *reproduced*: the interval excludes no effect on the paper's side; "
        "*contradicted*: it excludes it on the other side; *inconclusive*: it contains no effect (the "
        "interval is shown); *not run here*: the run lacks models, data or a judge the claim needs. A claim "
        "tested with a judge that is not independent of the method can be at most inconclusive. The rules "
        "live in `sp_prm_lib.experiments.verdicts`.",
        "",
        "## What each track can and cannot show",
        "",
    ]
    for t in tracks:
        lines += [f"**{t.title}** (profile `{t.profile}`). {SUMMARIES.get(t.sub, '')}", ""]
    lines += ["## Verdicts", ""]
    for t in tracks:
        counts = Counter(e.get("verdict", "?") for e in t.entries)
        order = [v for v in VERDICTS if counts.get(v)] + sorted(set(counts) - set(VERDICTS))
        summary = ", ".join(f"{counts[v]} {v}" for v in order) or "no verdicts filed"
        lines.append(f"- {t.title}: {len(t.entries)} claims checked with profile `{t.profile}`: {summary}.")
    lines.append("")
    claims: dict[str, dict] = {}
    for t in tracks:
        for e in t.entries:
            claims.setdefault(e["id"], e)
    if claims:
        header = ["Paper", "The paper's claim", *[t.title for t in tracks]]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for cid, first in claims.items():
            cells = [_cell(first.get("ref")), _cell(first.get("claim"))]
            for t in tracks:
                e = next((x for x in t.entries if x["id"] == cid), None)
                if e is None:
                    cells.append("-")
                    continue
                est = _estimate(e)
                link = notebook_link(e.get("notebook", ""), executed, toc, t.sub)
                cells.append(f"**{_cell(e.get('verdict'))}**" + (f" {_cell(est)}" if est else "") + f"; {link}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for t in tracks:
        lines += [f"## {t.title}: evidence, claim by claim", "", _profile_paragraph(t.path), ""]
        if not t.entries:
            lines += [f"No verdicts were filed by the notebooks of profile `{t.profile}`.", ""]
        for e in t.entries:
            lines += [
                f"### {_cell(e.get('ref'))} ({t.title}): {_cell(e.get('verdict'))}",
                "",
                f"**Claim.** {_cell(e.get('claim'))}",
                "",
                f"**Our evidence.** {_cell(e.get('evidence'))}",
                "",
                f"**Our setting.** {_cell(e.get('setting'))}",
                "",
                f"Notebook: {notebook_link(e.get('notebook', ''), executed, toc, t.sub)}",
                "",
            ]
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
