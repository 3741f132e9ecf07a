# %% [markdown]
# # 08 · Reward-guided decoding on TL;DR summarization (Table 2)
#
# Section 5.2.2: Reddit posts from the TL;DR comparisons
# (`openai/summarize_from_feedback`) are summarised by every reward-guided
# search method with the ORM and with SP-PRM (the paper: a DeBERTa-v3-large
# reward model, `OpenAssistant/reward-model-deberta-v3-large-v2`, and an
# SP-PRM trained from it on TL;DR). Besides reward, diversity and coherence,
# ROUGE-L against the human-preferred summary measures summary quality.
#
# The TL;DR data and the DeBERTa reward model exist only on the Hugging Face
# hub. In a profile whose data source cannot reach the hub (the offline
# `smoke` and `tiny` profiles read `data.source: mirror`) this notebook says
# so, shows the paper's table and what it would run, and files the claim as
# "not run here". With hub access (`paper` profile) the same code path runs:
# `ensure_decoding_table(P, "tldr")`, tested offline on local files in the
# hub's schema. The reward models are the profile's `reward` section: to
# reproduce Table 2 itself, use a profile whose ORM is the DeBERTa TL;DR
# reward model and whose PRM training set is `tldr`.

# %% tags=["parameters"]
profile = (
    "tiny"  # papermill parameter: smoke | tiny | paper, or a path to a profile YAML
)

# %%
from IPython.display import Markdown, display

from sp_prm_lib.experiments.comparison import paper_table, record, record_not_run
from sp_prm_lib.experiments.decoding import resolved_configs
from sp_prm_lib.experiments.decoding_tasks import task_available
from sp_prm_lib.notebook import start
from sp_prm_lib.report.decoding_claim import check_decoding_table
from sp_prm_lib.report.tables import show_table

P = start(profile)
d = P.decoding
variants = [v for v in d.variants if v != "sc"]  # Table 2 has no ablation rows
reason = task_available(P, "tldr")
display(
    Markdown(
        f"**Not run in profile `{P.name}`:** {reason}."
        if reason
        else f"Profile `{P.name}` reads TL;DR from the hub: running it."
    )
)

# %% [markdown]
# ## The paper's Table 2

# %%
show_table(
    paper_table("table2"),
    digits=2,
    caption="Table 2 of the paper (its reward model's scale)",
)

# %% [markdown]
# ## What this profile runs (or would run)
#
# One row per decoder run: the paper's row, the method as configured by the
# profile's `decoding` section, and its full configuration. Summaries are cut
# at `decoding.summary_max_new_tokens` tokens (paper: 256).

# %%
print(f"{d.prompts} TL;DR prompts, guiding reward models {variants}")
show_table(resolved_configs(P, "tldr", variants), caption="What each decoding run is")

# %%
setting = (
    f"policy {P.policy.id}; ORM {P.reward.orm.model.id} and SP-PRM trained from it; "
    f"{d.prompts} TL;DR prompts, {d.summary_max_new_tokens} new tokens"
)
if reason:
    out = record_not_run(P, "table2", reason, setting=setting)
else:
    # the ORM's reward steered the ORM-guided answers, so it cannot decide
    # SP-PRM against the ORM either way (check_claim caps it at inconclusive)
    check = check_decoding_table(
        P,
        "tldr",
        variants=variants,
        paper_metrics=["reward", "reward_sd", "diversity", "coherence", "rouge_l"],
    )
    out = record(
        P,
        "table2",
        setting=setting,
        evidence="per prompt, SP-PRM minus the ORM, every method: "
        + check.claim.evidence(),
        **check.claim.record_kwargs(),
    )
out

