# %% [markdown]
# # 11 · Ablations: truncation, the reference RM, and the weights
#
# Three questions the paper raises about its own design (section 5.3) and one
# about its released code:
#
# 1. **TLT vs SST** (Table 5): cut every pair at every position (token-level
#    truncation) or at a few random positions (stochastic sampling truncation)?
#    At equal data size the paper finds SST slightly better.
# 2. **Without the reference RM** (section 5.3.2, Table 1 "+Ablation"): Eq. 2
#    (score consistency only) instead of Eq. 3. The paper reports lower reward,
#    diversity and coherence.
# 3. **Weights**: $1/H_t$ is unbounded; we clamp it by default. What do raw,
#    clamped and batch-normalised weights look like on this profile's data?
# 4. **The released code's behaviour**: its trainer never reads the weights, so
#    it trains on the filtered pairs unweighted (`sp-prm-released`).
#
# The variants trained here are listed in the profile (`ablation.variants`);
# all start from the same ORM with the same data and seed.

# %% tags=["parameters"]
profile = "tiny"  # papermill parameter: smoke | tiny | paper

# %%
import matplotlib.pyplot as plt
import pandas as pd

from sp_prm_lib.evaluation.agreement import wide
from sp_prm_lib.experiments import comparison
from sp_prm_lib.experiments import prefix_analysis as analysis
from sp_prm_lib.experiments import reward_models as rms
from sp_prm_lib.notebook import start
from sp_prm_lib.report.plots import agreement_axis, plot_curve, publish_figure
from sp_prm_lib.report.tables import show_table
from sp_prm_lib.training.batches import batch_mean_weights

P = start(profile)
variants = ["sp-prm", *P.ablation.variants]
models = {"orm": rms.ensure_orm(P), **{v: rms.ensure_prm(P, v) for v in variants}}
print("variants:", ", ".join(f"{v} ({rms.PRM_VARIANTS[v]})" for v in variants))
show_table(
    rms.summary_table(models), caption="The ORM and the SP-PRM variants of the ablation"
)

# %% [markdown]
# ## Training data of each variant

# %%
show_table(
    rms.d_partial_summary({v: models[v] for v in variants}),
    caption="D_partial of each variant",
)

# %% [markdown]
# ## Score consistency of each variant
#
# AR<sub>RM-SC</sub>(t) on the held-out analysis pairs (as in notebook 06).

# %%
table = analysis.agreement_many(P, ["orm", *variants])
ar = table[table.metric == "ar_rm_sc"]
view = wide(ar, by="rm")[["orm", *variants]]
show_table(
    view, caption="AR_RM-SC(t) of the ORM and each variant; last row: full responses"
)

# %% tags=["remove-output"]
fig, ax = plt.subplots(figsize=(7, 3.4))
for role in ["orm", *variants]:
    plot_curve(ax, table, "ar_rm_sc", role, alpha=0.08)
agreement_axis(ax, f"Ablations, profile {P.name}", ylim=None)
ax.legend(fontsize=8)
publish_figure(fig, "11_ablation_ar_rm_sc", P, glue="fig-11-ablation-ar-rm-sc")

# %% [markdown]
# :::{glue:figure} fig-11-ablation-ar-rm-sc
# :name: fig-11-ablation-ar-rm-sc
#
# **AR<sub>RM-SC</sub>(t) of the ORM and of each SP-PRM variant**, with 95% bootstrap bands
# over the held-out pairs; the dotted line is chance. Look at whether any variant's band
# separates from the others: bands that overlap everywhere mean this profile cannot tell
# the variants apart.
# :::

# %% [markdown]
# ## The weights: raw $1/H_t$, clamped, normalised
#
# Computed from SP-PRM's $\mathcal{D}_{partial}$ (the reference RM's scores of
# each kept prefix pair). If the largest raw weight stays below the clamp, the
# clamped and raw variants train on identical weights and only one is trained.

# %%
d = rms.d_partial(models["sp-prm"])
clamp = P.reward.prm.weight_clamp
raw = d.raw_weight
batch = P.reward.prm.batch_size
normalised = batch_mean_weights(
    raw, d.pair, batch, P.reward.prm.batch_unit, seed=P.seed
)
weights = pd.DataFrame(
    {
        "raw 1/H": raw.describe(),
        f"clamped at {clamp:g}": raw.clip(upper=clamp).describe(),
        f"divided by the mean of each batch of {batch} pairs": normalised.describe(),
    }
).T
print(f"rows above the clamp: {(raw > clamp).sum()} of {len(raw)}")
show_table(
    weights.rename_axis("weights"),
    caption="Distribution of the Eq. 3 weights over D_partial rows",
)

# %% [markdown]
# ## Paper vs ours

# %%
ts = list(P.analysis.prefix_tokens)

