# %% [markdown]
# # 10 · Reward-guided decoding on GSM8K (Table 4)
#
# Section 5.2.3: GSM8K test questions decoded by every reward-guided search
# method with the ORM and with SP-PRM; the table reports the ORM's reward and
# the answer accuracy. The paper has GPT-4 grade each solution (template of
# Fig. 7); here `accuracy` is the exact match of the solution's final number
# with GSM8K's answer (`sp_prm_lib.evaluation.text_metrics.gsm8k_accuracy`), which needs
# no judge.
#
# Differences from the paper: its GSM8K reward model is trained on
# Pairwise-Math (hub only) and its policies are Llama-3.2 base models; here
# the profile's HH-RLHF reward models and policy are reused. BoN uses the
# profile's `gsm8k_bon` sizes (paper: BoN-8/16). In the `tiny` profile the
# responses are cut at a few dozen tokens, usually before the final answer,
# so accuracy is near zero for every method: the reward columns carry this
# notebook's comparison. Only questions of at most `decoding.max_prompt_tokens`
# policy tokens are used (in `tiny`: the shorter GSM8K questions).

# %% tags=["parameters"]
profile = (
    "tiny"  # papermill parameter: smoke | tiny | paper, or a path to a profile YAML
)

# %%
from sp_prm_lib.experiments.comparison import record
from sp_prm_lib.experiments.decoding import resolved_configs
from sp_prm_lib.notebook import start
from sp_prm_lib.report import decoding_claim
from sp_prm_lib.report.tables import show_table

P = start(profile)
d = P.decoding
variants = [v for v in d.variants if v != "sc"]  # Table 4 has no ablation rows
print(
    f"profile {P.name}: {d.prompts} GSM8K questions, {d.max_new_tokens} new tokens, "
    f"BoN-{d.gsm8k_bon[0]}/{d.gsm8k_bon[1]}, guiding RMs {variants}"
)
show_table(resolved_configs(P, "gsm8k", variants), caption="What each decoding run is")

# %% [markdown]
# ## Next to the paper's Table 4 (Llama-3.2-1B column)
#
# Our table, ours next to the paper's, and the effects of the paper's claim (the test is
# explained under "The paper's claim, checked").

# %%
check = decoding_claim.check_decoding_table(
    P,
    "gsm8k",
    variants=variants,
    paper_metrics=["reward", "accuracy"],
)
result = check.result
finished = (result.generations.finish == "eos").mean()
print(f"responses that ended before the token limit: {finished:.0%}")

# %% tags=["remove-output"]
decoding_claim.publish_decoding_figure(
    check,
    P,
    {"reward": "ORM reward", "accuracy": "accuracy (%, final-number match)"},
    "10_table4",
)

# %% [markdown]
# :::{glue:figure} fig-10-table4
# :name: fig-10-table4
#
# **GSM8K decoding, method by method.** Left the ORM's mean reward (an HH-RLHF reward model, not
# trained on maths), right the accuracy (final number matches the reference answer), for each
# guiding reward model; the dashed line is the base policy. Look at whether SP-PRM's bar beats
# the ORM's in both panels, and whether any guided method beats the base accuracy at all.
# :::

# %% [markdown]
# ## The paper's claim, checked
#
# SP-PRM raises the reward and the accuracy of every RGS method on GSM8K. The
# test: per question and method, SP-PRM minus the ORM for the ORM's reward and
# for correctness (1/0), each for *every* method; both must hold. The ORM's
# reward scores answers it steered itself, so it cannot decide SP-PRM against
# the ORM either way (at most "inconclusive"); accuracy is an exact match and
# needs no judge.

# %%
record(
    P,
    "table4",
    setting=decoding_claim.decoding_setting(
        P, "gsm8k", "accuracy by final-number match"
    ),
    evidence=(
        "per question, SP-PRM minus the ORM: "
        + check.claim.evidence()
        + f" Mean accuracy {result.table.accuracy.mean():.0f}% ({finished:.0%} of "
        "responses finished)."
    ),
    **check.claim.record_kwargs(),
)

