"""SP-PRM training (SST, K=5) vs ORM training on the same pairs.

Same reward model (SmolLM2-135M's lower 3 layers + score head, closed
convention, 192 tokens), same 64 HH-RLHF train pairs, same batch size, all in
this run. Prints the wall-time ratio of the training loop for the dense loss
(one packed forward per response) and for materialised prefix pairs (one
sequence per prefix), and the reference-RM scoring time apart; records the
ratios in ``bench/results/bench_training.json``.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from sp_prm_lib.config.profile import ModelSpec, load_profile
from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.experiments.pairs import preference_splits
from sp_prm_lib.notebook import quiet
from sp_prm_lib.scoring.reward_model import RewardModel
from sp_prm_lib.training.objective import prefix_pairs, reference_scores
from sp_prm_lib.training.trainer import train_reward_model

import _record

N_PAIRS = 64
SPEC = ModelSpec(id="HuggingFaceTB/SmolLM2-135M-Instruct", source="package", num_layers=3)


def _rm() -> RewardModel:
    torch.manual_seed(0)
    return RewardModel.from_spec(SPEC, convention="closed", max_length=192)


def _train(pairs, config, reference=None) -> float:
    with tempfile.TemporaryDirectory() as work:
        return train_reward_model(_rm(), pairs, config, work, reference=reference).seconds


TARGET = {"text": "SP-PRM (SST, K=5) training <= 1.2x ORM training on the same pairs", "ratio_at_most": 1.2}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=N_PAIRS, help="HH-RLHF train pairs (a shorter run: fewer)")
    args = parser.parse_args(argv)
    quiet()
    pairs = preference_splits(load_profile("tiny"))["train"].frame.head(args.pairs)
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
        f"training on the same {len(pairs)} pairs, SST K=5 ({len(rows)} rows incl. full pairs before the "
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
    orm_name = "ORM training (mean of a run before and after the others)"
    what = f"{len(pairs)} HH-RLHF pairs, 3-layer SmolLM2 RM, SST K=5"
    filtered = "not in the ratio: the reference RM's scoring of the prefix pairs is timed apart"
    measurements = [
        _record.timing(
            f"Training: score-consistency (SC, Eq. 2) with the dense loss vs ORM (Eq. 1); {what}",
            ("SC dense", sc_dense),
            (orm_name, orm),
            kind="time",
        ),
        _record.timing(
            f"Training: SC with materialised prefix pairs vs ORM; {what}",
            ("SC materialised", sc_mat),
            (orm_name, orm),
            kind="time",
        ),
        _record.timing(
            f"Training: SP-PRM (Eq. 3) with the dense loss vs ORM; {what}",
            ("SP-PRM dense", sp_dense),
            (orm_name, orm),
            kind="time",
            target=TARGET,
            note=f"Reference scoring of D_partial took {scoring:.1f} s, {filtered}.",
        ),
        _record.timing(
            f"Training: SP-PRM with materialised prefix pairs vs ORM; {what}",
            ("SP-PRM materialised", sp_mat),
            (orm_name, orm),
            kind="time",
            note="The 1.2x target is held by the dense loss, the default for causal reward models; "
            "the materialised path (one sequence per prefix) shows what the dense loss saves.",
        ),
    ]
    notes = [
        f"The ORM baseline is the mean of a run before ({orm_before:.1f} s) and a run after ({orm_after:.1f} s) "
        "the others, to average out the machine's drifting load; their spread shows how much it drifted. "
        "SP-PRM trains only on the prefix pairs the reference RM orders the right way (SC trains on all), "
        "so its dense run can take less time than SC's.",
    ]
    details = {
        "pairs": len(pairs),
        "rows": len(rows),
        "orm_runs_s": [orm_before, orm_after],
        "reference_scoring_s": scoring,
    }
    _record.write(Path(__file__).stem, "Reward-model training", measurements, notes=notes, details=details)


if __name__ == "__main__":
    main()
