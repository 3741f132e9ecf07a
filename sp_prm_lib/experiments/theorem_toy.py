"""A toy where the optimum is known: Theorem 1 of the paper, checked by search.

- ``toy_policy``: a uniform policy over a few word tokens (plus ``<eos>``);
- ``ConsistentReward``: score-consistent by construction. Each token gets a
  value ``f(prefix, token)``, a permutation of ``0..V-1`` that depends on the
  prefix, and ``r(y) = sum_t f(y_<t, y_t) * V**-t``. Comparing rewards is then
  comparing the value sequences lexicographically, so if ``r(y1) >= r(y2)``
  every prefix of ``y1`` scores at least the same-length prefix of ``y2``
  (the paper's definition, shorter sequences padded with the lowest value);
- ``TrapReward``: the same plus a bonus for one complete response whose
  first token is the worst: not score-consistent, so token- and chunk-level
  search miss its optimum while whole-response search (BoN) finds it.

Use with ``min_new_tokens = max_new_tokens = T`` so every response has T tokens.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import torch

from sp_prm_lib.decoding.policy import Policy
from sp_prm_lib.decoding.scorers import FunctionScorer


def toy_policy(words: Sequence[str] = ("a", "b", "c"), seed: int = 0) -> Policy:
    """A 1-layer Llama whose next-token distribution is uniform (zero lm_head);
    every prompt renders to one token; decoded text is the words joined by spaces."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    ids = {w: i for i, w in enumerate(words)}
    eos = len(words)
    ids["<eos>"] = eos
    backend = Tokenizer(models.WordLevel(vocab=ids, unk_token="<eos>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", pad_token="<eos>")
    cfg = LlamaConfig(
        vocab_size=len(ids),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=32,
        max_position_embeddings=256,
        eos_token_id=eos,
        pad_token_id=eos,
        bos_token_id=0,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        model.lm_head.weight.zero_()
    return Policy(model, tok, render=lambda prompt: [0])


class ConsistentReward:
    """``r(y) = sum_t f(y_<t, y_t) * V**-t`` with ``f(prefix, .)`` a seeded permutation."""

    def __init__(self, words: Sequence[str] = ("a", "b", "c"), seed: int = 0):
        self.words = list(words)
        self.seed = seed

    def value(self, prefix: Sequence[str], word: str) -> int:
        perm = random.Random(f"{self.seed}|{'|'.join(prefix)}").sample(range(len(self.words)), len(self.words))
        return perm[self.words.index(word)]

    def __call__(self, response: Sequence[str]) -> float:
        v = len(self.words)
        return sum(self.value(response[:t], w) * float(v) ** -(t + 1) for t, w in enumerate(response))

    def scorer(self) -> FunctionScorer:
        return FunctionScorer(lambda prompt, text: self(text.split()), name=type(self).__name__)


class TrapReward(ConsistentReward):
    """``ConsistentReward`` plus 1 for one complete length-``length`` response that starts
    with the worst first word (so greedy prefixes lead away from it)."""

    def __init__(self, words: Sequence[str] = ("a", "b", "c"), length: int = 4, seed: int = 0):
        super().__init__(words, seed)
        worst = min(self.words, key=lambda w: self.value([], w))
        rest = [self.words[(i * 7 + 1) % len(self.words)] for i in range(length - 1)]
        self.trap = [worst] + rest

    def __call__(self, response: Sequence[str]) -> float:
        return super().__call__(response) + (1.0 if list(response) == self.trap else 0.0)


def exhaustive_optimum(reward, words: Sequence[str], length: int) -> tuple[list[str], float]:
    """The best length-``length`` response by enumerating all of them."""
    best = max(itertools.product(words, repeat=length), key=lambda y: reward(list(y)))
    return list(best), reward(list(best))


TOY_PROMPT = "\n\nHuman: toy\n\nAssistant:"  # every prompt renders to one token for the toy policy


def toy_searches(policy: Policy, scorer, length: int, seed: int = 0, n_words: int = 3) -> dict:
    """The token-level (TBS W=1 and W=2, ARGS over every token) and chunk-level (CBS, L=2)
    searches of Theorem 1 on one toy prompt, every response exactly ``length`` tokens."""
    from sp_prm_lib.config.decoding import ArgsConfig, BeamConfig, TBSConfig
    from sp_prm_lib.decoding.args import args_greedy
    from sp_prm_lib.decoding.beam import beam_search

    fixed = dict(max_new_tokens=length, min_new_tokens=length)
    prompts = [TOY_PROMPT]
    runs = {
        "TBS (W=1)": lambda: beam_search(
            policy, scorer, prompts, TBSConfig(width=1, successors=24, seed=seed, **fixed)
        ),
        "TBS (W=2)": lambda: beam_search(
            policy, scorer, prompts, TBSConfig(width=2, successors=24, seed=seed, **fixed)
        ),
        "ARGS-greedy": lambda: args_greedy(policy, scorer, prompts, ArgsConfig(k=n_words + 1, w=1.0, **fixed)),
        "CBS (L=2)": lambda: beam_search(
            policy, scorer, prompts, BeamConfig(width=1, successors=60, chunk_length=2, seed=seed, **fixed)
        ),
    }
    return {name: run()[0] for name, run in runs.items()}


def theorem1_table(
    words: Sequence[str] = ("a", "b", "c"), length: int = 4, seeds: Sequence[int] = (0, 1, 2), bon_n: int = 600
):
    """Does each search return the exhaustive optimum? One row per (reward, seed, method).

    Rewards: ``ConsistentReward`` with each seed (score-consistent: Theorem 1
    says token- and chunk-level search find its optimum) and ``TrapReward``
    (not score-consistent). Best-of-N with ``bon_n`` samples is the
    whole-response baseline.
    """
    import pandas as pd

    from sp_prm_lib.config.decoding import BoNConfig
    from sp_prm_lib.decoding.beam import best_of_n

    policy = toy_policy(words)
    rewards = [("score-consistent", s, ConsistentReward(words, seed=s)) for s in seeds]
    rewards.append(("trap (not consistent)", 0, TrapReward(words, length)))
    rows = []
    for kind, seed, reward in rewards:
        best, best_reward = exhaustive_optimum(reward, words, length)
        found = toy_searches(policy, reward.scorer(), length, seed, len(words))
        found[f"BoN-{bon_n}"] = best_of_n(
            policy,
            reward.scorer(),
            [TOY_PROMPT],
            BoNConfig(n=bon_n, max_new_tokens=length, min_new_tokens=length, seed=seed),
        )[0]
        for method, result in found.items():
            rows.append(
                {
                    "reward": kind,
                    "seed": seed,
                    "method": method,
                    "response": result.response,
                    "optimum": " ".join(best),
                    "reward_found": result.reward,
                    "reward_optimum": best_reward,
                    "found_optimum": result.response.split() == best,
                }
            )
    return pd.DataFrame(rows)
