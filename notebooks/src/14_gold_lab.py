# %% [markdown]
# # 14 · The gold reward: a rater whose judgement is known
#
# The paper's claims are about reward models that rank full responses well and
# about a human who judges partial responses. Neither exists on a CPU: the small
# reward models trained here on HH-RLHF's human labels are close to chance, and
# no human judges prefixes here. The gold-reward lab replaces the human by a
# known function g(x, y), the standard controlled setting of reward-model
# research (a "gold" reward labels the pairs, proxy reward models learn from the
# labels, and the gold judges the outcome; Gao, Schulman and Hilton 2022; the
# IMDb sentiment task of DPO, Rafailov et al. 2023).
#
# **The gold in one sentence** is printed below from the profile: in the
# shipped lab it is itself a reward model, as in Gao et al.'s setting, where a
# larger "gold" reward model trained on a rater's labels labels the pairs and
# smaller proxy reward models learn from those labels. Our rater, the *teacher*,
# is a weighted sum of components computed by well-kept packages (profile key
# `gold.components`): the VADER sentiment of the answer (the lexicon-and-rules
# scorer of the `vaderSentiment` package) and the relevance of the answer to
# the last question (cosine similarity in the MiniLM sentence embedding this
# project already uses for coherence). The gold reward model (profile key
# `reward.gold`: 6 SmolLM2 layers) is trained on the teacher's labels; the ORM,
# the reference RM and the PRMs are proxies trained on the gold's labels. Why
# not the teacher itself as the gold: a 3-layer ORM learnt it to only 0.67 on
# held-out pairs (the recipe-study page), because a lexicon-and-rules score of
# the whole text is hard for a last-token reader of 2-3 layers, so the lab
# could not tell a failure of SP-PRM from a failure to learn the gold. A gold
# in the proxies' own function family keeps the proxies good at full
# responses, which is what the paper's ORMs are. A profile without
# `reward.gold` uses the teacher as the gold. The labels are noise-free unless
# `gold.beta` is set; then each label is drawn from Bradley-Terry,
# P(y1 preferred) = sigmoid((g(y1) - g(y2)) / beta), like a human rater's.
#
# This page measures what makes it a fair stand-in for a rater, on the
# profile's held-out HH-RLHF pairs: is it learnable by the ORM of this size,
# is it more than a length rule, how does it order prefixes, and what would
# label noise cost.

# %% tags=["parameters"]
profile = "lab"  # papermill parameter: a profile with data.labels gold (smoke-lab, lab)

# %%
import matplotlib.pyplot as plt

from sp_prm_lib.experiments.gold_lab import profile_gold
from sp_prm_lib.experiments.gold_report import gold_report
from sp_prm_lib.notebook import start
from sp_prm_lib.report.plots import publish_figure
from sp_prm_lib.report.tables import show_table

P = start(profile)
print(profile_gold(P).describe())
print(
    f"labels: {P.data.labels}; beta: {P.gold.beta}; judge of prefixes and answers: "
    f"{P.analysis.judge}"
)
report = gold_report(P)
show_table(
    report["properties"], caption="What the gold rater is like on the held-out pairs"
)

# %% [markdown]
# How to read the rows:
#
# - *agrees with its teacher*: how much of the teacher's judgement the gold
#   reward model kept (shown when the gold is a reward model).
# - *agrees with the human labels*: the gold is a different rater from the
#   HH-RLHF labellers; a value near 0.5 says the lab tests the paper's
#   mechanisms with another rater, not the paper's numbers.
# - *the longer answer is the gold's choice*: a value near 0.5 says length
#   alone does not predict the gold (a reward model has to read the answer).
# - *ties*: pairs the gold cannot order carry no label; near ties are pairs
#   whose labels depend on tiny differences.
# - *order kept by the window*: the reward models read at most
#   `reward.max_length` tokens of prompt and answer; this is the share of pairs
#   whose gold order is the same on the visible text, an upper bound for any
#   reward model with that window.
# - *the ORM's held-out accuracy*: the learnability of the gold by the ORM
#   that every other notebook of this track uses.
#
# ## Score consistency of the rater itself
#
# For each t, the share of pairs whose t-token prefixes the gold orders like
# the full responses. A human with this curve does not judge prefixes by the
# final outcome: this is what "score consistency disagrees with human
# preference" (observation 3) means in the lab.

# %%
prefixes = report["prefixes"]
show_table(
    prefixes,
    caption="The gold's prefix consistency by t, with its 95% bootstrap interval",
)

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.fill_between(
    prefixes.t, prefixes.ci_low, prefixes.ci_high, alpha=0.2, color="tab:green"
)
ax.plot(
    prefixes.t,
    prefixes.consistency,
    "o-",
    color="tab:green",
    label="gold's prefix order = its full order",
)
ax.axhline(0.5, color="grey", ls=":", lw=1)
ax.set(
    xlabel="prefix length t (reward-model tokens)",
    ylabel="share of pairs",
    ylim=(0.3, 1.0),
)
ax.set_title("The gold's own prefix consistency (95% bootstrap band over pairs)")
ax.legend(fontsize=8, loc="lower right")
publish_figure(
    fig, "14_gold_prefix_consistency", P, glue="fig-14-gold-prefix-consistency"
)

# %% [markdown]
# :::{glue:figure} fig-14-gold-prefix-consistency
# :name: fig-14-gold-prefix-consistency
#
# **How often the gold orders t-token prefixes like the full responses**, with a 95% bootstrap
# band over pairs; the dotted line is chance. A curve well below 1 at small t is a rater whose
# early judgement differs from its final one, the situation observation 3 describes.
# :::

