"""Reward-guided decoding (paper section 2.2, Algorithm 1-4, appendix C.5).

Any scorer guides any causal-LM policy: a ``RewardModel`` (ORM, SP-PRM,
ablation) or any object with ``score_texts(prompts, responses)``.

>>> from sp_prm_lib.decoding import Policy, decode
>>> results = decode("args", Policy(model, tokenizer), reward_model, prompts, k=30, w=1.5)

Rewards: candidates are judged by ``r(x, decode(ids))`` (``guidance="text"``,
the default; ``"token"``: the policy's ids as they are, see
``config.decoding``); every reported reward is the reward of the returned
text. CARDS thresholds are calibrated per policy and RM (``calibrate_cards``).

The argument dataclasses (``GreedyConfig`` ... ``CardsConfig``, each field
with its help) live in ``sp_prm_lib.config.decoding`` and are re-exported
here; the reward model's forward pass (trunk, additive mask, score head) in
``sp_prm_lib.scoring.forward``.

Modules: ``policy`` (prompt rendering, batched KV-cache state, sampling),
``scorers`` (scorer protocol, the reward model's KV cache), ``retokenize``
(that cache for a reward model with its own tokenizer), ``common`` (what
every decoder returns and checks first), ``beam`` (the chunk-level beam
driver: CBS, TBS, BoN, sampling), ``args`` (ARGS-greedy), ``cards`` (CARDS),
``baselines`` (greedy), ``registry`` (method names), ``runs`` (JSONL runs,
resume, sharding, merge), ``cost`` (forward calls and token positions),
``naive`` (reference loops for tests and benchmarks).
"""

from sp_prm_lib.config.decoding import (
    ArgsConfig,
    BeamConfig,
    BoNConfig,
    CardsConfig,
    DecodeConfig,
    GreedyConfig,
    SampleConfig,
    TBSConfig,
)
from sp_prm_lib.decoding.args import args_greedy
from sp_prm_lib.decoding.baselines import greedy
from sp_prm_lib.decoding.beam import beam_search, best_of_n, cbs, sample, tbs
from sp_prm_lib.decoding.cards import calibrate_cards, cards
from sp_prm_lib.decoding.common import Generation
from sp_prm_lib.decoding.cost import ComputeCost, count_forwards
from sp_prm_lib.decoding.policy import Policy, as_policy
from sp_prm_lib.decoding.registry import METHODS, Method, decode, get_method, make_config
from sp_prm_lib.decoding.runs import generate_run, merge_shards, read_records, read_run_file
from sp_prm_lib.decoding.scorers import (
    FunctionScorer,
    RewardScorer,
    RMSession,
    Scorer,
    ScorerError,
    ScorerStats,
    as_scorer,
)

__all__ = [
    "ArgsConfig",
    "BeamConfig",
    "BoNConfig",
    "CardsConfig",
    "ComputeCost",
    "DecodeConfig",
    "FunctionScorer",
    "Generation",
    "GreedyConfig",
    "METHODS",
    "Method",
    "Policy",
    "RMSession",
    "RewardScorer",
    "SampleConfig",
    "Scorer",
    "ScorerError",
    "ScorerStats",
    "TBSConfig",
    "args_greedy",
    "as_policy",
    "as_scorer",
    "beam_search",
    "best_of_n",
    "calibrate_cards",
    "cards",
    "cbs",
    "count_forwards",
    "decode",
    "generate_run",
    "get_method",
    "greedy",
    "make_config",
    "merge_shards",
    "read_records",
    "read_run_file",
    "sample",
    "tbs",
]
