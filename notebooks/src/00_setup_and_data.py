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
#
# :::{note}
# HH-RLHF contains harmful requests (sexual, violent, criminal); the examples
# shown in this notebook are chosen by a fixed rule to be neutral.
# :::

# %% tags=["parameters"]
profile = (
    "tiny"  # papermill parameter: smoke | tiny | paper, or a path to a profile YAML
)

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from sp_prm_lib.data import dialogue_to_messages
from sp_prm_lib.decoding import Policy, decode
from sp_prm_lib.experiments.pairs import (
    describe_profile,
    dropped_summary,
    neutral_example,
    preference_splits,
    prompt_sets,
    response_lengths,
    split_summary,
)
from sp_prm_lib.models.loading import load_policy, load_tokenizer
from sp_prm_lib.notebook import start
from sp_prm_lib.report.plots import publish_figure
from sp_prm_lib.report.tables import show_table

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
show_table(summary, caption="Splits and prompt sets of the profile")

# %% [markdown]
# Rows the loaders left out of the full sets, with the reason. The HH-RLHF
# test splits contain a few pairs whose two responses are identical (no
# preference to learn), a few whose two dialogues already differ before the
# last turn, and a few with an empty final response.

# %%
dropped = pd.concat(
    [dropped_summary(splits["train"]), dropped_summary(prompts["gsm8k-pairs"])],
    ignore_index=True,
)
show_table(dropped, caption="Rows left out by the loaders, with the reason")

# %% [markdown]
# ## Response lengths
#
# Lengths in tokens of the policy's tokenizer. Prefix-based analyses later in
# the book (agreement rates at *t* = 5 … 50 tokens, truncation) only make sense
# where responses are at least that long.

# %%
tokenizer = load_tokenizer(P.policy)
lengths = response_lengths(splits, tokenizer)
stats = lengths.groupby(["split", "response"])["tokens"].describe(
    percentiles=[0.1, 0.5, 0.9]
)
show_table(
    stats[["count", "10%", "50%", "90%", "max"]].astype(int),
    units={"10%": "tokens", "50%": "tokens", "90%": "tokens", "max": "tokens"},
    caption="Response lengths in policy tokens: percentiles per split and side",
)

# %%
short, long = (lengths.tokens < 5).mean(), (lengths.tokens > 50).mean()
print(
    f"responses shorter than 5 tokens: {short:.1%}; longer than 50 tokens: {long:.1%}"
)

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(7, 3.2))
shown = lengths[lengths.split == "train"].assign(
    tokens=lambda f: f.tokens.clip(upper=400)
)
medians = shown.groupby("response").tokens.median().astype(int)
shown["response"] = [f"{r} (median {medians[r]})" for r in shown.response]
palette = dict(
    zip(
        medians.index.map(lambda r: f"{r} (median {medians[r]})"),
        ("tab:green", "tab:red"),
    )
)
sns.histplot(
    shown,
    x="tokens",
    hue="response",
    bins=range(0, 401, 10),
    element="step",
    palette=palette,
    ax=ax,
)
for t in (5, 50):
    ax.axvline(t, color="grey", lw=0.8, ls="--")
ax.set(
    xlabel="response length, policy tokens (clipped at 400)",
    ylabel="train pairs",
    title=f"HH-RLHF response lengths, profile {P.name}",
)
publish_figure(
    fig,
    "00_response_lengths",
    P,
    glue="fig-00-response-lengths",
    data={"00_data_splits": summary, "00_dropped_rows": dropped},
)

# %% [markdown]
# :::{glue:figure} fig-00-response-lengths
# :name: fig-00-response-lengths
#
# **Distribution of response lengths** of the training pairs in policy tokens, chosen (green)
# and rejected (red), clipped at 400; the dashed lines mark t = 5 and t = 50, the shortest and
# longest prefixes the later notebooks compare. Look at how much of each distribution lies left
# of 50: a response shorter than t has no t-token prefix distinct from the full response.
# :::

# %% [markdown]
# ## The policy answers one HH-RLHF prompt
#
# Greedy decoding, no reward model yet: this is the *base* policy that the
# reward-guided decoders of later notebooks steer. The dialogue is rendered with
# the policy's own chat template.
#
# The example is not simply the first eval pair: `neutral_example` takes the
# first one (in the split's seeded order) whose prompt is a single user turn
# and whose prompt and two responses contain no word from a short list of
# content flags (`CONTENT_FLAGS`), so the rule is fixed and the same on every run.

# %%
example = neutral_example(splits["eval"])
messages = dialogue_to_messages(example.prompt)
policy, policy_tokenizer = load_policy(P.policy)
started = time.time()
answer = decode(
    "greedy",
    Policy(policy, policy_tokenizer),
    None,
    [example.prompt],
    max_new_tokens=P.generation.max_new_tokens,
)[0].response.strip()
seconds = time.time() - started
print(
    f"policy: {P.policy.id} ({sum(p.numel() for p in policy.parameters()) / 1e6:.1f}M "
    f"parameters), greedy, {P.generation.max_new_tokens} new tokens at most, "
    f"{seconds:.1f}s"
)
print("\n--- last user turn ---\n" + messages[-1]["content"])
print("\n--- human-preferred (chosen) response ---\n" + example.chosen)
print("\n--- policy answer ---\n" + answer)

