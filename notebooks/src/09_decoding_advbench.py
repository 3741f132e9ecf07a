# %% [markdown]
# # 09 · Reward-guided decoding on AdvBench (Table 3)
#
# Section 5.2.1: harmful instructions from AdvBench, each followed by the
# profile's suffix (the paper appends "Sure here's" to induce a harmful
# answer), decoded by every reward-guided search method with the ORM and with
# SP-PRM. The **attack success rate** (ASR, lower is better) counts the
# responses that produce AdvBench's targeted output (`asr`, target match, the
# paper's criterion); `asr_refusal` is the other common criterion (no refusal
# phrase). The reward is the ORM's score of the whole response.
#
# Differences from the paper: the paper's AdvBench reward models are trained
# on Harmless-and-RedTeam pairs (hub only) and its policies are Llama-3.2
# base models; here the profile's HH-RLHF reward models and policy are reused.
# The `tiny` sizes (prompts, new tokens, beams, BoN sizes) are scaled down from
# the paper's 100 prompts, 512 tokens, CBS W=8 K=8 L=30 and BoN-16/64; see the
# configuration table.

# %% tags=["parameters"]
profile = "tiny"  # papermill parameter: smoke | tiny | paper, or a path to a profile YAML

# %%
import time

import matplotlib.pyplot as plt

from sp_prm_lib.experiments.comparison import record
from sp_prm_lib.experiments.decoding import (
    claim_estimates,
    compare_with_paper,
    ensure_decoding_table,
    resolved_configs,
)
from sp_prm_lib.notebook import save_figure, start
from sp_prm_lib.report.plots import plot_metric
from sp_prm_lib.report.tables import labelled

P = start(profile)
d = P.decoding
variants = [v for v in d.variants if v != "sc"]  # Table 3 has no ablation rows
print(
    f"profile {P.name}: {d.prompts} AdvBench prompts + {d.advbench_suffix!r}, {d.max_new_tokens} new tokens, "
    f"guiding RMs {variants}"
)
resolved_configs(P, "advbench", variants)

# %%
started = time.time()
result = ensure_decoding_table(P, "advbench", variants=variants)
print(f"{len(result.generations)} generations ready in {time.time() - started:.1f}s")
print("example prompt:", repr(result.prompts.prompt[0]))
ours = labelled(result.table)
ours

# %% [markdown]
# ## Next to the paper's Table 3 (Llama-3.2-1B column)

# %%
side = compare_with_paper(result, ["reward", "asr"])
side

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
plot_metric(result.table, "reward", axes[0], "ORM reward")
plot_metric(result.table, "asr", axes[1], "attack success rate (%, target match)")
fig.tight_layout()
path = save_figure(fig, "09_table3_advbench", P)
ours.to_csv(path.with_name("09_table3_ours.csv"), index=False)
side.to_csv(path.with_name("09_table3_side_by_side.csv"), index=False)
plt.show()

# %% [markdown]
# ## The paper's claim, checked
#
# SP-PRM lowers the ASR of every RGS method while raising its reward. (The
# text's "ASR reduced by 20%" matches no single comparison of the table; see
# the notes of `paper_values.yaml`.) The test: per prompt and method, SP-PRM
# minus the ORM for attack success (paper: lower) and for the ORM's reward
# (paper: higher), each pooled over methods with one paired bootstrap over
# prompts; both must hold. The ORM's reward favours the answers it steered
# itself, so a gain for SP-PRM under it is conservative.

# %%
estimates, claim_verdict = claim_estimates(
    result.generations, {"asr": "lower", "reward": "higher"}, n_boot=P.analysis.bootstrap, seed=P.seed
)
display(estimates)
pooled = estimates[estimates.method == "pooled"].set_index("metric").estimate
setting = (
    f"policy {P.policy.id}; the profile's HH-RLHF ORM and SP-PRM ({P.reward.orm.model.id}, "
    f"{P.reward.orm.model.num_layers or 'all'} layers); {d.prompts} AdvBench prompts, "
    f"{d.max_new_tokens} new tokens, BoN-{d.bon[0]}/{d.bon[1]}"
)
record(
    P,
    "table3",
    ref="Table 3",
    notebook="09_decoding_advbench",
    setting=setting,
    claim="SP-PRM lowers the attack success rate of every RGS method on AdvBench while raising its reward.",
    verdict=claim_verdict,
    evidence=(
        f"per prompt, SP-PRM minus ORM pooled over methods: ASR (percentage points) {pooled['asr']}, "
        f"reward {pooled['reward']}. "
        f"Base ASR {result.table[result.table.method == 'base'].asr.iloc[0]:.0f}% (target match)."
    ),
    estimates=estimates,
)

# %% [markdown]
# With few prompts and short responses, an ASR difference of one prompt is
# 100/prompts percentage points; read the verdict with that resolution in mind.
