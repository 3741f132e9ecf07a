"""Bradley-Terry training of ORMs and PRMs on the Hugging Face ``Trainer``.

Every objective is the same loss over weighted prefix pairs
``-w * log sigmoid(r(x, y_w[:a]) - r(x, y_l[:b]))``; objectives differ only in
which prefix pairs they use and how they weight them:

- ``orm`` (paper Eq. 1): the full pairs, weight 1.
- ``sc`` (Eq. 2, the paper's ablation): D_partial (TLT or SST cuts, plus the
  full pairs), weight 1.
- ``sp-prm`` (Eq. 3): D_partial scored by a reference RM r_phi; a prefix pair
  the reference orders against the human label gets weight 0, the others
  ``1/H_t`` with ``p = sigmoid(|r_phi(y_w) - r_phi(y_l)|)`` and ``H_t`` the
  binary entropy of p. The full pairs are filtered and weighted the same way.
- ``sp-prm-released``: the released code's actual behaviour (its weight column
  is never read): reference filter, then unweighted.

``1/H_t`` is unbounded (about 25 at a gap of 5, 2e5 at 15), so ``weighting``
names what is done with it: ``raw``, ``clamp`` (at ``weight_clamp``) or
``batch-mean`` (each batch's weights divided by their mean).

Causal reward models train with a **dense loss**: each response is one
packed forward (see ``sp_prm_lib.scoring.reward_model``) and all its cut points are read
from it, so partial pairs cost almost nothing over full ones. Bidirectional
models (or ``dense=False``) use one sequence per prefix.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.scoring.inputs import Encoded
from sp_prm_lib.scoring.reward_model import RewardModel, forward_rewards, pack_closed, pack_each, pack_open
from sp_prm_lib.training.truncation import build_partial_pairs


# --- D_partial and its weights ---------------------------------------------
def entropy_weights(ref_chosen: np.ndarray, ref_rejected: np.ndarray) -> np.ndarray:
    """Eq. 3 weights: 1/H_t where the reference agrees with the label, else 0."""
    gap = np.abs(ref_chosen - ref_rejected)
    p = 1.0 / (1.0 + np.exp(-gap))
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log(p) + np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0))
        w = np.where(h > 0, 1.0 / h, np.inf)
    return np.where(ref_chosen > ref_rejected, w, 0.0)


def prefix_pairs(rm: RewardModel, pairs: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """The (pair, cut) rows an objective trains on, in ``rm``'s tokens, weight 1.

    Columns: pair, t, chosen_len, rejected_len, full, weight.
    """
    len_w = rm.response_lengths(pairs.chosen.tolist())
    len_l = rm.response_lengths(pairs.rejected.tolist())
    if config.partial:
        rows = build_partial_pairs(
            len_w,
            len_l,
            method=config.truncation,
            K=config.K,
            seed=config.seed,
            include_full=True,
            max_cuts=config.tlt_max_cuts,
        )
    else:
        rows = pd.DataFrame(
            {
                "pair": range(len(pairs)),
                "t": np.maximum(len_w, len_l),
                "chosen_len": len_w,
                "rejected_len": len_l,
                "full": True,
            }
        )
    rows = rows.reset_index(drop=True)
    rows["weight"] = 1.0
    return rows


def reference_scores(
    reference: RewardModel, rm: RewardModel, pairs: pd.DataFrame, rows: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Reference-RM rewards of every row's chosen and rejected prefix.

    Cut lengths are in ``rm``'s tokens; when the reference shares that
    tokenizer its one-pass prefix scoring is used, otherwise the prefixes are
    decoded to text and re-tokenized by the reference.
    """
    same_vocab = reference.tokenizer.get_vocab() == rm.tokenizer.get_vocab()
    out = {}
    for side, col in (("chosen", "chosen_len"), ("rejected", "rejected_len")):
        grouped = rows.groupby("pair")[col].apply(list)
        prompts = pairs.prompt.iloc[grouped.index].tolist()
        texts = pairs[side].iloc[grouped.index].tolist()
        if same_vocab:
            scores = reference.score_prefixes(prompts, texts, grouped.tolist())
        else:
            ids = rm.formatter.response_ids(texts)
            flat_p, flat_t = [], []
            for prompt, resp, lens in zip(prompts, ids, grouped):
                for n in lens:
                    flat_p.append(prompt)
                    flat_t.append(rm.tokenizer.decode(resp[:n], skip_special_tokens=True))
            flat = reference.score(flat_p, flat_t)
            scores, at = [], 0
            for lens in grouped:
                scores.append(flat[at : at + len(lens)])
                at += len(lens)
        by_pair = dict(zip(grouped.index, scores))
        position = rows.groupby("pair").cumcount()
        out[side] = np.array([by_pair[p][k].item() for p, k in zip(rows.pair, position)])
    return out["chosen"], out["rejected"]