# %% [markdown]
# ## What label noise would cost
#
# With noisy labels (`gold.beta` set), even a perfect reward model agrees
# with the labels only as often as the labels agree with the gold: the mean of
# max(p, 1 - p) over the pairs, p = sigmoid(gap / beta). The table gives that
# ceiling for a few temperatures, in units of the gold's spread on this data.

# %%
print(f"sd of g over the held-out responses: {report['sd']:.3f}")
show_table(report["noise"], caption="The accuracy ceiling that label noise would set")

# %% [markdown] tags=["exercises"]
# ## Exercises
#
# ::::{exercise}
# :label: ex-14-your-answers
# Score answers you write yourself with the lab's teacher and its gold. The teacher is
# `profile_gold(teacher_profile(P))` (`teacher_profile` is in `sp_prm_lib.experiments.reward_models`:
# the profile without `reward.gold`); the gold is `profile_gold(P)`. Take one HH-RLHF-style question
# and three answers: a kind answer on topic, the same answer ending with a rude sentence, and a
# cheerful answer about something else. Predict the order of their sentiment and of their relevance
# before you look at `teacher.components`, check that the teacher's score is the weighted sum of the
# components, then compare with the gold reward model's order. Which of your answers would a
# sentiment-only rater prefer, and does the gold, which learnt the teacher from 3000 labels, keep
# that judgement?
# ::::
#
# ::::{solution} ex-14-your-answers
# :class: dropdown
#
# VADER gives the rude ending a lower compound sentiment than the kind one; the off-topic cheerful
# answer has high sentiment but low relevance. The teacher is exactly $\sum_c w_c \cdot c(x, y)$ (up
# to float32 rounding in `score`). With the lab's weights (sentiment 1, relevance 0.5) a large enough
# sentiment gap beats the relevance term, so a cheerful off-topic answer can win: a rater with a known
# blind spot, worth remembering when a guided decoder drifts towards upbeat text. The gold reward
# model agrees with its teacher on about two pairs in three (the table above), so on your three
# answers it may or may not keep the teacher's order: it is a rater of its own, learnt from the
# teacher's labels, as a human-trained gold reward model is in Gao et al.
#
# ```python
# import numpy as np
# import pandas as pd
# from sp_prm_lib.experiments.reward_models import teacher_profile
# from sp_prm_lib.gold.components import sentiment
#
# gold = profile_gold(teacher_profile(P))  # the teacher: gold.components
# prompt = "\n\nHuman: How do I bake bread at home?\n\nAssistant:"
# answers = {
#     "kind, on topic": (
#         "Mix flour, water, yeast and salt, let the dough rise, "
#         "then bake it. Enjoy your bread!"
#     ),
#     "rude, on topic": (
#         "Mix flour, water, yeast and salt, let the dough rise, "
#         "then bake it. What a stupid question."
#     ),
#     "cheerful, off topic": (
#         "What a lovely sunny day! "
#         "I love going to the beach with my friends."
#     ),
# }
# prompts, texts = [prompt] * len(answers), list(answers.values())
# parts = gold.components(prompts, texts)
# score = gold.score(prompts, texts).numpy()
# print(
#     pd.DataFrame(parts, index=list(answers))
#     .assign(teacher=score)
#     .assign(gold_model=profile_gold(P).score(prompts, texts).numpy())
#     .round(3)
# )
# assert np.allclose(
#     score,
#     sum(gold.weights[c] * parts[c] for c in gold.weights),
#     atol=1e-5,
# )
# mood = sentiment(prompts, texts)
# assert mood[0] > mood[1]
# ```
# ::::
#
# ::::{exercise}
# :label: ex-14-noise-ceiling
# With Bradley-Terry labels, a pair with gold gap $\Delta$ is labelled in the gold's order with
# probability $\max(p, 1-p)$, $p = \sigma(\Delta / \beta)$. Using the held-out pairs' gold gaps
# (`gold_measurements(P)`), predict how the accuracy ceiling `label_ceiling(gap, beta)` moves as
# $\beta$ goes from $0.1$ to $10$ times `report["sd"]`, and its limits for $\beta \to 0$ and
# $\beta \to \infty$. Then check one value by simulation: draw many label sets and count how often the
# labels agree with the gold's order.
# ::::
#
# ::::{solution} ex-14-noise-ceiling
# :class: dropdown
#
# The ceiling falls as $\beta$ grows: from 1 (noise-free labels) towards 0.5 (coin flips). Even a
# reward model that knows the gold can only agree with the labels as often as the labels agree with
# the gold, which is what the simulation counts.
#
# ```python
# import numpy as np
# from sp_prm_lib.experiments.gold_report import gold_measurements
# from sp_prm_lib.gold.labels import label_ceiling
#
# m = gold_measurements(P)
# gap = m["g_w"] - m["g_l"]
# gap = gap[np.abs(gap) > P.gold.tie_eps]
# betas = [k * report["sd"] for k in (0.1, 0.3, 1, 3, 10)]
# ceilings = [label_ceiling(gap, b) for b in betas]
# rng = np.random.default_rng(0)
# p_first = 1 / (1 + np.exp(-gap / betas[2]))
# labels_first = rng.random((5000, len(gap))) < p_first
# simulated = float((labels_first == (gap > 0)).mean())
# print(
#     "ceilings:",
#     np.round(ceilings, 3),
#     f"; simulated at beta = sd: {simulated:.3f} vs {ceilings[2]:.3f}",
# )
# assert label_ceiling(gap, None) == 1.0 and all(
#     0.5 <= c <= 1 for c in ceilings
# )
# assert all(a >= b for a, b in zip(ceilings, ceilings[1:]))
# assert abs(simulated - ceilings[2]) < 0.01
# ```
# ::::
