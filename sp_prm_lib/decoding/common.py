"""What every decoder returns, and the checks every decoder starts with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.decoding.policy import Policy, as_policy, make_generators, render_prompts
from sp_prm_lib.decoding.scorers import as_scorer, final_rewards


@dataclass
class Generation:
    """One prompt's result. ``token_ids``: the response in policy tokens (EOS
    excluded); ``response``: their text, special tokens skipped; ``reward``:
    the scorer's reward of the returned text, ``r(prompt, response)`` (None
    without a scorer); ``finish``: ``eos`` or ``length``; ``stats``: method
    counters (e.g. CARDS rejections, acceptance rate, segment length) and,
    with ``guidance="token"``, ``guide_reward``: the reward the method chose
    the response by (of its token ids)."""

    index: int
    prompt: str
    response: str
    token_ids: list[int]
    reward: float | None
    finish: str
    stats: dict = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return len(self.token_ids)


@dataclass
class Batch:
    """A decoder's validated inputs."""

    policy: Policy
    scorer: object
    prompts: list[str]
    indices: list[int]
    prompt_ids: list[list[int]]
    generators: list

    def generation(self, b: int, tokens: Sequence[int], reward, finish: str, **stats) -> Generation:
        return Generation(
            self.indices[b],
            self.prompts[b],
            self.policy.decode(tokens),
            list(tokens),
            None if reward is None else float(reward),
            finish,
            dict(stats),
        )

    def finish(self, results: list[Generation], *, text_exact: bool) -> list[Generation]:
        """Set each result's reward to the reward of its text (``text_exact``: the
        rewards the method computed already are; else one batched re-scoring)."""
        if self.scorer is None:
            return results
        rewards, guided = final_rewards(
            self.scorer,
            text_exact,
            self.prompts,
            [g.response for g in results],
            [g.reward for g in results],
            self.indices,
        )
        for g, reward, guide in zip(results, rewards, guided, strict=True):
            g.reward = reward
            if not text_exact:
                g.stats["guide_reward"] = guide
        return results


def prepare(
    policy, scorer, prompts: Sequence[str], config, indices: Sequence[int] | None, *, needs_scorer: bool
) -> Batch:
    """Check the inputs of a decoder call and render its prompts."""
    policy = as_policy(policy)
    scorer = as_scorer(scorer)
    if isinstance(prompts, str):
        raise ConfigError("prompts must be a list of strings, got one string")
    prompts = list(prompts)
    if not prompts:
        raise ConfigError("no prompts to decode (empty prompt list)")
    indices = list(range(len(prompts))) if indices is None else [int(i) for i in indices]
    if len(indices) != len(prompts):
        raise ConfigError(f"{len(prompts)} prompts but {len(indices)} indices")
    if needs_scorer and scorer is None:
        raise ConfigError(
            f"{type(config).__name__}: this method needs a scorer (a RewardModel or an object with score_texts)"
        )
    ids = render_prompts(policy, prompts, indices, config.max_new_tokens)
    return Batch(policy, scorer, prompts, indices, ids, make_generators(config.seed, indices))