# %% [markdown]
# In the `smoke` profile the policy keeps only two of SmolLM2's 30 layers,
# so its answer is not fluent: that profile checks that every code path runs,
# not what the model says. The `tiny` profile uses the whole model.

# %% [markdown] tags=["exercises"]
# ## Exercises
#
# ::::{exercise}
# :label: ex-00-neutral-rule
# The policy's example above is not the first eval pair. Find the rows that `neutral_example` skipped
# before it, and say for each why the rule rejected it: more than one user turn, or a flagged word
# (`flagged_words`) in the prompt or a response. Then predict which HH-RLHF subset (the `source` column
# names the file) loses the largest share of its pairs to the content flags, and check.
# ::::
#
# ::::{solution} ex-00-neutral-rule
# :class: dropdown
#
# Every skipped row fails at least one of the two tests, and the chosen row passes both. The
# `harmless-base` subset holds the red-team dialogues, so expect it to lose the largest share; with few
# pairs per subset (the smoke profile) the shares are rough.
#
# ```python
# from sp_prm_lib.experiments.pairs import flagged_words
#
# frame = splits["eval"].frame
#
#
# def flags_of(row):
#     return sorted(
#         {
#             w
#             for text in (row.prompt, row.chosen, row.rejected)
#             for w in flagged_words(text)
#         }
#     )
#
#
# position = frame.index.get_loc(example.name)
# for _, row in frame.iloc[:position].iterrows():
#     roles = [m["role"] for m in dialogue_to_messages(row.prompt)]
#     print(
#         f"skipped: {len(roles)} message(s), "
#         f"{len(flags_of(row))} distinct flagged word(s)"
#     )
#     assert roles != ["user"] or flags_of(row)
# assert not flags_of(example) and [m["role"] for m in messages] == [
#     "user"
# ]
# flagged = frame.apply(lambda row: bool(flags_of(row)), axis=1)
# print(
#     flagged.groupby(frame.source.str.split("/").str[-1]).mean().round(2)
# )
# ```
# ::::
#
# ::::{exercise}
# :label: ex-00-long-enough
# The prefix analyses of later chapters cut *both* responses of a pair at $t$ tokens, and use a response
# shorter than $t$ whole. Using `lengths`, count the eval pairs whose two responses both have at least
# $t$ tokens, for $t$ = 5, 10, 20, 50 and 100. Predict the shape of this curve before you compute it, and
# say what it means for an agreement rate "at $t = 50$".
# ::::
#
# ::::{solution} ex-00-long-enough
# :class: dropdown
#
# The share can only fall as $t$ grows (a pair long enough for $t$ is long enough for any smaller $t$),
# and it is at most the share of either side alone. Where it is low, a "prefix" comparison at that $t$
# is partly a comparison of whole responses.
#
# ```python
# import numpy as np
#
# ev = lengths[lengths.split == "eval"]
# w = ev[ev.response == "chosen"].tokens.to_numpy()
# l = ev[ev.response == "rejected"].tokens.to_numpy()
# ts = [5, 10, 20, 50, 100]
# both = [float(np.mean((w >= t) & (l >= t))) for t in ts]
# print({t: round(s, 2) for t, s in zip(ts, both)})
# assert all(a >= b for a, b in zip(both, both[1:]))
# assert all(
#     s <= min(np.mean(w >= t), np.mean(l >= t)) for t, s in zip(ts, both)
# )
# ```
# ::::
#
# ::::{exercise}
# :label: ex-00-split-stable
# Train and eval pairs come from one call of `split_train_eval`. Predict what happens to the eval
# subset when you ask for more training pairs with the same seed, and whether the two sides can ever
# share a prompt. Check it on the profile's full training set with two training sizes.
# ::::
#
# ::::{solution} ex-00-split-stable
# :class: dropdown
#
# Prompts are ordered by a seeded hash, and eval takes whole prompt groups first, so the eval subset
# does not depend on the training size; train then takes the next groups, so no prompt is on both sides.
#
# ```python
# from sp_prm_lib.data import load_pairs, split_train_eval
#
# full = load_pairs(
#     P.data.train_set, split=P.data.train_split, source=P.data.source
# )
# n_eval = len(splits["eval"])
# train_a, eval_a = split_train_eval(full, 10, n_eval, P.data.split_seed)
# train_b, eval_b = split_train_eval(full, 40, n_eval, P.data.split_seed)
# print(
#     f"{len(full)} pairs in the full set; train {len(train_a)} or "
#     f"{len(train_b)}, eval {len(eval_a)}"
# )
# assert eval_a.frame.equals(eval_b.frame) and (
#     len(train_a),
#     len(train_b),
#     len(eval_a),
# ) == (10, 40, n_eval)
# for train in (train_a, train_b):
#     assert not set(train.frame.prompt) & set(eval_a.frame.prompt)
# ```
# ::::
