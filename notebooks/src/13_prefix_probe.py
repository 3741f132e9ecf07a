# %% [markdown]
# # 13 · The prefix probe
#
# Reward-guided decoding asks a reward model to judge **unfinished** answers:
# after every chunk of tokens, the search keeps the partial responses the
# reward model likes best. The paper's Observation 1 says an outcome reward
# model (ORM), trained on finished answers only, often orders two partial
# answers differently from how it orders the finished ones; SP-PRM is trained
# so that it does not (score consistency).
#
# This probe lets you watch it happen, one pair at a time. For a prompt and two
# responses A and B it scores **every prefix length t** of both responses with
# three reward models of this profile:
#
# - **ORM**: the outcome reward model, trained on full pairs (paper Eq. 1);
# - **SP-PRM**: the process reward model trained from that ORM on truncated
#   pairs (Eq. 3, notebook 05);
# - **reference**: the larger reference reward model r_phi that SP-PRM's
#   training uses to filter and weight the partial pairs.
#
# At each t a reward model **agrees** when it orders the two t-token prefixes
# the way it *itself* orders the two full responses (a tie does not agree).
# This is score consistency as the paper words it; it is not the human-label
# formula of notebooks 02 and 06 (see "Two quantities named AR_RM-SC" in
# notebook 02). A response
# shorter than t is used whole. Prefix lengths count tokens of the ORM's
# tokenizer (all three reward models of the offline profiles share it); all
# prefixes of a response are scored in one forward pass
# (`RewardModel.score_prefixes`).
#
# Every number below is computed when the notebook runs.

# %% tags=["parameters"]
profile = (
    "tiny"  # papermill parameter: smoke | tiny | paper, or a path to a profile YAML
)

# %%
import matplotlib.pyplot as plt

from sp_prm_lib.experiments.probe import (
    agreement_curve,
    load_probe_models,
    probe_eval_pairs,
)
from sp_prm_lib.notebook import start
from sp_prm_lib.report.plots import publish_figure
from sp_prm_lib.report.probe_widget import live_probe, static_probe

P = start(profile)
probes = probe_eval_pairs(P)
print(
    f"profile {P.name}: {len(probes)} HH-RLHF eval pairs (A = chosen, B = rejected), "
    f"lengths in {probes[0].unit}: "
    + ", ".join(f"{p.lengths[0]}/{p.lengths[1]}" for p in probes)
)
print("how each reward model was scored:", probes[0].methods)

# %% [markdown]
# ## The probe in the page (no kernel needed)
#
# The probe opens on a pair chosen by a fixed rule (`probe_rows`): the first
# held-out single-turn pair whose texts contain none of a short list of flag
# words (HH-RLHF also holds explicit red-team dialogues); the other pairs
# follow in the split's order. Pick one of the precomputed pairs and move the slider: the table shows each
# reward model's score of the two t-token prefixes, which prefix it prefers at
# t, which full response it prefers, and whether the two agree. Below, the
# prefix texts (the part not yet seen is grey). Everything was computed when
# the notebook ran; your browser only looks it up, so this version works in
# the rendered book but cannot score new text.

# %%
static_probe(probes, element_id="spprm-probe-eval")

# %% [markdown]
# ## The live probe (JupyterLab)
#
# The live version below runs the reward models in the notebook's kernel, so it
# also scores **your own text**: choose "your own text", type a prompt and two
# responses, press *Score*. It needs a running Python kernel, which the
# rendered book does not have: its output is hidden here. Open
# `notebooks/13_prefix_probe.ipynb` in JupyterLab (`.venv/bin/jupyter lab`,
# works offline) and run the notebook to use it. After a kernel restart the
# probe's controls are replaced by one line, "Kernel restarted: run this cell
# again". The prompt box shows a prompt from its first word: HH-RLHF prompts
# begin with a blank line before "Human:", and a prompt typed from "Human:"
# is scored with that blank line put back, as the reward models saw in
# training. Text is scored as text: a typed special token such as
# `<|im_end|>` is refused with a one-line error, not turned into a token.

# %% tags=["remove-output"]
models = load_probe_models(P)
live_probe(models, probes)

# %% [markdown]
# ## Agreement with the full-pair order, by prefix length
#
# Over the probe pairs: the fraction each reward model orders like its own
# verdict on the full responses, for every prefix length t. With this few
# pairs the curves are coarse. Notebooks 02 and 06 measure this quantity on many
# more pairs as `ar_rm_own`, next to the paper's formula `ar_rm_sc`, which
# compares with the human label instead and so differs whenever an RM's full
# order differs from the label.

