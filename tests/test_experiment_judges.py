"""sp_prm_lib.experiments.judges: the profile's HP judge in words, its identity and independence."""

from __future__ import annotations

import dataclasses

import pytest

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.experiments.decoding_tasks import Task
from sp_prm_lib.experiments.judges import judge_is_independent, judge_name, profile_judge_identity


def _with_judge(profile, judge, model=None):
    return dataclasses.replace(profile, analysis=dataclasses.replace(profile.analysis, judge=judge, judge_model=model))


def test_only_the_rm_proxy_judge_is_not_independent():
    smoke = load_profile("smoke")
    assert smoke.analysis.judge == "rm-proxy" and not judge_is_independent(smoke)
    for judge in ("local-lm", "api", "gold"):
        assert judge_is_independent(_with_judge(smoke, judge))


def test_judge_name_and_identity_say_which_model_decides():
    smoke = load_profile("smoke")
    ref = smoke.reward.reference.model
    assert judge_name(smoke) == f"rm-proxy (the reference RM {ref.id}, {ref.num_layers or 'all'} layers, as judge)"
    local = _with_judge(smoke, "local-lm")
    assert judge_name(local) == "local-lm (default model)"
    assert profile_judge_identity(local)["model"] == smoke.policy.id  # the default model is the policy
    api = _with_judge(smoke, "api", "some-model")
    assert judge_name(api) == "api (some-model)" and profile_judge_identity(api)["model"] == "some-model"
    # another judge model is another cache key
    assert profile_judge_identity(api) != profile_judge_identity(_with_judge(smoke, "api", "other-model"))
    lab = load_profile("smoke-lab")
    assert judge_name(lab).startswith("gold (") and profile_judge_identity(lab)["backend"] == "gold"


def test_tasks_take_keyword_fields_only():
    with pytest.raises(TypeError):
        Task("x", "X", "table1", "model", "description")  # positional: refused
    t = Task(name="x", label="X", table="table1", paper_model="m", description="d")
    assert (t.paper_bon, t.length_field, t.bon_field, t.unit) == ((16, 64), "max_new_tokens", "bon", "prompts")
