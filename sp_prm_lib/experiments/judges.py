"""The profile's HP judge (``analysis.judge``): the judge itself, its identity for cache keys,
its name in words, and whether it is independent of the reward models under test.

The agreement analyses (notebooks 03, 06), the decoding tables (win-tie, notebook 07), the
case studies and the prefix probe all ask the same judge, so it is built here once.
"""

from __future__ import annotations

from sp_prm_lib import judge as judge_mod
from sp_prm_lib.config.profile import ModelSpec, Profile
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.experiments.gold_lab import gold_identity, profile_gold
from sp_prm_lib.experiments.reward_models import ensure_reference


def profile_judge(profile: Profile, store: ArtifactStore | None = None, *, reference_rm=None):
    """The HP judge named by ``analysis.judge`` (``rm-proxy``: the profile's reference RM;
    ``reference_rm``: that model when the caller has it loaded already)."""
    a = profile.analysis
    if a.judge == "rm-proxy":
        rm = reference_rm if reference_rm is not None else ensure_reference(profile, store).load(profile)
        return judge_mod.make_judge("rm-proxy", rm=rm, name="rm-proxy:reference")
    if a.judge == "api":
        return judge_mod.make_judge("api", model=a.judge_model)
    if a.judge == "gold":
        return judge_mod.make_judge("gold", gold=profile_gold(profile), eps=profile.gold.tie_eps)
    spec = ModelSpec(
        id=a.judge_model or profile.policy.id,
        source="package" if a.judge_model is None else "hub",
        dtype=profile.policy.dtype,
    )
    return judge_mod.make_judge("local-lm", spec=spec)


def profile_judge_identity(profile: Profile) -> dict:
    """What decides the profile's judge's verdicts (backend, the model actually used, endpoint):
    part of the cache key of every judged result."""
    a = profile.analysis
    if a.judge == "gold":
        return {"backend": "gold", **gold_identity(profile)}
    model = a.judge_model if a.judge != "local-lm" else (a.judge_model or profile.policy.id)
    return judge_mod.judge_identity(a.judge, model=model)


def judge_name(profile: Profile) -> str:
    """The judge backend in words, for tables and the book."""
    a = profile.analysis
    if a.judge == "rm-proxy":
        spec = profile.reward.reference.model
        return f"rm-proxy (the reference RM {spec.id}, {spec.num_layers or 'all'} layers, as judge)"
    if a.judge == "gold":
        return f"gold ({profile.gold.describe()})"
    return f"{a.judge} ({a.judge_model or 'default model'})"


def judge_is_independent(profile: Profile) -> bool:
    """Whether the HP judge is independent of the reward models under test: the gold or an outside
    judge is; the rm-proxy judge (the reference RM, trained on the same labels and used by SP-PRM's
    Eq. 3) is not, so claims it tests can at most be inconclusive."""
    return profile.analysis.judge != "rm-proxy"
