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

from sp_prm_lib.config.profile import ModelSpec, load_profile
from sp_prm_lib.experiments.pairs import preference_splits
from sp_prm_lib.notebook import quiet
from sp_prm_lib.scoring.reward_model import RewardModel
from sp_prm_lib.training.trainer import TrainConfig, prefix_pairs, reference_scores, train_reward_model

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
    # ORM timed before and after the others: their mean is the baseline, their
    # spread shows how much the machine's load drifted during the run.
    orm_before = _train(pairs, TrainConfig(objective="orm", **common))
    sc_dense = _train(pairs, TrainConfig(objective="sc", K=5, **common))
    sc_mat = _train(pairs, TrainConfig(objective="sc", K=5, dense=False, **common))
    sp_dense = _train(pairs, TrainConfig(objective="sp-prm", K=5, **common), reference)
    sp_mat = _train(pairs, TrainConfig(objective="sp-prm", K=5, dense=False, **common), reference)
    orm_after = _train(pairs, TrainConfig(objective="orm", **common))
    orm = (orm_before + orm_after) / 2
    rm = _rm()
    rows = prefix_pairs(rm, pairs, TrainConfig(objective="sp-prm", K=5))
    start = time.perf_counter()
    reference_scores(reference, rm, pairs, rows)
    scoring = time.perf_counter() - start
    print(
        f"training on the same {N_PAIRS} pairs, SST K=5 ({len(rows)} rows incl. full pairs before the "
        f"reference filter); ORM {orm:.1f}s (runs {orm_before:.1f}s, {orm_after:.1f}s)"
    )
    print(
        f"  SC (all rows, no filter):  dense {sc_dense:.1f}s ratio {sc_dense / orm:.2f}x, "
        f"materialised {sc_mat:.1f}s ratio {sc_mat / orm:.2f}x"
    )
    print(
        f"  SP-PRM (reference filter): dense {sp_dense:.1f}s ratio {sp_dense / orm:.2f}x, "
        f"materialised {sp_mat:.1f}s ratio {sp_mat / orm:.2f}x; "
        f"reference scoring of D_partial {scoring:.1f}s (not in the ratios)"
    )


if __name__ == "__main__":
    main()
