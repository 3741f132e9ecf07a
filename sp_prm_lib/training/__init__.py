"""Training (the paper's algorithms, section 4), one job per module:

- ``truncation``: where to cut, TLT and SST (D_partial as prefix lengths, section 4.1.1);
- ``objective``: the SP-PRM objective, Eq. 1-3: prefix rows, ties, reference scores, the
  entropy weights and their weighting, and the Bradley-Terry loss;
- ``batches``: the examples and collator that pack D_partial's rows into batches;
- ``runs``: a run's folder and its ``run.json`` fingerprint;
- ``checkpoints``: which checkpoints are complete enough to resume from;
- ``trainer``: the Hugging Face ``Trainer`` glue, freezing, and ``train_reward_model``.
"""

from sp_prm_lib.training.trainer import train_reward_model
from sp_prm_lib.training.truncation import build_partial_pairs

__all__ = ["build_partial_pairs", "train_reward_model"]