# %% [markdown] tags=["exercises"]
# ## Exercises
#
# ::::{exercise}
# :label: ex-10-extract-answer
# `accuracy` compares the *final number* of a solution with GSM8K's answer.
# `text_metrics.extract_answer` takes the first number after the last
# "####", else inside the last `\boxed{`, else after the last "answer is" /
# "answer:", else the last number of the text. Predict what it extracts from:
# "The answer is 12. Check: 12 + 3 = 15.", "She pays $1,234.50 in
# total.\n#### 1,234.50", "10-4 = 6 apples are left.", "So x = -3 and y = 2.",
# "The final answer: \boxed{42}, not 41." and "I am not sure."
# ::::
#
# ::::{solution} ex-10-extract-answer
# :class: dropdown
#
# A marker wins over position ("answer is 12" beats the later 15, the box beats
# 41); numbers are normalised (no currency sign, no thousands comma, no
# trailing zero); a minus right after a digit is a subtraction, not a sign;
# without any marker the last number counts, right or wrong ("y = 2"); no
# number at all gives None, which `gsm8k_accuracy` counts as wrong.
#
# ```python
# from sp_prm_lib.evaluation.text_metrics import (
#     extract_answer,
#     gsm8k_accuracy,
#     gsm8k_table,
# )
#
# predicted = {
#     "The answer is 12. Check: 12 + 3 = 15.": "12",
#     "She pays $1,234.50 in total.\n#### 1,234.50": "1234.5",
#     "10-4 = 6 apples are left.": "6",
#     "So x = -3 and y = 2.": "2",
#     "The final answer: \\boxed{42}, not 41.": "42",
#     "I am not sure.": None,
# }
# for text, want in predicted.items():
#     print(f"{text!r:50} -> {extract_answer(text)}")
#     assert extract_answer(text) == want
# print(
#     gsm8k_accuracy(
#         list(predicted),
#         [
#             "#### 12",
#             "#### 1234.5",
#             "#### 6",
#             "#### -3",
#             "#### 42",
#             "#### 0",
#         ],
#     )
# )
# ```
# ::::
#
# ::::{exercise}
# :label: ex-10-cut-solution
# In the small profiles most responses stop at the token limit. Take a
# correct solution, "Tom has 3 bags of 4 apples, so 3 * 4 = 12 apples. He
# eats 2, so 12 - 2 = 10. The answer is 10.", cut it after 1, 2, ... words
# and grade every cut against "#### 10". Predict the first cut graded
# correct, and what the grader extracts from the cuts before it.
# ::::
#
# ::::{solution} ex-10-cut-solution
# :class: dropdown
#
# Before the final sentence the grader falls back to the last number of the
# text, an intermediate result (3, 4, 12, 2), so a cut solution is graded
# wrong even when its reasoning is right. The first correct cut is the one that
# reaches "= 10", before "The answer is": the last number is already the
# answer. A truncated response is wrong by this metric, not unreadable.
#
# ```python
# solution = (
#     "Tom has 3 bags of 4 apples, so 3 * 4 = 12 apples. "
#     "He eats 2, so 12 - 2 = 10. The answer is 10."
# )
# words = solution.split()
# cuts = [" ".join(words[:k]) for k in range(1, len(words) + 1)]
# graded = gsm8k_table(cuts, ["#### 10"] * len(cuts))
# print(
#     graded.assign(cut=[c[-25:] for c in cuts]).drop_duplicates(
#         "predicted", keep="first"
#     )
# )
# assert graded.correct.tolist() == ["= 10" in c for c in cuts]
# ```
# ::::
#
# ::::{exercise}
# :label: ex-10-recompute
# Recompute the `accuracy` column of this notebook's generations from their
# texts and the questions' reference answers (`result.prompts.reference`),
# and compare the share of correct answers among responses that ended by
# themselves (`finish == "eos"`) and those cut at the limit (`"length"`).
# Which group do you expect to be right more often?
# ::::
#
# ::::{solution} ex-10-recompute
# :class: dropdown
#
# The cached column is the same function of the same texts, so the two agree
# exactly. Responses that finished had the chance to state their answer, so
# they are expected to be right more often; in the `smoke` and `tiny` profiles
# both shares are usually near zero.
#
# ```python
# gens = result.generations
# references = result.prompts.reference.to_numpy()[
#     gens["index"].to_numpy()
# ]
# again = gsm8k_table(gens.response.tolist(), list(references))
# assert (
#     again.correct.to_numpy() * 100.0 == gens.accuracy.to_numpy()
# ).all()
# print(
#     gens.assign(correct=again.correct.to_numpy())
#     .groupby("finish")
#     .correct.agg(["mean", "size"])
# )
# ```
# ::::
