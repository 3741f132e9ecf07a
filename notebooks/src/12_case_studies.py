# %% [markdown]
# # 12 · Case studies (Fig. 4 and Fig. 8)
#
# :::{note}
# Content note: this page prints HH-RLHF prompts, some written by red-teamers to draw
# out harmful answers, and the models' unfiltered answers to them.
# :::
#
# The paper shows what the numbers of Table 1 look like as text: one HH-RLHF
# prompt answered by every method with and without SP-PRM (Fig. 8, scored by
# GPT-4), and ARGS-G guided by SP-PRM next to its ablation without the
# reference RM, whose answer is "incoherent, repetitive" (Fig. 4).
#
# This notebook reuses the generations of notebook 07 (the same cache
# entries: nothing is decoded again when 07 has run) and puts the same
# prompts under every method side by side. Instead of a GPT-4 score, each
# answer carries the ORM's reward, the reference RM's reward (the offline
# judge) and the judge's verdict against the base answer.

# %% tags=["parameters"]
profile = (
    "tiny"  # papermill parameter: smoke | tiny | paper, or a path to a profile YAML
)
cases = 2  # how many prompts to show in full

# %%
import pandas as pd
from IPython.display import Markdown, display

from sp_prm_lib.data import dialogue_to_messages
from sp_prm_lib.experiments.comparison import record, record_not_run
from sp_prm_lib.experiments.decoding import ensure_decoding_table
from sp_prm_lib.experiments.decoding_claims import (
    check_claim,
    reward_metric,
)
from sp_prm_lib.experiments.decoding_tables import case_studies
from sp_prm_lib.experiments.judges import judge_is_independent, judge_name
from sp_prm_lib.experiments.verdicts import shown
from sp_prm_lib.notebook import start
from sp_prm_lib.report.tables import show_table

P = start(profile)
pd.set_option("display.max_colwidth", 400)
result = ensure_decoding_table(P, "hh-rlhf")
table = case_studies(result)
print(
    f"{table['index'].nunique()} prompts x {table.row.nunique()} rows (method, guiding "
    "RM)"
)

# %% [markdown]
# ## Fig. 8: one prompt, every method
#
# `outcome` is the judge's verdict against the base answer, both answer orders
# (`a`: the method's answer wins, `b`: the base answer wins, `tie`).

# %%
for i in sorted(table["index"].unique())[:cases]:
    prompt = result.prompts.prompt[i]
    turns = dialogue_to_messages(prompt)
    display(
        Markdown(
            "**Prompt** (last turns):\n\n"
            + "\n\n".join(
                f"> **{m['role']}:** {m['content'][:400]}" for m in turns[-3:]
            )
        )
    )
    answers = table[table["index"] == i].drop(columns=["index", "method", "variant"])
    display(show_table(answers))

# %% [markdown]
# ## Which guiding reward model gives the best answer per prompt?
#
# For every prompt, the row the reference RM scores highest (the offline
# stand-in for the paper's GPT-4 score); counted by guiding reward model.
# Caveat: SP-PRM's training pairs were filtered by this same reference RM
# (Eq. 3), so this judge leans towards SP-PRM; an API judge (`paper`
# profile) has no such tie.
# The paper's Fig. 8 gives its highest GPT-4 score to CARDS with SP-PRM.

# %%
guided = table[table.variant != "none"]
top = guided.groupby("index").ref_reward.transform("max")
best = guided[
    guided.ref_reward >= top - 1e-6
]  # every row reaching the prompt's best score (ties count for each)
wins = (
    best.groupby("variant")["index"]
    .nunique()
    .reindex(sorted(guided.variant.unique()), fill_value=0)
)
display(
    show_table(best[["index", "row", "ref_reward"]].rename(columns={"index": "prompt"}))
)
show_table(
    wins.rename("prompts won").rename_axis("guiding RM"),
    caption="Best answer per prompt, by guiding RM",
)

