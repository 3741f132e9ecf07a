"""Scoring (the paper's algorithms): how (prompt, response) becomes reward-model input (``inputs``),
the reward model's forward pass (trunk, additive mask, score head: ``forward``) and
``RewardModel``, which scores responses and every prefix of them (``reward_model``)."""

from sp_prm_lib.scoring.inputs import CONVENTIONS, Encoded, RewardFormatter
from sp_prm_lib.scoring.reward_model import RewardModel

__all__ = ["CONVENTIONS", "Encoded", "RewardFormatter", "RewardModel"]
