"""Compute accounting of decoding (``decoding.cost``): forward calls and token positions."""

from __future__ import annotations

import pytest
import torch

from sp_prm_lib.config.decoding import ArgsConfig, GreedyConfig
from sp_prm_lib.decoding import RewardScorer, args_greedy, count_forwards, greedy
from sp_prm_lib.decoding.cost import ComputeCost, trunk
from sp_prm_lib.decoding.naive import naive_args
from sp_prm_lib.scoring.reward_model import RewardModel

PROMPTS = ["\n\nHuman: hi\n\nAssistant:", "\n\nHuman: a longer question, with more words?\n\nAssistant:"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(float64_decoding_models):
    policy, rm_model, tok = float64_decoding_models
    return policy, RewardModel(rm_model, tok, convention="closed")


def test_every_forward_is_counted_with_its_positions_and_only_inside_the_block(models):
    policy, rm = models
    ids = torch.ones((3, 7), dtype=torch.long)
    with count_forwards(policy.model, rm.model) as cost:
        policy.model(input_ids=ids)
        trunk(policy.model)(input_ids=ids[:, :2])  # the trunk called directly, as cached sessions do
        rm.model(ids[:1])  # positional input ids
    assert cost == ComputeCost(policy_calls=2, policy_forward_tokens=21 + 6, rm_calls=1, rm_forward_tokens=7)
    policy.model(input_ids=ids)
    assert cost.policy_calls == 2  # the hooks are gone after the block


def test_a_reward_model_sharing_the_policy_trunk_is_counted_once(models):
    policy, _ = models
    with count_forwards(policy.model, policy.model) as cost:
        policy.model(input_ids=torch.ones((1, 4), dtype=torch.long))
    assert (cost.policy_calls, cost.rm_calls) == (1, 0)


def test_greedy_with_a_kv_cache_runs_each_new_token_once(models):
    policy, _ = models
    n = 6
    with count_forwards(policy.model) as cost:
        out = greedy(policy, None, PROMPTS[:1], GreedyConfig(max_new_tokens=n, min_new_tokens=n))
    prompt = len(policy.prompt_ids(PROMPTS[0]))
    assert out[0].tokens == n
    # one forward over the prompt, then one position per new token but the last (whose logits
    # are not needed)
    assert cost.policy_calls == n
    assert cost.policy_forward_tokens == prompt + n - 1
    assert cost.rm_calls == 0


def test_the_cached_args_spends_fewer_rm_tokens_than_the_naive_loop_for_the_same_tokens(models):
    policy, rm = models
    cfg = ArgsConfig(k=4, w=1.5, max_new_tokens=8)
    scorer = RewardScorer(rm)
    with count_forwards(policy.model, rm.model) as fast_cost:
        fast = args_greedy(policy, scorer, PROMPTS, cfg)
    with count_forwards(policy.model, rm.model) as naive_cost:
        ref = naive_args(policy, scorer, PROMPTS, cfg, rescore_mode="text")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert 0 < fast_cost.rm_forward_tokens < naive_cost.rm_forward_tokens
    assert fast_cost.per(2) == {k: round(v / 2, 2) for k, v in fast_cost.to_dict().items()}