# %% [markdown]
# **Not a test of its own.** Fig. 8 shows Table 1's reward claim as text, so it
# is filed as a *view* of notebook 07's Table 1 (reward) claim, with that
# claim's verdict, and the results page does not count it again. Below, the
# same test's numbers on the judge's score (the reference RM's here, the
# gold's in the lab): per prompt and method, SP-PRM minus the ORM, rows
# descriptive. The reference RM filtered SP-PRM's training pairs (Eq. 3), so
# it leans towards SP-PRM.

# %%
independent = judge_is_independent(P)
gens = result.generations
score = reward_metric(gens, independent, fallback="ref_reward")
setting = (
    f"policy {P.policy.id}; {P.decoding.prompts} {P.data.eval_set} prompts of notebook "
    "07; answers scored by "
    + (f"the judge {judge_name(P)}" if score == "judge_reward" else "the reference RM")
    + " instead of GPT-4"
)
fig8_view = check_claim(P, gens, "table1-reward", metrics={"reward": score})
fig8_estimates = shown(fig8_view.results[""])
display(show_table(fig8_estimates))
if "sp-prm" not in wins:
    fig8 = record_not_run(
        P, "fig8", "the profile's decoding.variants leave out sp-prm", setting=setting
    )
else:
    # a view: filed with Table 1 (reward)'s verdict (comparison.view_verdict)
    fig8 = record(
        P,
        "fig8",
        setting=setting,
        evidence=(
            f"SP-PRM minus ORM per prompt: {fig8_view.evidence()} Best answer per "
            "prompt (reference-RM score) by guiding RM: "
            + ", ".join(f"{v} {n}" for v, n in wins.items())
            + (
                ""
                if independent
                else "; the reference RM also filtered SP-PRM's training pairs, so it "
                "leans towards SP-PRM"
            )
            + "."
        ),
        table=wins.rename("prompts won")
        .reset_index()
        .rename(columns={"index": "variant"}),
        estimates=fig8_estimates,
    )
fig8

# %% [markdown]
# ## Fig. 4: ARGS-G with SP-PRM vs its ablation
#
# The paper's ablation answer repeats words ("Stir stir stir. Serve serve.").
# Diversity (n-grams 2-4, 1 = no repeated n-gram) measures exactly that. The
# prompt shown is the one where the two answers' diversity differs most,
# whichever of the two is the repetitive one.
#
# Like Fig. 8, Fig. 4 is a view of a claim tested in notebook 07 (Table 1's
# ablation: reward, diversity and coherence), filed with that claim's verdict
# and not counted again; the numbers below are the same test's on this page's
# score.

# %%
args = table[table.method == "args"].pivot(
    index="index", columns="variant", values=["response", "diversity"]
)
if {"sp-prm", "sc"} <= set(table[table.method == "args"].variant):
    gap = (args["diversity"]["sp-prm"] - args["diversity"]["sc"]).astype(float)
    i = gap.abs().idxmax()
    for v, name in (("sp-prm", "ARGS-G (ours)"), ("sc", "ARGS-G (ablation)")):
        display(
            Markdown(
                f"**{name}** (diversity {args['diversity'][v][i]:.2f}):\n\n> "
                + str(args["response"][v][i]).replace("\n", " ")
            )
        )
    summary = (
        table[table.variant.isin(["sp-prm", "sc"]) & (table.method != "base")]
        .groupby("variant")[["diversity", "reward", "ref_reward"]]
        .mean()
    )
    display(
        show_table(
            summary,
            caption="Mean diversity and rewards of the SP-PRM and ablation-guided "
            "answers",
        )
    )
    fig4_view = check_claim(
        P, gens, "table1-ablation", against="sc", metrics={"reward": score}
    )
    fig4_estimates = pd.concat(
        [shown(r).assign(test=n) for n, r in fig4_view.results.items()],
        ignore_index=True,
    )
    display(show_table(fig4_estimates))
    # a view: filed with the Table 1 ablation's verdict (comparison.view_verdict)
    out = record(
        P,
        "fig4",
        setting=setting,
        evidence=(
            "SP-PRM minus the ablation per prompt: "
            + fig4_view.evidence()
            + " Mean diversity over all guided answers: SP-PRM "
            f"{summary.diversity['sp-prm']:.3f}, ablation "
            f"{summary.diversity['sc']:.3f}; reference-RM reward "
            f"{summary.ref_reward['sp-prm']:.3f} vs {summary.ref_reward['sc']:.3f}; "
            f"ARGS-G answers less diverse with the ablation on {int((gap > 0).sum())} "
            f"of {len(gap)} prompts."
        ),
        table=summary.reset_index(),
        estimates=fig4_estimates,
    )
