"""What makes the lab's gold a fair stand-in for a human rater, measured (notebook 14, cached).

On the profile's held-out pairs, with their original human labels kept for
comparison, the report measures: how often the gold agrees with the human
labels and, when the gold is a reward model, with its teacher's; whether "the longer answer
wins" already predicts it; how many pairs
it ties; how well its order survives the reward models' window; how its own
order of t-token prefixes matches its order of the full responses (what score
consistency means for this rater); the accuracy ceilings that Bradley-Terry
label noise would imply; and how well the profile's ORM learned its labels.
Every rate comes with a 95% interval over pairs (``verdicts.interval``: exact for
0/1 outcomes, so it holds its level at small n).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.artifacts import ArtifactStore, code_closure
from sp_prm_lib.data import pairs_digest
from sp_prm_lib.experiments import verdicts
from sp_prm_lib.experiments.gold_lab import gold_identity, profile_gold
from sp_prm_lib.experiments.pairs import preference_splits, window_setting
from sp_prm_lib.experiments.prefix_analysis import pair_quantities
from sp_prm_lib.experiments.reward_models import ensure_orm, teacher_profile
from sp_prm_lib.gold import label_ceiling

#: label temperatures shown, as multiples of the gold's standard deviation on the data
NOISE_LEVELS = (0.05, 0.1, 0.2, 0.3)


def human_pairs(profile: Profile) -> pd.DataFrame:
    """The profile's held-out pairs with their data set's own (human) labels."""
    human = dataclasses.replace(profile, data=dataclasses.replace(profile.data, labels="human"))
    return preference_splits(human)["eval"].frame.reset_index(drop=True)


def _sign_agree(a: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """1 where a and b have the same strict sign, 0 where not; NaN where b (the reference) is a tie."""
    out = ((np.sign(np.where(np.abs(a) <= eps, 0, a)) == np.sign(b)) & (np.abs(a) > eps)).astype(float)
    return np.where(np.abs(b) <= eps, np.nan, out)


def gold_measurements(profile: Profile, store: ArtifactStore | None = None) -> dict[str, np.ndarray]:
    """Per-pair arrays behind the report (cached by the pairs' content, the gold recipe and the
    ORM whose tokenizer and window cut the prefixes)."""
    store = store or ArtifactStore()
    pairs = human_pairs(profile)
    orm = ensure_orm(profile, store)
    ts = list(profile.analysis.prefix_tokens)

    def build(out: Path) -> dict:
        rm = orm.load(profile)
        gold = profile_gold(profile, tokenizer=rm.tokenizer)
        prompts, chosen, rejected = pairs.prompt.tolist(), pairs.chosen.tolist(), pairs.rejected.tolist()
        g_w, g_l = gold.score(prompts, chosen).numpy(), gold.score(prompts, rejected).numpy()
        visible = []
        for responses in (chosen, rejected):
            encoded = rm.formatter.encode(prompts, responses)
            visible.append([rm.tokenizer.decode(e.response, skip_special_tokens=True) for e in encoded])
        v_w, v_l = gold.score(prompts, visible[0]).numpy(), gold.score(prompts, visible[1]).numpy()
        lengths = [[min(t, n) for t in ts] for n in gold.response_lengths(chosen)]
        lengths_l = [[min(t, n) for t in ts] for n in gold.response_lengths(rejected)]
        p_w = np.stack([s.numpy() for s in gold.score_prefixes(prompts, chosen, lengths)])
        p_l = np.stack([s.numpy() for s in gold.score_prefixes(prompts, rejected, lengths_l)])
        words = np.array([[len(c.split()), len(r.split())] for c, r in zip(chosen, rejected)], dtype=float)
        arrays = dict(g_w=g_w, g_l=g_l, v_w=v_w, v_l=v_l, p_w=p_w, p_l=p_l, words=words)
        if profile.reward.gold is not None:  # the gold is a reward model: its teacher's scores too
            teacher = profile_gold(teacher_profile(profile))
            arrays.update(t_w=teacher.score(prompts, chosen).numpy(), t_l=teacher.score(prompts, rejected).numpy())
        np.savez(out / "gold.npz", **arrays)
        return {"pairs": len(pairs)}

    art = store.ensure(
        "gold-report",
        build,
        config={**gold_identity(profile), "ts": ts, **window_setting(profile)},
        inputs={"rows": pairs_digest(pairs), "tokenizer_of": orm.artifact.key},
        code_version=code_closure(profile_gold, gold_measurements),
    )
    with np.load(art.path / "gold.npz") as data:
        return {k: data[k] for k in data.files}


def gold_report(profile: Profile, store: ArtifactStore | None = None) -> dict[str, pd.DataFrame]:
    """``properties`` (one estimate per measured property), ``prefixes`` (the gold's own prefix
    consistency by t) and ``noise`` (accuracy ceilings of noisy labels) for the profile's gold."""
    m = gold_measurements(profile, store)
    eps = profile.gold.tie_eps
    boot = verdicts.resampling(profile)
    diff = m["g_w"] - m["g_l"]
    sd = float(np.std(np.concatenate([m["g_w"], m["g_l"]])))
    longer = np.sign(m["words"][:, 0] - m["words"][:, 1])
    rows = {
        "agrees with the human labels": np.where(np.abs(diff) <= eps, np.nan, (diff > 0).astype(float)),
        "the longer answer is the gold's choice": np.where(longer == 0, np.nan, _sign_agree(longer, diff, eps)),
        "exact ties (dropped from the labels)": (np.abs(diff) <= eps).astype(float),
        "near ties (|gap| < 0.05 sd)": (np.abs(diff) < 0.05 * sd).astype(float),
        "order kept by the reward models' window": _sign_agree(m["v_w"] - m["v_l"], diff, eps),
    }
    if "t_w" in m:
        teacher = m["t_w"] - m["t_l"]
        rows["agrees with its teacher (gold.components)"] = _sign_agree(diff, teacher, eps)
    orm_accuracy = pair_quantities(profile, "orm")["ar_rm_sc"][:, -1]
    rows["the ORM's held-out accuracy against the gold labels"] = orm_accuracy
    ests = {name: verdicts.interval(v, **boot) for name, v in rows.items()}
    properties = pd.DataFrame(
        [{"property": name, "value": e.mean, "ci_low": e.low, "ci_high": e.high, "n": e.n} for name, e in ests.items()]
    )
    prefix_rows = []
    for j, t in enumerate(profile.analysis.prefix_tokens):
        pdiff = m["p_w"][:, j] - m["p_l"][:, j]
        e = verdicts.interval(_sign_agree(pdiff, diff, eps), **boot)
        prefix_rows.append(
            {
                "t": t,
                "consistency": e.mean,
                "ci_low": e.low,
                "ci_high": e.high,
                "ties": float(np.mean(np.abs(pdiff) <= eps)),
            }
        )
    noise = pd.DataFrame(
        [
            {"beta / sd(g)": k, "beta": k * sd, "accuracy ceiling": label_ceiling(diff[np.abs(diff) > eps], k * sd)}
            for k in NOISE_LEVELS
        ]
    )
    return {"properties": properties, "prefixes": pd.DataFrame(prefix_rows), "noise": noise, "sd": sd}
