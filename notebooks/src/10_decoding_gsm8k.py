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
variants = [v for v in d.variants if v != "sc"]  # Table 4 has no ablation rows
print(
    f"profile {P.name}: {d.prompts} GSM8K questions, {d.max_new_tokens} new tokens, "
    f"BoN-{d.gsm8k_bon[0]}/{d.gsm8k_bon[1]}, guiding RMs {variants}"
)
resolved_configs(P, "gsm8k", variants)

# %%
started = time.time()
result = ensure_decoding_table(P, "gsm8k", variants=variants)
print(f"{len(result.generations)} generations ready in {time.time() - started:.1f}s")
finished = (result.generations.finish == "eos").mean()
print(f"responses that ended before the token limit: {finished:.0%}")
ours = labelled(result.table)
ours

# %% [markdown]
# ## Next to the paper's Table 4 (Llama-3.2-1B column)

# %%
side = compare_with_paper(result, ["reward", "accuracy"])
side

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
plot_metric(result.table, "reward", axes[0], "ORM reward")
plot_metric(result.table, "accuracy", axes[1], "accuracy (%, final-number match)")
fig.tight_layout()
path = save_figure(fig, "10_table4_gsm8k", P)
ours.to_csv(path.with_name("10_table4_ours.csv"), index=False)
side.to_csv(path.with_name("10_table4_side_by_side.csv"), index=False)
plt.show()

# %% [markdown]
# ## The paper's claim, checked
#
# SP-PRM raises the reward and the accuracy of every RGS method on GSM8K. The
# test: per question and method, SP-PRM minus the ORM for the ORM's reward and
# for correctness, each pooled over methods with one paired bootstrap over
# questions; both must be higher.

# %%
estimates, claim_verdict = claim_estimates(
    result.generations, {"reward": "higher", "accuracy": "higher"}, n_boot=P.analysis.bootstrap, seed=P.seed
)
display(estimates)
pooled = estimates[estimates.method == "pooled"].set_index("metric").estimate
setting = (
    f"policy {P.policy.id}; the profile's HH-RLHF ORM and SP-PRM ({P.reward.orm.model.id}, "
    f"{P.reward.orm.model.num_layers or 'all'} layers); {d.prompts} GSM8K questions, "
    f"{d.max_new_tokens} new tokens, BoN-{d.gsm8k_bon[0]}/{d.gsm8k_bon[1]}; accuracy by final-number match"
)
record(
    P,
    "table4",
    ref="Table 4",
    notebook="10_decoding_gsm8k",
    setting=setting,
    claim="SP-PRM raises the reward and the accuracy of every RGS method on GSM8K.",
    verdict=claim_verdict,
    evidence=(
        f"per question, SP-PRM minus ORM pooled over methods: reward {pooled['reward']}, accuracy "
        f"(percentage points) {pooled['accuracy']}; mean accuracy {result.table.accuracy.mean():.0f}% "
        f"({finished:.0%} of responses finished)."
    ),
    estimates=estimates,
)