def weigh_rows(
    rows: pd.DataFrame, ref_chosen: np.ndarray, ref_rejected: np.ndarray, config: TrainConfig
) -> pd.DataFrame:
    """Apply the reference filter and weights of an ``sp-prm*`` objective; drop weight-0 rows."""
    if not (np.isfinite(ref_chosen).all() and np.isfinite(ref_rejected).all()):
        raise ConfigError("the reference reward model returned NaN or inf for some prefix pairs")
    rows = rows.copy()
    rows["ref_chosen"], rows["ref_rejected"] = ref_chosen, ref_rejected
    raw = entropy_weights(ref_chosen, ref_rejected)
    rows["raw_weight"] = raw
    if config.objective == "sp-prm-released":
        rows["weight"] = (raw > 0).astype(float)
    elif config.weighting == "clamp":
        rows["weight"] = np.minimum(raw, config.weight_clamp)
    else:  # raw, or batch-mean (normalised per batch in the loss)
        rows["weight"] = raw
    kept = rows[rows.weight > 0].reset_index(drop=True)
    if kept.empty:
        raise ConfigError(
            f"D_partial is empty after the reference filter: the reference RM disagrees "
            f"with the label on all {len(rows)} prefix pairs"
        )
    return kept


def batch_mean_weights(weights: pd.Series, pairs: pd.Series, batch_size: int) -> pd.Series:
    """What ``weighting: batch-mean`` makes of the weights when pairs come in batches of
    ``batch_size`` preference pairs in this order: each weight divided by the mean weight of
    its batch (the loss does the same per shuffled batch, over all cuts of its pairs)."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    batch = (pd.Series(pairs).rank(method="dense").astype(int) - 1).to_numpy() // batch_size
    weights = pd.Series(weights)
    return weights / weights.groupby(batch).transform("mean").to_numpy()


# --- examples, batches and the loss -----------------------------------------
class PairExamples(torch.utils.data.Dataset):
    """Training examples: one per pair (dense) or one per prefix pair (materialised)."""

    def __init__(self, rm: RewardModel, pairs: pd.DataFrame, rows: pd.DataFrame, dense: bool):
        self.encoded_w = rm.formatter.encode(pairs.prompt.tolist(), pairs.chosen.tolist())
        self.encoded_l = rm.formatter.encode(pairs.prompt.tolist(), pairs.rejected.tolist())
        cols = rows[["pair", "chosen_len", "rejected_len", "weight"]]
        if dense:
            self.items = [
                (int(p), g.chosen_len.tolist(), g.rejected_len.tolist(), g.weight.tolist())
                for p, g in cols.groupby("pair", sort=True)
            ]
        else:
            self.items = [
                (int(r.pair), [int(r.chosen_len)], [int(r.rejected_len)], [float(r.weight)])
                for r in cols.itertuples(index=False)
            ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        p, a, b, w = self.items[i]
        return {"w": self.encoded_w[p], "l": self.encoded_l[p], "len_w": a, "len_l": b, "weight": w}


class PairCollator:
    """Packs a batch: chosen rows first, then rejected rows, same cut order."""

    def __init__(self, rm: RewardModel, dense: bool):
        self.rm, self.dense = rm, dense

    def __call__(self, items: list[dict]) -> dict:
        encs: list[Encoded] = [it["w"] for it in items] + [it["l"] for it in items]
        lens = [it["len_w"] for it in items] + [it["len_l"] for it in items]
        pad, side = self.rm.tokenizer.pad_token_id, self.rm.padding_side
        if not self.dense:
            packed, _ = pack_each(encs, lens, pad, side, with_token_types=bool(self.rm._token_types))
        elif self.rm.convention == "open":
            packed = pack_open(encs, lens, pad, side)
        else:
            packed = pack_closed(encs, lens, pad, self.rm.model.dtype, side)
        width = packed.read.shape[1]
        weight = torch.zeros((len(items), width))
        for b, it in enumerate(items):
            weight[b, : len(it["weight"])] = torch.tensor(it["weight"])
        return {"packed": packed, "weight": weight}


def bradley_terry_loss(rewards: torch.Tensor, weight: torch.Tensor, weighting: str) -> torch.Tensor:
    """Weighted mean of -log sigmoid(r_w - r_l) over a batch's prefix pairs.

    ``rewards`` is (2B, J): chosen rows then rejected rows; ``weight`` (B, J)
    is 0 on padding entries.
    """
    half = rewards.shape[0] // 2
    margin = rewards[:half] - rewards[half:]
    present = weight > 0
    w = weight.to(margin.device)
    if weighting == "batch-mean":
        w = w / w[present].mean()
    losses = -F.logsigmoid(margin) * w
    return losses[present].sum() / present.sum()


def _trainer_class():
    from transformers import Trainer

    class BradleyTerryTrainer(Trainer):
        """``Trainer`` whose loss is the weighted Bradley-Terry loss of packed batches."""

        weighting = "clamp"

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            rewards = forward_rewards(model, inputs["packed"])
            loss = bradley_terry_loss(rewards, inputs["weight"], self.weighting)
            return (loss, {"rewards": rewards}) if return_outputs else loss

        def _prepare_inputs(self, inputs):
            return inputs  # forward_rewards moves the packed tensors itself

    return BradleyTerryTrainer


@dataclass
class TrainResult:
    """What a run did: rows trained on, steps, seconds, and the loss log."""

    rows: pd.DataFrame
    steps: int
    seconds: float
    log: list[dict] = field(default_factory=list)


def train_reward_model(
    rm: RewardModel,
    pairs: pd.DataFrame,
    config: TrainConfig,
    output_dir: Path,
    reference: RewardModel | None = None,
    resume: bool = True,
    callbacks: list | None = None,
) -> TrainResult:
    """Train ``rm.model`` in place on ``pairs`` (columns prompt, chosen, rejected).

    Checkpoints go to ``output_dir/checkpoints`` every ``save_steps``; with
    ``resume`` an interrupted run continues from its last checkpoint and ends
    with the same weights as an uninterrupted one. The final model and
    tokenizer are saved to ``output_dir/model``.
    """
    import time

    from transformers import TrainingArguments

    if len(pairs) == 0:
        raise ConfigError("no training pairs")
    if config.uses_reference and reference is None:
        raise ConfigError(f"objective {config.objective} needs a reference reward model")
    dense = rm.causal if config.dense is None else config.dense
    if dense and not rm.causal:
        raise ConfigError("the dense loss needs a causal reward model")
    pairs = pairs.reset_index(drop=True)
    rows = prefix_pairs(rm, pairs, config)
    if config.uses_reference:
        ref_w, ref_l = reference_scores(reference, rm, pairs, rows)
        rows = weigh_rows(rows, ref_w, ref_l, config)
    if config.freeze_embeddings:
        rm.model.get_input_embeddings().weight.requires_grad_(False)
    output_dir = Path(output_dir)
    ckpt_dir = output_dir / "checkpoints"
    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=max(1, config.save_steps // 5),
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        deepspeed=config.deepspeed,
        bf16=config.bf16,
        save_only_model=False,
    )
    trainer = _trainer_class()(
        model=rm.model,
        args=args,
        train_dataset=PairExamples(rm, pairs, rows, dense),
        data_collator=PairCollator(rm, dense),
        callbacks=callbacks or [],
    )
    trainer.weighting = config.weighting if config.objective == "sp-prm" else "raw"
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the loss log is returned, not printed
    last = _last_checkpoint(ckpt_dir) if resume else None
    started = time.time()
    rm.model.train()
    trainer.train(resume_from_checkpoint=last)
    rm.model.eval()
    seconds = time.time() - started
    trainer.save_model(str(output_dir / "model"))  # gathers ZeRO-3 shards; main process writes
    if trainer.is_world_process_zero():
        rm.tokenizer.save_pretrained(output_dir / "model")
    log = [e for e in trainer.state.log_history if "loss" in e]
    return TrainResult(rows=rows, steps=trainer.state.global_step, seconds=seconds, log=log)


def _last_checkpoint(folder: Path) -> str | None:
    if not folder.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder))


def expected_steps(n_examples: int, config: TrainConfig) -> int:
    """Optimizer steps of a run over ``n_examples`` (for progress and budgets)."""
    per_epoch = math.ceil(math.ceil(n_examples / config.batch_size) / config.grad_accum)
    return max(1, math.ceil(per_epoch * config.epochs))


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
