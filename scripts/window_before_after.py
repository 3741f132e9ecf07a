"""Observations 1-4 and Fig. 5 under the old and the new reward-model window, with the same RMs.

    python scripts/window_before_after.py --profile smoke [--roles orm reference sp-prm]

The old window (before issue 23) cut a prompt's context from the left by
``max_length - len(closing) - len(full response)`` (down to 32 tokens), so a
prefix's context depended on how long the rest of its response was, and the
two sides of a pair saw different contexts. The new one (``scoring/inputs.py``)
cuts the context by the prompt only. This script takes a profile's cached
reward models as they are (trained under the old rule by an earlier
``make reproduce``: it looks their entries up by the profile's settings and
never trains; ``--models current``: the RMs of today's code, trained under the
new rule), scores the profile's analysis pairs under both rules, and
prints each agreement quantity at every prefix length with its 95%
interval (``verdicts.interval``), before, after and the paired change
(after - before), plus the share of pairs whose two sides got different contexts under the old rule.
The judge (HP) is the profile's: the gold (independent of the window) or the
rm-proxy reference RM (scored under each rule). The table also goes to
``results/window/<profile>.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.core.errors import SpPrmError
from sp_prm_lib.core.provenance import load_average
from sp_prm_lib.evaluation import agreement
from sp_prm_lib.experiments.pairs import reward_setting
from sp_prm_lib.experiments.prefix_analysis import UNIT, analysis_pairs, profile_judge
from sp_prm_lib.experiments.reward_models import TrainedRM, default_device, prm_train_config, trained_rm
from sp_prm_lib.experiments.verdicts import interval
from sp_prm_lib.report.window_page import record_markdown
from sp_prm_lib.scoring.inputs import Encoded, RewardFormatter

ROOT = Path(__file__).resolve().parent.parent
OLD_MIN_CONTEXT = 32
NEW_KEYS = ("response_budget", "window")  # cache-key entries that did not exist under the old rule


class OldWindowFormatter(RewardFormatter):
    """The window before issue 23: context cut by the length of the whole response."""

    def context_ids(self, prompt: str) -> list[int]:
        return self.rendered_context(prompt)

    def fit(self, context, response, closing) -> Encoded:
        budget = self.max_length - len(closing)
        keep_context = min(len(context), OLD_MIN_CONTEXT)
        length = len(response)
        response = list(response[: max(budget - keep_context, 0)])
        room = budget - len(response)
        if len(context) > room:
            context = context[len(context) - room :] if room > 0 else []
        return Encoded(list(context), response, list(closing), length)


def with_old_window(rm):
    """A copy of ``rm`` (same weights) that formats with the old window."""
    old = copy.copy(rm)
    f = rm.formatter
    old.formatter = OldWindowFormatter(rm.tokenizer, f.convention, max_length=f.max_length)
    return old


def expected_config(profile, role: str) -> dict:
    setting = {k: v for k, v in reward_setting(profile).items() if k not in NEW_KEYS}
    if role in ("orm", "reference"):
        spec = getattr(profile.reward, role)
        return {"role": role, "spec": dataclasses.asdict(spec), **setting}
    cfg = prm_train_config(profile, role)
    return {"role": role, "train": cfg.to_dict(), "train_pairs": profile.reward.prm.train_pairs, **setting}


def cached_rm(store: ArtifactStore, profile, role: str) -> TrainedRM:
    """The newest complete cache entry of ``role`` trained under the old window for this profile."""
    want = json.loads(json.dumps(expected_config(profile, role)))  # as a manifest stores it
    found = []
    for manifest in (store.root / f"rm-{role}").glob("*/manifest.json"):
        m = json.loads(manifest.read_text())
        config = m.get("config", {})
        if any(k in config for k in NEW_KEYS):
            continue  # trained under the new window: not the models the old numbers came from
        if config == want:
            found.append(m)
    if not found:
        raise SpPrmError(f"no cached rm-{role} entry of profile {profile.name!r} (run its `make reproduce` first)")
    m = max(found, key=lambda x: x["created"])
    art = store.lookup(f"rm-{role}", m["key"])
    if art is None:
        raise SpPrmError(f"rm-{role} entry {m['key']} is damaged")
    if role in ("orm", "reference"):
        spec = getattr(profile.reward, role).model
        if art.manifest["facts"].get("trained"):
            return TrainedRM(role, str(art.path / "model"), "local", spec.dtype, art, {})
        return TrainedRM(role, spec.id, spec.source, spec.dtype, art, {})
    return TrainedRM(role, str(art.path / "model"), "local", profile.reward.orm.model.dtype, art, {})


def context_split(rm, pairs) -> dict:
    """Under the old window: the share of pairs whose chosen and rejected responses got different
    contexts, and by how many tokens on average (over those pairs)."""
    f = with_old_window(rm).formatter
    prompts = pairs.prompt.tolist()
    enc_w, enc_l = f.encode(prompts, pairs.chosen.tolist()), f.encode(prompts, pairs.rejected.tolist())
    diff = np.array([len(a.context) - len(b.context) for a, b in zip(enc_w, enc_l)])
    differs = np.array([a.context != b.context for a, b in zip(enc_w, enc_l)])
    return {
        "pairs": len(pairs),
        "different_contexts": float(differs.mean()),
        "mean_abs_token_difference": float(np.abs(diff[differs]).mean()) if differs.any() else 0.0,
    }


def measure(profile, roles: list[str], store: ArtifactStore, device: str, models: str = "old") -> dict:
    pairs = analysis_pairs(profile)
    ts = list(profile.analysis.prefix_tokens)
    labels = [str(t) for t in ts] + ["full"]
    rms = {}
    for role in roles:
        trained = cached_rm(store, profile, role) if models == "old" else trained_rm(profile, role, store)
        rm = trained.load(profile, device)
        rms[role] = {"new": rm, "old": with_old_window(rm), "key": trained.artifact.key}
    unit_tok = rms[roles[0]]["new"].tokenizer
    # the judge's orders: rm-proxy scores prefix texts with the reference RM (under each window)
    hp = {}
    judge_kind = profile.analysis.judge
    if judge_kind == "rm-proxy":
        ref = rms["reference"] if "reference" in rms else None
        if ref is None:
            raise SpPrmError("the rm-proxy judge needs --roles to include reference")
        for rule in ("old", "new"):
            judge = profile_judge(profile, store, reference_rm=ref[rule])
            hp[rule] = agreement.judge_prefix_orders(judge, pairs, ts, UNIT, unit_tok)
    elif judge_kind == "gold":
        judge = profile_judge(profile, store)
        hp["old"] = hp["new"] = agreement.judge_prefix_orders(judge, pairs, ts, UNIT, unit_tok)
    else:
        raise SpPrmError(f"analysis.judge {judge_kind!r}: this script measures rm-proxy and gold judges only")
    per_pair = {}
    for role, m in rms.items():
        for rule in ("old", "new"):
            scores = agreement.rm_prefix_scores(m[rule], pairs, ts, UNIT)
            per_pair[(role, rule)] = agreement.per_pair_quantities(scores, hp[rule])
    boot = {"n_boot": max(profile.analysis.bootstrap, 1000), "seed": profile.seed}
    rows = []

    def add(name: str, role: str, label: str, old: np.ndarray, new: np.ndarray) -> None:
        e = {k: interval(v, **boot) for k, v in (("old", old), ("new", new), ("change", new - old))}
        rows.append(
            {
                "quantity": name,
                "rm": role,
                "t": label,
                **{f"{k}": [e[k].mean, e[k].low, e[k].high] for k in ("old", "new", "change")},
                "n": e["change"].n,
            }
        )

    metrics = ("ar_rm_sc", "ar_rm_own", "ar_rm_hp", "reward_gap")
    for role in roles:
        for metric in metrics:
            old, new = per_pair[(role, "old")][metric], per_pair[(role, "new")][metric]
            for j, label in enumerate(labels):
                add(metric, role, label, old[:, j], new[:, j])
            k = len(ts)  # pooled over the prefix lengths (not the full responses)
            add(metric, role, "pooled t", np.nanmean(old[:, :k], axis=1), np.nanmean(new[:, :k], axis=1))
    ar_sc_hp = {rule: per_pair[(roles[0], rule)]["ar_sc_hp"] for rule in ("old", "new")}
    for j, label in enumerate(labels):
        add("ar_sc_hp", "judge", label, ar_sc_hp["old"][:, j], ar_sc_hp["new"][:, j])
    k = len(ts)
    pairs_of_rms = [(a, "orm") for a in roles if a not in ("orm", "reference")] + (
        [("reference", "orm")] if {"orm", "reference"} <= set(roles) else []
    )
    for a, b in pairs_of_rms:  # Fig. 5 (a PRM minus the ORM) and obs. 4 (reference minus ORM), pooled over t
        diff = {
            rule: np.nanmean(per_pair[(a, rule)]["ar_rm_sc"][:, :k], axis=1)
            - np.nanmean(per_pair[(b, rule)]["ar_rm_sc"][:, :k], axis=1)
            for rule in ("old", "new")
        }
        add(f"ar_rm_sc {a} - {b}", f"{a}-{b}", "pooled t", diff["old"], diff["new"])
    return {
        "profile": profile.name,
        "pairs": len(pairs),
        "judge": judge_kind,
        "max_length": profile.reward.max_length,
        "response_budget": rms[roles[0]]["new"].formatter.response_budget,
        "models": {role: m["key"] for role, m in rms.items()},
        "old_window_contexts": {role: context_split(m["new"], pairs) for role, m in rms.items()},
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "smoke"))
    parser.add_argument("--roles", nargs="+", default=["orm", "reference", "sp-prm"])
    parser.add_argument("--out", default=str(ROOT / "results" / "window"))
    parser.add_argument(
        "--models",
        choices=("old", "current"),
        default="old",
        help="old: the RMs trained under the old window (cached by an earlier run; never trains); "
        "current: the profile's RMs of today's code (trained if missing), scored under both windows",
    )
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("SP_PRM_THREADS", "2")))
        profile = load_profile(args.profile)
        started = time.time()
        result = measure(profile, args.roles, ArtifactStore(), default_device(), args.models)
        result["models"] = args.models
        result["seconds"] = round(time.time() - started, 1)
        result["load_average"] = load_average()
    except SpPrmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{profile.name}.json").write_text(json.dumps(result, indent=1))
    print(record_markdown(result))
    load = result["load_average"]
    print(f"\n({result['seconds']} s, load average {'not reported' if load is None else f'{load[0]:.2f}'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
