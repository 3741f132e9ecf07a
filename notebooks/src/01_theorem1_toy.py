# %% [markdown]
# # 01 · Theorem 1 on a toy with a known optimum
#
# **The paper's claim (section 3.1, Theorem 1).** If a reward model is *score
# consistent* (whenever it prefers one complete response to another, it also
# prefers every prefix of the first to the same-length prefix of the second),
# then reward-guided search that picks the best-scoring continuation at each
# step, token by token or chunk by chunk, returns the response the reward model
# rates best.
#
# We check this where the optimum is known exactly: a toy "language model" over
# three words (`a`, `b`, `c`) that proposes every word with equal probability,
# and responses of exactly four words (81 of them, so exhaustive search is the
# ground truth). Two reward functions:
#
# - **score-consistent** by construction: each word gets a value that depends
#   on the words before it, and the reward reads the values as digits of a
#   base-3 number (`sp_prm_lib.experiments.theorem_toy.ConsistentReward`), so comparing
#   two responses is comparing their prefixes;
# - **trap**: the same plus a bonus for one complete response whose first word
#   is the worst-looking one. It is *not* score-consistent: its best response
#   has a poor prefix.
#
# The searches are the library's real decoders (`TBS`, `ARGS-greedy`, `CBS`
# and `Best-of-N`) run on this toy policy; nothing here is specific to the toy.

# %% tags=["parameters"]
profile = "tiny"  # papermill parameter (the toy is the same in every profile)
seeds = [0, 1, 2]  # value permutations of the score-consistent reward

# %%
import matplotlib.pyplot as plt
import numpy as np

from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments.theorem_toy import theorem1_table
from sp_prm_lib.notebook import save_figure, start

P = start(profile)
table = theorem1_table(seeds=seeds)
table

# %% [markdown]
# ## Did each search find the optimum?

# %%
found = table.pivot_table(index="method", columns="reward", values="found_optimum", aggfunc="mean")
found = found.loc[list(dict.fromkeys(table.method))]
fig, ax = plt.subplots(figsize=(6, 2.8))
im = ax.imshow(found.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
ax.set_xticks(range(found.shape[1]), found.columns)
ax.set_yticks(range(found.shape[0]), found.index)
for (i, j), v in np.ndenumerate(found.to_numpy(dtype=float)):
    ax.text(j, i, f"{v:.0%}", ha="center", va="center")
ax.set_title("share of runs that returned the exhaustive optimum")
save_figure(fig, "01_theorem1", P)
plt.show()

# %%
from sp_prm_lib.experiments.verdicts import bootstrap_estimate, equivalence_verdict

consistent = table[table.reward == "score-consistent"]
step_level = consistent[~consistent.method.str.startswith("BoN")]
trap = table[(table.reward != "score-consistent") & ~table.method.str.startswith("BoN")]
# a theorem: every step-level run must find the optimum; the interval is over runs (seeds x methods)
found_rate = bootstrap_estimate(step_level.found_optimum.astype(float), "found the optimum", seed=P.seed)
print("step-level runs that found the optimum of a score-consistent reward:", found_rate.text(2))
comparison.record(
    P,
    "theorem1",
    ref="Theorem 1",
    notebook="01_theorem1_toy",
    claim="With a score-consistent reward, token-level (and chunk-level) reward-guided search returns "
    "the reward's optimal response.",
    verdict=equivalence_verdict(found_rate, 1.0, 1.0),
    evidence=f"{int(step_level.found_optimum.sum())}/{len(step_level)} token- and chunk-level runs found "
    f"the optimum of a score-consistent reward ({len(seeds)} seeds); with the trap reward "
    f"{int((~trap.found_optimum).sum())}/{len(trap)} missed it while Best-of-N found it.",
    setting="toy uniform policy over 3 words, responses of 4 words, exhaustive search as ground truth",
    table=found.reset_index(),
)

# %% [markdown]
# **Reading.** With the score-consistent reward every step-level search lands on
# the optimum, whatever the seed: at each step the best-scoring prefix is the
# prefix of the best response. With the trap reward the same searches are led
# away by the poor-looking first word, and only whole-response search (Best-of-N
# with enough samples to see every response) finds it. This is the paper's
# motivation: an ORM that is not score-consistent misleads step-level search, so
# a PRM should be trained towards score consistency.