summary = pd.DataFrame(
    [
        {
            "variant": v,
            "mean AR_RM-SC over t": round(
                float(ar[(ar.rm == v) & ar.t.notna()].value.mean()), 3
            ),
            "full-pair accuracy": round(
                float(analysis.value_at(table, "ar_rm_sc", None, v).value), 3
            ),
        }
        for v in ["orm", *variants]
    ]
)
show_table(
    summary, caption="Each variant's mean AR_RM-SC over t and its full-pair accuracy"
)

# %% [markdown]
# ## TLT vs SST in decoding (Table 5)
#
# The SP-PRM trained on TLT data (`sp-prm-tlt`, same number of training pairs,
# at most as many cuts per pair as SST draws on average: `reward.prm.tlt_max_cuts`)
# guides the same decoders on the same prompts as notebook 07; the SST rows are
# notebook 07's SP-PRM runs, read from the cache.

# %%
from sp_prm_lib.experiments.decoding import ensure_decoding_table
from sp_prm_lib.experiments.decoding_claims import check_claim
from sp_prm_lib.experiments.decoding_tables import order_rows
from sp_prm_lib.experiments.verdicts import shown

tlt_in = "sp-prm-tlt" in P.ablation.variants
decoded = ensure_decoding_table(
    P, "hh-rlhf", variants=["sp-prm", "sp-prm-tlt"] if tlt_in else ["sp-prm"]
)
ours5 = decoded.table[decoded.table.variant != "none"].copy()
ours5["truncation"] = ours5.variant.map({"sp-prm": "sst", "sp-prm-tlt": "tlt"})
ours5["variant"] = "sp-prm"
side5 = order_rows(
    comparison.side_by_side(
        "table5",
        ours5,
        on=["method", "variant", "truncation"],
        metrics=["reward", "diversity", "coherence", "win_tie"],
        paper_where={"model": "Llama-3-8B-Instruct"},
    )
)
show_table(
    side5,
    caption="Table 5: SST and TLT, the paper's values and ours, each on its own scale",
)

# %% [markdown]
# **The test.** "SST is at least as good as TLT" is a non-inferiority claim:
# per prompt, the reward with the SST-trained SP-PRM minus with the TLT-trained
# one, pooled over methods, may fall short by at most the margin
# `paper_values.yaml` states (half of Table 1's relative gain of SP-PRM over
# the ORM, times our TLT-guided mean reward). The reward is the gold's in the
# lab, else the ORM's (it steered neither of the two).

# %%
table5_setting = (
    f"profile {P.name}: both PRMs from the same ORM on "
    f"{P.reward.prm.train_pairs} pairs (SST K={P.reward.prm.K}; TLT at most "
    f"{P.reward.prm.tlt_max_cuts} evenly spaced cuts); {P.decoding.prompts} "
    f"HH-RLHF prompts, {P.decoding.max_new_tokens} new tokens"
)
if tlt_in:
    by = ours5.pivot(index="method", columns="truncation", values="reward")
    table5 = check_claim(P, decoded.generations, "table5", against="sp-prm-tlt")
    display(show_table(shown(table5.results[""])))
    display(
        comparison.record(
            P,
            "table5",
            evidence="per prompt, the SST-trained SP-PRM minus the TLT-trained one: "
            f"{table5.evidence()} ORM reward higher with SST for "
            f"{int((by.sst > by.tlt).sum())} of {len(by)} methods; mean AR_RM-SC over "
            f"t: SST {ar[(ar.rm == 'sp-prm') & ar.t.notna()].value.mean():.3f}, TLT "
            f"{ar[(ar.rm == 'sp-prm-tlt') & ar.t.notna()].value.mean():.3f}.",
            setting=table5_setting,
            table=by.reset_index(),
            **table5.record_kwargs(),
        )
    )
else:
    display(
        comparison.record_not_run(
            P,
            "table5",
            "the profile's ablation.variants leave out sp-prm-tlt",
            setting=table5_setting,
        )
    )

# %% [markdown]
# ## The weights and the released code
#
# Two deviations are documented, not paper claims: the clamp (the paper's
# $1/H_t$ is unbounded) and applying the weights at all (the released trainer
# drops them). The summary above shows what each changes on this profile;
# below, the spread between variants next to the width of one variant's
# bootstrap interval says whether they can be told apart at this many pairs.

# %%
spread = summary.set_index("variant")["mean AR_RM-SC over t"]
rows = ar[(ar.rm == "sp-prm") & ar.t.notna()]
half_width = float(((rows.ci_high - rows.ci_low) / 2).mean())
print(
    f"mean AR_RM-SC over t across variants: {spread.min():.3f} to {spread.max():.3f} "
    f"(spread {spread.max() - spread.min():.3f}); mean 95% CI half-width of one "
    f"variant: {half_width:.3f}"
)
print(
    "the variants differ by more than one CI half-width"
    if spread.max() - spread.min() > half_width
    else "the variants differ by less than one CI half-width: not distinguishable here"
)

