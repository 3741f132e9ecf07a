"""Training (the paper's algorithms): prefix truncation (TLT, SST) and D_partial (``truncation``),
and the Bradley-Terry trainer of ORMs, SC and SP-PRM (``trainer``, paper Eq. 1-3)."""

from sp_prm_lib.training.trainer import train_reward_model
from sp_prm_lib.training.truncation import build_partial_pairs

__all__ = ["build_partial_pairs", "train_reward_model"]
