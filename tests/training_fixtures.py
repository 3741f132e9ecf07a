"""Helpers for the training tests: separable toy preference pairs and tiny reward models.

Import them with ``from training_fixtures import toy_pairs, tiny_rm``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sp_prm_lib.models.tiny import tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel

GOOD = "good great fine nice helpful".split()
BAD = "bad awful rude wrong poor".split()


def toy_pairs(n=32, seed=0) -> pd.DataFrame:
    """Separable pairs: chosen responses use 'good' words, rejected ones 'bad' words."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        [
            {
                "prompt": f"\n\nHuman: question {i}\n\nAssistant:",
                "chosen": " ".join(rng.choice(GOOD, rng.integers(4, 9))),
                "rejected": " ".join(rng.choice(BAD, rng.integers(4, 9))),
            }
            for i in range(n)
        ]
    )


def long_pairs(n=12, seed=0) -> pd.DataFrame:
    """Pairs with responses of 60+ byte tokens, so SST's k ~ U{0..2K} is never capped by length."""
    pairs = toy_pairs(n, seed)
    return pairs.assign(chosen=(pairs.chosen + " ") * 4, rejected=(pairs.rejected + " ") * 4)


def accuracy(rm, pairs) -> float:
    return (rm.score(pairs.prompt, pairs.chosen) > rm.score(pairs.prompt, pairs.rejected)).float().mean().item()


def tiny_rm(seed=5) -> RewardModel:
    """A tiny random Llama reward model (open convention): a model to train, or a reference."""
    model, tok = tiny_model("llama-reward", seed=seed)
    return RewardModel(model, tok, convention="open")


def steep_reference(seed=5, scale=2e4) -> RewardModel:
    """A reference RM whose reward gaps are in the hundreds to thousands."""
    model, tok = tiny_model("llama-reward", seed=seed)
    with torch.no_grad():
        model.score.weight.mul_(scale)
    return RewardModel(model, tok, convention="open")


def full_rows(n) -> pd.DataFrame:
    """``n`` full-pair rows of D_partial (one per pair, 3 tokens each side), weight 1."""
    return pd.DataFrame(
        {
            "pair": range(n),
            "t": [3] * n,
            "chosen_len": [3] * n,
            "rejected_len": [3] * n,
            "full": [True] * n,
            "weight": [1.0] * n,
        }
    )