# %% [markdown] tags=["exercises"]
# ## Exercises
#
# ::::{exercise}
# :label: ex-11-tlt-rows
# Take the training pairs' lengths from the SC model's $\mathcal{D}_{partial}$ (its full rows, before
# any filter) and build TLT data with `build_partial_pairs(..., method="tlt")`, once capped at
# `P.reward.prm.tlt_max_cuts` cuts per pair and once uncapped, and SST data with the profile's $K$.
# Predict both TLT row counts exactly from $T = \max(|y^w|, |y^l|)$ first. Why does the paper compare
# TLT and SST "at equal data size", and how does this profile make the sizes comparable?
# ::::
#
# ::::{solution} ex-11-tlt-rows
# :class: dropdown
#
# TLT cuts a pair at every $t = 1..T-1$, so it has $\sum_i (T_i - 1)$ prefix rows (plus one full row per
# pair): it grows with response length, while SST draws about $K$ cuts per pair whatever the length.
# The cap keeps $\min(T_i - 1, m)$ evenly spaced cuts, which puts TLT at about SST's size.
#
# ```python
# import numpy as np
# from sp_prm_lib.training.truncation import build_partial_pairs
#
# full = (
#     rms.d_partial(rms.ensure_prm(P, "sc"))
#     .query("full")
#     .sort_values("pair")
# )
# Lw, Ll = full.chosen_len.tolist(), full.rejected_len.tolist()
# T = np.maximum(Lw, Ll)
# m = P.reward.prm.tlt_max_cuts
# capped = build_partial_pairs(Lw, Ll, method="tlt", max_cuts=m)
# uncapped = build_partial_pairs(Lw, Ll, method="tlt")
# sst = build_partial_pairs(
#     Lw, Ll, method="sst", K=P.reward.prm.K, seed=P.seed
# )
# print(
#     f"{len(T)} pairs: TLT {len(uncapped)} rows, "
#     f"TLT capped at {m} cuts {len(capped)}"
# )
# print(f"SST (K={P.reward.prm.K}) {len(sst)} rows")
# assert len(uncapped) == len(T) + np.clip(T - 1, 0, None).sum()
# assert (
#     len(capped) == len(T) + np.minimum(np.clip(T - 1, 0, None), m).sum()
# )
# ```
# ::::
#
# ::::{exercise}
# :label: ex-11-batch-mean
# The `batch-mean` weighting divides each raw weight $1/H_t$ by the mean weight of its batch. Using
# `batch_mean_weights` on SP-PRM's raw weights `raw` with batches of `batch` preference pairs
# (`batch_unit="pairs"`), predict (a) the mean of the new weights inside each batch and (b) what
# happens if every raw weight is multiplied by 1000. What does (b) say about the size of $1/H_t$?
# ::::
#
# ::::{solution} ex-11-batch-mean
# :class: dropdown
#
# Each batch averages to exactly 1, and the result is scale-free: multiplying all weights by a
# constant changes nothing, so only the relative confidence of the reference RM within a batch
# matters, not how large $1/H_t$ gets. A batch here is `batch` consecutive pairs with all their cuts.
#
# ```python
# import numpy as np
# from sp_prm_lib.training.batches import batch_mean_weights
#
# normalised_pairs = batch_mean_weights(raw, d.pair, batch, "pairs")
# batch_of_row = (d.pair.rank(method="dense").astype(int) - 1) // batch
# means = normalised_pairs.groupby(batch_of_row).mean()
# print(
#     f"{len(means)} batches; mean weight per batch: "
#     f"{means.round(6).tolist()}"
# )
# assert np.allclose(means, 1.0)
# assert np.allclose(
#     batch_mean_weights(raw * 1000, d.pair, batch, "pairs"),
#     normalised_pairs,
# )
# ```
# ::::
#
# ::::{exercise}
# :label: ex-11-released
# The released code's variant `sp-prm-released` uses the same reference RM and seed as SP-PRM but
# never reads the weights. Before looking, predict how its $\mathcal{D}_{partial}$ compares with
# SP-PRM's: the same rows or not, and which weights.
# ::::
#
# ::::{solution} ex-11-released
# :class: dropdown
#
# The cuts (same seed) and the reference filter are the same, so the rows are the same; only the
# `weight` column differs: 1 everywhere instead of $\min(1/H_t, \text{clamp})$.
#
# ```python
# import numpy as np
#
# released = rms.d_partial(rms.ensure_prm(P, "sp-prm-released"))
# ours = rms.d_partial(models["sp-prm"])
# print(
#     f"rows: released {len(released)}, SP-PRM {len(ours)}; "
#     f"released weights {sorted(set(released.weight))}"
# )
# assert released[["pair", "t", "chosen_len", "rejected_len"]].equals(
#     ours[["pair", "t", "chosen_len", "rejected_len"]]
# )
# assert np.all(released.weight == 1.0)
# ```
# ::::
