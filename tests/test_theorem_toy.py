"""Theorem 1 on a toy (``experiments/theorem_toy.py``): with a score-consistent reward, token- and chunk-level search
return the exhaustive-search optimum; with a counter-example reward they do not."""

from __future__ import annotations

import pytest

from sp_prm_lib.decoding import ArgsConfig, BeamConfig, BoNConfig, TBSConfig, args_greedy, beam_search, best_of_n
from sp_prm_lib.experiments.theorem_toy import TOY_PROMPT, ConsistentReward, TrapReward, exhaustive_optimum, toy_policy

WORDS = ("a", "b", "c")
T = 4
PROMPTS = [TOY_PROMPT]
FIXED = dict(max_new_tokens=T, min_new_tokens=T)  # no EOS: every response has T tokens


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def policy():
    return toy_policy(WORDS)


def searches(policy, scorer, seed):
    """Token-level (TBS with W=1 and W=2, ARGS over every token) and chunk-level (CBS, L=2) search."""
    return {
        "tbs-w1": beam_search(policy, scorer, PROMPTS, TBSConfig(width=1, successors=24, seed=seed, **FIXED)),
        "tbs-w2": beam_search(policy, scorer, PROMPTS, TBSConfig(width=2, successors=24, seed=seed, **FIXED)),
        "args": args_greedy(policy, scorer, PROMPTS, ArgsConfig(k=len(WORDS) + 1, w=1.0, **FIXED)),
        "cbs-l2": beam_search(
            policy, scorer, PROMPTS, BeamConfig(width=1, successors=60, chunk_length=2, seed=seed, **FIXED)
        ),
    }


def test_the_toy_reward_is_score_consistent():
    import itertools

    reward = ConsistentReward(WORDS)
    full = [list(y) for y in itertools.product(WORDS, repeat=T)]
    for y1, y2 in itertools.combinations(full, 2):
        if reward(y1) < reward(y2):
            y1, y2 = y2, y1
        assert all(reward(y1[:t]) >= reward(y2[:t]) for t in range(1, T + 1))
    trap = TrapReward(WORDS, T)
    assert exhaustive_optimum(trap, WORDS, T)[0] == trap.trap
    assert trap(trap.trap[:1]) == min(trap([w]) for w in WORDS)  # its first word looks worst


@pytest.mark.parametrize("seed", [0, 1])
def test_consistent_reward_token_and_chunk_search_find_the_optimum(policy, seed):
    reward = ConsistentReward(WORDS, seed=seed)
    best, best_reward = exhaustive_optimum(reward, WORDS, T)
    assert best != list(reward.words[:1]) * T  # the optimum depends on the history, not one word
    for name, (result,) in searches(policy, reward.scorer(), seed).items():
        assert result.response.split() == best, name
        assert result.reward == pytest.approx(best_reward), name


def test_counter_example_reward_misleads_token_and_chunk_search(policy):
    reward = TrapReward(WORDS, T)
    best, best_reward = exhaustive_optimum(reward, WORDS, T)
    for name, (result,) in searches(policy, reward.scorer(), 0).items():
        assert result.response.split() != best, name
        assert result.reward < best_reward, name
    # whole-response search (BoN with enough samples to cover all 81 responses) still finds it
    (bon,) = best_of_n(policy, reward.scorer(), PROMPTS, BoNConfig(n=600, **FIXED))
    assert bon.response.split() == best