# %% [markdown] tags=["exercises"]
# ## Exercises
#
# These run in every profile: they need only the ROUGE-L function the
# TL;DR table uses (`sp_prm_lib.evaluation.text_metrics.rouge_l_scores`).
#
# ::::{exercise}
# :label: ex-08-rouge-by-hand
# ROUGE-L compares a summary with a reference through their longest common
# subsequence of words (LCS): precision $P = \text{LCS}/|\text{summary}|$,
# recall $R = \text{LCS}/|\text{reference}|$, and the score is
# $F = 2PR/(P+R)$. Write a one-sentence reference and four candidates: a
# copy, the same words in reverse order, a paraphrase, and a three-word
# summary. Rank them by ROUGE-L before computing. Then compute the LCS by
# hand (dynamic programming) and check it against `rouge_l_scores` without
# stemming.
# ::::
#
# ::::{solution} ex-08-rouge-by-hand
# :class: dropdown
#
# Order matters: the reversed sentence has every word of the reference but a
# short common subsequence (here the three "the"), so it scores far below the
# paraphrase. The short summary has perfect precision but low recall.
#
# ```python
# import re
#
# from sp_prm_lib.evaluation.text_metrics import rouge_l_scores
#
#
# def lcs(a, b):
#     best = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
#     for i, x in enumerate(a):
#         for j, y in enumerate(b):
#             best[i + 1][j + 1] = (
#                 best[i][j] + 1
#                 if x == y
#                 else max(best[i][j + 1], best[i + 1][j])
#             )
#     return best[-1][-1]
#
#
# words = lambda text: re.findall(
#     r"[a-z0-9]+", text.lower()
# )  # rouge-score's tokens, no stemming
# reference = (
#     "The landlord kept my deposit because the cat scratched the door."
# )
# candidates = {
#     "copy": reference,
#     "reversed": " ".join(reversed(reference.rstrip(".").split())),
#     "paraphrase": (
#         "My landlord kept the deposit: the cat had scratched a door."
#     ),
#     "short": "Landlord kept deposit.",
# }
# library = rouge_l_scores(
#     list(candidates.values()),
#     [reference] * len(candidates),
#     use_stemmer=False,
# )
# for (name, text), got in zip(candidates.items(), library):
#     common, c, r = (
#         lcs(words(text), words(reference)),
#         len(words(text)),
#         len(words(reference)),
#     )
#     p, rec = common / c, common / r
#     by_hand = 2 * p * rec / (p + rec) if common else 0.0
#     print(
#         f"{name:10s} LCS {common:2d}  P {p:.2f}  R {rec:.2f}  "
#         f"F by hand {by_hand:.3f}  library {got:.3f}"
#     )
#     assert abs(by_hand - got) < 1e-9
# ```
# ::::
#
# ::::{exercise}
# :label: ex-08-stemming
# The TL;DR table uses ROUGE-L with Porter stemming ("kept" and "keeping"
# stay different, "deposits" becomes "deposit"). Predict whether stemming can
# ever *lower* a summary's ROUGE-L, and check on a few summaries of your own
# against the reference of the previous exercise.
# ::::
#
# ::::{solution} ex-08-stemming
# :class: dropdown
#
# Stemming maps each word to one stem, so the number of words does not
# change, and two words that were equal stay equal: every common subsequence
# survives and the LCS can only grow. ROUGE-L with stemming is never lower.
#
# ```python
# from sp_prm_lib.evaluation.text_metrics import rouge_l
#
# summaries = [
#     "Landlords keeping deposits because cats scratch doors.",
#     "The landlord kept my deposit.",
#     "Cats scratching doors cost tenants their deposits.",
# ]
# stemmed = rouge_l_scores(summaries, [reference] * 3, use_stemmer=True)
# plain = rouge_l_scores(summaries, [reference] * 3, use_stemmer=False)
# for text, a, b in zip(summaries, stemmed, plain):
#     print(f"{a:.3f} with stemming, {b:.3f} without: {text}")
# assert (stemmed >= plain - 1e-12).all()
# print(
#     "mean, as in the table:",
#     round(rouge_l(summaries, [reference] * 3), 3),
# )
# ```
# ::::