else:
    out = record_not_run(
        P,
        "fig4",
        "the profile's decoding.variants leave out sp-prm or sc",
        setting=setting,
    )
out

# %% [markdown] tags=["exercises"]
# ## Exercises
#
# ::::{exercise}
# :label: ex-12-no-repeats
# The `words` diversity multiplies, for $n = 2, 3, 4$, the ratio unique n-grams / (n-grams + 1).
# Write a sentence of $N$ word tokens in which no token repeats. Predict its diversity as a function of
# $N$ before computing it with `diversity` (count the tokens with `word_tokens`: punctuation counts).
# Why does an answer without any repetition still score below 1, and why does that favour long answers?
# ::::
#
# ::::{solution} ex-12-no-repeats
# :class: dropdown
#
# With no repeated token, every n-gram is unique and there are $N - n + 1$ of them, so the product
# telescopes: $\frac{N-1}{N} \cdot \frac{N-2}{N-1} \cdot \frac{N-3}{N-2} = \frac{N-3}{N}$. The $+1$
# smoothing costs a short answer more than a long one.
#
# ```python
# import math
# from sp_prm_lib.evaluation.text_metrics import diversity, word_tokens
#
# texts = (
#     "Bake it slowly",
#     "Knead the dough, then let it rest",
#     "Preheat an oven; mix flour with water and yeast, then bake",
# )
# for text in texts:
#     N = len(word_tokens(text))
#     print(
#         f"N={N:2d}  diversity {diversity(text):.3f}  "
#         f"(N-3)/N = {(N - 3) / N:.3f}  {text!r}"
#     )
#     assert len(set(word_tokens(text))) == N and math.isclose(
#         diversity(text), max(N - 3, 0) / N
#     )
# ```
# ::::
#
# ::::{exercise}
# :label: ex-12-stir
# The paper's ablation answer repeats words ("Stir stir stir. Serve serve."). Predict the diversity
# of the word "stir" repeated $k$ times, for $k = 1..8$, then check. Then compute the diversity of the
# paper's own example: is it as low as you expected? What in the tokenization explains the difference?
# ::::
#
# ::::{solution} ex-12-stir
# :class: dropdown
#
# All n-grams of "stir stir ... stir" are the same, so each ratio is $1/(k - n + 2)$ and the diversity
# is $\frac{1}{k(k-1)(k-2)}$ for $k \ge 4$; below 4 words there is no 4-gram and the score is 0. The
# paper's example scores much higher: "Stir" and "stir" are different tokens, and the full stops and the
# change of word make most of its n-grams unique. A metric on n-grams sees only exact repeats.
#
# ```python
# import math
# from sp_prm_lib.evaluation.text_metrics import diversity, word_tokens
#
# for k in range(1, 9):
#     d = diversity(" ".join(["stir"] * k))
#     print(f"k={k}: {d:.4f}")
#     assert math.isclose(
#         d, 1 / (k * (k - 1) * (k - 2)) if k >= 4 else 0.0
#     )
# example = "Stir stir stir. Serve serve."
# print(word_tokens(example), f"diversity {diversity(example):.3f}")
# assert diversity(example) > diversity(
#     " ".join(["stir"] * len(word_tokens(example)))
# )
# ```
# ::::
