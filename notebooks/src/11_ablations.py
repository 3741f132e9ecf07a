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
from sp_prm_lib.notebook import save_figure, start
from sp_prm_lib.training.trainer import batch_mean_weights

P = start(profile)
variants = ["sp-prm", *P.ablation.variants]
models = {"orm": rms.ensure_orm(P), **{v: rms.ensure_prm(P, v) for v in variants}}
print("variants:", ", ".join(f"{v} ({rms.PRM_VARIANTS[v]})" for v in variants))
rms.summary_table(models)

# %% [markdown]
# ## Training data of each variant

# %%
rms.d_partial_summary({v: models[v] for v in variants})

# %% [markdown]
# ## Score consistency of each variant
#
# AR<sub>RM-SC</sub>(t) on the held-out analysis pairs (as in notebook 06).

# %%
table = analysis.agreement_many(P, ["orm", *variants])
ar = table[table.metric == "ar_rm_sc"]
view = wide(ar, by="rm")[["orm", *variants]]
fig, ax = plt.subplots(figsize=(7, 3.4))
for role in ["orm", *variants]:
    rows = ar[(ar.rm == role) & ar.t.notna()]
    ax.plot(rows.t, rows.value, "o-", ms=4, label=role)
ax.axhline(0.5, color="grey", ls=":", lw=1)
ax.set(xlabel="prefix length t (tokens)", ylabel="AR$_{RM-SC}$(t)", title=f"Ablations, profile {P.name}")
ax.legend(fontsize=8)
save_figure(fig, "11_ablation_ar_rm_sc", P)
plt.show()
view.round(3)

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
normalised = batch_mean_weights(raw, d.pair, batch, P.reward.prm.batch_unit, seed=P.seed)
weights = pd.DataFrame(
    {
        "raw 1/H": raw.describe(),
        f"clamped at {clamp:g}": raw.clip(upper=clamp).describe(),
        f"divided by the mean of each batch of {batch} pairs": normalised.describe(),
    }
).T
print(f"rows above the clamp: {(raw > clamp).sum()} of {len(raw)}")
weights.round(3)

# %% [markdown]
# ## Paper vs ours

# %%
ts = list(P.analysis.prefix_tokens)

summary = pd.DataFrame(
    [
        {
            "variant": v,
            "mean AR_RM-SC over t": round(float(ar[(ar.rm == v) & ar.t.notna()].value.mean()), 3),
            "full-pair accuracy": round(float(analysis.value_at(table, "ar_rm_sc", None, v).value), 3),
        }
        for v in ["orm", *variants]
    ]
)
summary

# %% [markdown]
# ## TLT vs SST in decoding (Table 5)
#
# The SP-PRM trained on TLT data (`sp-prm-tlt`, same number of training pairs,
# at most as many cuts per pair as SST draws on average: `reward.prm.tlt_max_cuts`)
# guides the same decoders on the same prompts as notebook 07; the SST rows are
# notebook 07's SP-PRM runs, read from the cache.

# %%
from sp_prm_lib.experiments.decoding import claim_estimates, ensure_decoding_table, order_rows, reward_metric
from sp_prm_lib.experiments.prefix_analysis import judge_is_independent

tlt_in = "sp-prm-tlt" in P.ablation.variants
decoded = ensure_decoding_table(P, "hh-rlhf", variants=["sp-prm", "sp-prm-tlt"] if tlt_in else ["sp-prm"])
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
side5.round(3)

# %%
if tlt_in:
    by = ours5.pivot(index="method", columns="truncation", values="reward")
    metric = reward_metric(decoded.generations, judge_is_independent(P))
    claim_table, sst_verdict = claim_estimates(
        decoded.generations,
        {metric: "higher"},
        against="sp-prm-tlt",
        n_boot=P.analysis.bootstrap,
        seed=P.seed,
    )
    display(claim_table)
    display(
        comparison.record(
            P,
            "table5",
            ref="Table 5",
            notebook="11_ablations",
            claim="SST is at least as good as TLT at comparable data size (higher reward for 5 of 6 methods).",
            verdict=sst_verdict,
            evidence=f"per prompt, the {metric.replace('_', ' ')} with the SST-trained SP-PRM minus with the "
            f"TLT-trained one, pooled over methods: {claim_table.estimate.iloc[-1]}; ORM reward higher with SST "
            f"for {int((by.sst > by.tlt).sum())} of {len(by)} methods; mean AR_RM-SC over t: SST "
            f"{ar[(ar.rm == 'sp-prm') & ar.t.notna()].value.mean():.3f}, TLT "
            f"{ar[(ar.rm == 'sp-prm-tlt') & ar.t.notna()].value.mean():.3f}.",
            setting=f"profile {P.name}: both PRMs from the same ORM on {P.reward.prm.train_pairs} pairs "
            f"(SST K={P.reward.prm.K}; TLT at most {P.reward.prm.tlt_max_cuts} evenly spaced cuts); "
            f"{P.decoding.prompts} HH-RLHF prompts, {P.decoding.max_new_tokens} new tokens",
            table=by.reset_index(),
            estimates=claim_table,
        )
    )
else:
    print("sp-prm-tlt is not in ablation.variants of this profile: Table 5 is not run")

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
    f"(spread {spread.max() - spread.min():.3f}); mean 95% CI half-width of one variant: {half_width:.3f}"
)
print(
    "the variants differ by more than one CI half-width"
    if spread.max() - spread.min() > half_width
    else "the variants differ by less than one CI half-width: not distinguishable here"
)
