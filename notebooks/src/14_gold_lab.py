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
# **The gold in one sentence** is printed below from the profile's `gold` key:
# a weighted sum of components computed by well-kept packages, such as the
# VADER sentiment of the answer (the lexicon-and-rules scorer of the
# `vaderSentiment` package) and the relevance of the answer to the last
# question (cosine similarity in the MiniLM sentence embedding this project
# already uses for coherence). The labels are noise-free unless `gold.beta` is
# set; then each label is drawn from Bradley-Terry,
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
from sp_prm_lib.notebook import save_figure, start

P = start(profile)
print(profile_gold(P).describe())
print(f"labels: {P.data.labels}; beta: {P.gold.beta}; judge of prefixes and answers: {P.analysis.judge}")
report = gold_report(P)
report["properties"].round(3)

# %% [markdown]
# How to read the rows:
#
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
fig, ax = plt.subplots(figsize=(6.5, 3.2))
ax.fill_between(prefixes.t, prefixes.ci_low, prefixes.ci_high, alpha=0.2, color="tab:green")
ax.plot(prefixes.t, prefixes.consistency, "o-", color="tab:green", label="gold's prefix order = its full order")
ax.axhline(0.5, color="grey", ls=":", lw=1)
ax.set(xlabel="prefix length t (reward-model tokens)", ylabel="share of pairs", ylim=(0.3, 1.0))
ax.set_title("The gold's own prefix consistency (95% bootstrap band over pairs)")
ax.legend(fontsize=8, loc="lower right")
save_figure(fig, "14_gold_prefix_consistency", P)
plt.show()
prefixes.round(3)

# %% [markdown]
# ## What label noise would cost
#
# With noisy labels (`gold.beta` set), even a perfect reward model agrees
# with the labels only as often as the labels agree with the gold: the mean of
# max(p, 1 - p) over the pairs, p = sigmoid(gap / beta). The table gives that
# ceiling for a few temperatures, in units of the gold's spread on this data.

# %%
print(f"sd of g over the held-out responses: {report['sd']:.3f}")
report["noise"].round(3)
