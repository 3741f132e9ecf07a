"""SP-PRM training (SST, K=5) vs ORM training on the same pairs.

Same reward model (SmolLM2-135M's lower 3 layers + score head, closed
convention, 192 tokens), same 64 HH-RLHF train pairs, same batch size, all in
this run. Prints the wall-time ratio of the training loop for the dense loss
(one packed forward per response) and for materialised prefix pairs (one
sequence per prefix), and the reference-RM scoring time apart.
"""

import tempfile
import time

import torch

from sp_prm_lib.notebook import quiet
from sp_prm_lib.profile_data import preference_splits
from sp_prm_lib.profiles import ModelSpec, load_profile
from sp_prm_lib.rewards import RewardModel
from sp_prm_lib.training import TrainConfig, prefix_pairs, reference_scores, train_reward_model

N_PAIRS = 64
SPEC = ModelSpec(id="HuggingFaceTB/SmolLM2-135M-Instruct", source="package", num_layers=3)


def _rm() -> RewardModel:
    torch.manual_seed(0)
    return RewardModel.from_spec(SPEC, convention="closed", max_length=192)


def _train(pairs, config, reference=None) -> float:
    with tempfile.TemporaryDirectory() as work:
        return train_reward_model(_rm(), pairs, config, work, reference=reference).seconds


def main() -> None:
    quiet()
    pairs = preference_splits(load_profile("tiny"))["train"].frame.head(N_PAIRS)
    common = dict(batch_size=8, learning_rate=5e-5, freeze_embeddings=True, save_steps=10_000)
    reference = _rm()
    orm = _train(pairs, TrainConfig(objective="orm", **common))
    sp_dense = _train(pairs, TrainConfig(objective="sp-prm", K=5, **common), reference)
    sp_mat = _train(pairs, TrainConfig(objective="sp-prm", K=5, dense=False, **common), reference)
    rm = _rm()
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sp-prm", K=5))
    start = time.perf_counter()
    reference_scores(reference, rm, pairs, rows)
    scoring = time.perf_counter() - start
    print(f"training on {N_PAIRS} pairs ({len(rows)} SST rows incl. full pairs before filtering): "
          f"ORM {orm:.1f}s, SP-PRM dense {sp_dense:.1f}s (ratio {sp_dense / orm:.2f}x), "
          f"SP-PRM materialised {sp_mat:.1f}s (ratio {sp_mat / orm:.2f}x); "
          f"reference scoring of D_partial {scoring:.1f}s")


if __name__ == "__main__":
    main()