# %%
curve = agreement_curve(probes)
top = max(
    1, int(sorted(p.max_t for p in probes)[len(probes) // 2])
)  # up to the median longer response
shown = curve[curve.t <= top]
fig, ax = plt.subplots(figsize=(7, 3.2))
for rm, colour in zip(shown.rm.unique(), ("tab:blue", "tab:orange", "tab:green")):
    part = shown[shown.rm == rm]
    ax.plot(part.t, part.agreement, label=rm, color=colour, lw=1.6)
ax.set(
    xlabel=f"prefix length t ({probes[0].unit})",
    ylabel="pairs ordered like in full",
    ylim=(-0.05, 1.05),
    title=f"Prefix probe: agreement with the full-pair order ({len(probes)} pairs, "
    f"profile {P.name})",
)
ax.legend()
publish_figure(fig, "13_prefix_probe_agreement", P)
summary = (
    shown.groupby("rm", sort=False)
    .agreement.mean()
    .rename("mean agreement, t = 1.." + str(top))
    .to_frame()
)
summary

# %% [markdown]
# A curve that stays near 1 from small t on belongs to a reward model whose
# judgement of partial answers already points where its judgement of the
# finished answers ends up; that is what a reward-guided search needs from its
# scorer. In the `smoke` profile the reward models are one- and two-layer cuts
# of SmolLM2 trained on a handful of pairs, so the curves only show that the
# code runs.

# %% [markdown] tags=["exercises"]
# ## Exercises
#
# ::::{exercise}
# :label: ex-13-one-pass
# The probe scores all prefixes of a response in one forward pass
# (`RewardModel.score_prefixes`). Predict whether that gives the same numbers
# as scoring every prefix text on its own with `RewardModel.score`, and how
# many forward passes each way needs for the first probe pair. Check it for
# each reward model in `models`.
# ::::
#
# ::::{solution} ex-13-one-pass
# :class: dropdown
#
# A causal reward model's output at a position depends only on the tokens
# before it, so in the `closed` convention each prefix gets its own closing
# tokens in the packed sequence, and the scores match those of separate calls
# up to rounding. One pass per response replaces one pass per prefix
# ($L_A + L_B$ of them, in batches).
#
# ```python
# import numpy as np
# import torch
#
# p = probes[0]
# for name, rm in models.items():
#     tol = (
#         1e-4 if rm.model.dtype == torch.float32 else 5e-2
#     )  # bf16 rounding differs between packings
#     worst = 0.0
#     for side in (0, 1):
#         ts = range(1, p.lengths[side] + 1)
#         alone = (
#             rm.score(
#                 [p.prompt] * len(ts), [p.prefix(side, t) for t in ts]
#             )
#             .float()
#             .numpy()
#         )
#         worst = max(
#             worst,
#             float(
#                 np.abs(alone - np.array(p.scores[name][side][1:])).max()
#             ),
#         )
#     print(
#         f"{name}: {p.methods[name]}, {sum(p.lengths)} prefixes, "
#         f"largest difference {worst:.2e}"
#     )
#     assert worst <= tol * (1 + np.abs(p.scores[name][0]).max())
# ```
# ::::
#
# ::::{exercise}
# :label: ex-13-window
# A reward model sees at most `max_length` tokens (this profile:
# `P.reward.max_length`). The prompt keeps at most
# `max_length - closing - response_budget` tokens, cut from the left and the
# same for every response of that prompt (so a prefix's score never depends on
# the rest of its response); the response keeps its first tokens that fit
# beside it (`Encoded.kept`, at least `response_budget`). Predict what the
# probe's score curve does for $t$ past the kept tokens. Then build a copy of
# the ORM with a window so small that only half of response A fits, predict
# `kept` from the rule, and check both.
# ::::
#
# ::::{solution} ex-13-window
# :class: dropdown
#
# Past the window every prefix is scored as the kept response: the curve is
# flat there (up to rounding: the one-pass packing puts each copy at another
# place), and the probe cannot tell what the rest of the response says.
# With a response budget of `W` and a window of `closing + context + W`
# tokens (`context`: the prompt as the ORM reads it) exactly
# $\min(W, L_A)$ response tokens are kept. The same holds for the profile's own
# window: check every probe pair.
#
# ```python
# from sp_prm_lib.scoring.reward_model import RewardModel
#
# orm = models["ORM"]
# f = orm.formatter
# tol = 1e-4 if orm.model.dtype == torch.float32 else 5e-2
# cut = []
# for q in probes:  # the profile's own window
#     for side in (0, 1):
#         kept = f.encode([q.prompt], [q.responses[side]])[0].kept
#         if kept < q.lengths[side]:
#             cut.append(
#                 f"{q.pair_id} {q.labels[side]}: "
#                 f"{kept} of {q.lengths[side]} tokens"
#             )
#         assert (
#             np.ptp(q.scores["ORM"][side][kept:]) <= tol
#         )  # flat from the last kept token on
# print("responses cut by the window:", cut or "none")
# W = max(1, p.lengths[0] // 2)
# context = len(f.context_ids(p.prompt))  # the prompt, cut by the window
# small = RewardModel(
#     orm.model,
#     orm.tokenizer,
#     convention=orm.convention,
#     max_length=len(f.closing) + context + W,
#     response_budget=W,
# )
# kept = small.formatter.encode([p.prompt], [p.responses[0]])[0].kept
# curve = small.score_prefixes([p.prompt], [p.responses[0]])[0]
# print(
#     (
#         f"window {small.formatter.max_length}: "
#         f"{kept} of {p.lengths[0]} tokens kept;"
#     ),
#     curve.numpy().round(3),
# )
# assert (
#     kept == min(W, p.lengths[0])
#     and float(curve[kept:].max() - curve[kept:].min()) <= tol
# )
# ```
# ::::
#
# ::::{exercise}
# :label: ex-13-t-zero
# The agreement curve starts at $t = 1$. Predict the agreement of every
# reward model at $t = 0$ for every pair, and explain it from the definition.
# ::::
#
# ::::{solution} ex-13-t-zero
# :class: dropdown
#
# At $t = 0$ both prefixes are the empty response: the same input, a tie for
# every reward model, and a tie does not agree. So the agreement at $t = 0$ is
# False everywhere, which says nothing about the reward model; the curve
# leaves it out.
#
# ```python
# for q in probes:
#     assert q.identical()[0] and not any(
#         q.agreement(rm)[0] for rm in q.rms
#     )
# print(
#     f"t = 0 is a tie for all {len(probes)} pairs and "
#     f"{len(probes[0].rms)} reward models"
# )
# ```
# ::::
