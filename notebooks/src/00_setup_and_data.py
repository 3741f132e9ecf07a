# %% [markdown]
# # 00 · Setup and data
#
# What this companion runs on, before any reward model is trained: which models
# and data sets the chosen **profile** uses, how many preference pairs each
# split holds, which rows the loaders dropped and why, how long the responses
# are, and what the policy says to one HH-RLHF prompt.
#
# Every number below is computed when the notebook runs (`make reproduce`
# executes it with papermill); nothing is typed in by hand.

# %% tags=["parameters"]
profile = "tiny"  # papermill parameter: smoke | tiny | paper, or a path to a profile YAML

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd

from sp_prm_lib.data import dialogue_to_messages
from sp_prm_lib.decoding import Policy, decode
from sp_prm_lib.experiments.pairs import (
    describe_profile,
    dropped_summary,
    preference_splits,
    prompt_sets,
    response_lengths,
    split_summary,
)
from sp_prm_lib.models.loading import load_policy, load_tokenizer
from sp_prm_lib.notebook import save_figure, start

P = start(profile)
print(f"profile: {P.name} ({P.path.name}): {P.description}")
describe_profile(P)

# %% [markdown]
# ## Preference pairs and prompt sets
#
# HH-RLHF dialogues are split into the shared prompt (everything up to and
# including the last `Assistant:` turn) and the two final responses. When the
# profile trains and evaluates on the same split (the offline profiles only
# have the HH-RLHF *test* splits), train and eval are disjoint **by prompt**:
# no prompt appears on both sides.

# %%
splits = preference_splits(P)
prompts = prompt_sets(P)
overlap = set(splits["train"].frame.prompt) & set(splits["eval"].frame.prompt)
print(f"prompts shared by train and eval: {len(overlap)}")
summary = split_summary({**splits, **prompts})
summary

# %% [markdown]
# Rows the loaders left out of the full sets, with the reason. The HH-RLHF
# test splits contain a few pairs whose two responses are identical (no
# preference to learn), a few whose two dialogues already differ before the
# last turn, and a few with an empty final response.

# %%
dropped = pd.concat([dropped_summary(splits["train"]), dropped_summary(prompts["gsm8k-pairs"])], ignore_index=True)
dropped

# %% [markdown]
# ## Response lengths
#
# Lengths in tokens of the policy's tokenizer. Prefix-based analyses later in
# the book (agreement rates at *t* = 5 … 50 tokens, truncation) only make sense
# where responses are at least that long.

# %%
tokenizer = load_tokenizer(P.policy)
lengths = response_lengths(splits, tokenizer)
stats = lengths.groupby(["split", "response"])["tokens"].describe(percentiles=[0.1, 0.5, 0.9])
stats[["count", "10%", "50%", "90%", "max"]].astype(int)

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
bins = range(0, 401, 10)
for side, colour in (("chosen", "tab:green"), ("rejected", "tab:red")):
    values = lengths[(lengths.split == "train") & (lengths.response == side)].tokens.clip(upper=400)
    ax.hist(values, bins=bins, alpha=0.55, color=colour, label=f"{side} (median {int(values.median())})")
for t in (5, 50):
    ax.axvline(t, color="grey", lw=0.8, ls="--")
ax.set(
    xlabel="response length, policy tokens (clipped at 400)",
    ylabel="train pairs",
    title=f"HH-RLHF response lengths, profile {P.name}",
)
ax.legend()
path = save_figure(fig, "00_response_lengths", P)
summary.to_csv(path.with_name("00_data_splits.csv"), index=False)
dropped.to_csv(path.with_name("00_dropped_rows.csv"), index=False)
plt.show()
short = (lengths.tokens < 5).mean()
print(f"responses shorter than 5 tokens: {short:.1%}; longer than 50 tokens: {(lengths.tokens > 50).mean():.1%}")

# %% [markdown]
# ## The policy answers one HH-RLHF prompt
#
# Greedy decoding, no reward model yet: this is the *base* policy that the
# reward-guided decoders of later notebooks steer. The dialogue is rendered with
# the policy's own chat template.

# %%
example = splits["eval"].frame.iloc[0]
messages = dialogue_to_messages(example.prompt)
policy, policy_tokenizer = load_policy(P.policy)
started = time.time()
answer = decode(
    "greedy", Policy(policy, policy_tokenizer), None, [example.prompt], max_new_tokens=P.generation.max_new_tokens
)[0].response.strip()
seconds = time.time() - started
print(
    f"policy: {P.policy.id} ({sum(p.numel() for p in policy.parameters()) / 1e6:.1f}M parameters), "
    f"greedy, {P.generation.max_new_tokens} new tokens at most, {seconds:.1f}s"
)
print("\n--- last user turn ---\n" + messages[-1]["content"])
print("\n--- human-preferred (chosen) response ---\n" + example.chosen)
print("\n--- policy answer ---\n" + answer)

# %% [markdown]
# In the `smoke` profile the policy keeps only two of SmolLM2's 30 layers,
# so its answer is not fluent: that profile checks that every code path runs,
# not what the model says. The `tiny` profile uses the whole model.
