"""Bradley-Terry training of ORMs and PRMs on the Hugging Face ``Trainer``.

The objective itself (paper Eq. 1-3: prefix rows, the reference filter, the weights and the loss)
is ``objective``; the batches ``batches``; the run folder ``runs``; the checkpoint checks
``checkpoints``. This module is the glue: ``train_reward_model`` builds the rows, hands them to a
``Trainer`` whose ``compute_loss`` is ``objective.bradley_terry_loss`` under autocast, and saves
the model. ``freeze_lower_parts`` applies ``freeze_embeddings`` and ``train_top_layers``; a
non-finite loss, gradient norm or parameter stops training with a ``ModelError`` naming the step.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError, ModelError
from sp_prm_lib.scoring.forward import forward_rewards
from sp_prm_lib.scoring.reward_model import RewardModel
from sp_prm_lib.training.batches import PairCollator, PairExamples
from sp_prm_lib.training.checkpoints import last_complete_checkpoint
from sp_prm_lib.training.objective import bradley_terry_loss, encode_pairs, training_rows
from sp_prm_lib.training.runs import check_deepspeed, claim_output, run_fingerprint


def _through_wrapper(model, packed) -> torch.Tensor:
    """``forward_rewards`` of the bare model, called through a DistributedDataParallel wrapper when
    there is one (multi-process training): DDP only synchronises gradients across processes for
    outputs of its own forward, and the bare model's ``forward`` is not ``forward_rewards``. The
    bare model's ``forward`` is swapped for the call and restored afterwards (accelerate may have
    replaced it already, with its mixed-precision wrapper)."""
    inner = getattr(model, "module", None)
    if not isinstance(model, torch.nn.parallel.DistributedDataParallel) or inner is None:
        return forward_rewards(model, packed)
    own = inner.__dict__.get("forward")
    inner.forward = lambda packed: forward_rewards(inner, packed)
    try:
        return model(packed)
    finally:
        if own is None:
            del inner.forward
        else:
            inner.forward = own


def world_size() -> int:
    """The number of training processes (``accelerate launch`` / ``torchrun`` set WORLD_SIZE)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def accumulation_steps(grad_accum: int, processes: int) -> int:
    """Micro-batches per optimiser step and process, so that an optimiser step sees
    ``batch_size x grad_accum`` items however many processes share it (the profile's batch, e.g.
    the paper's 32, is the global batch): ``grad_accum`` must be a multiple of the processes."""
    if grad_accum % processes:
        raise ConfigError(
            f"grad_accum = {grad_accum} is not a multiple of the {processes} training processes: the global "
            f"batch (batch_size x grad_accum) cannot be kept; choose a grad_accum divisible by {processes}"
        )
    return grad_accum // processes


def _trainer_class():
    from transformers import Trainer

    class BradleyTerryTrainer(Trainer):
        """``Trainer`` whose loss is the weighted Bradley-Terry loss of packed batches.

        A non-finite loss stops training with a ``ModelError`` naming the step. With
        ``head_learning_rate`` the score head gets its own peak learning rate.
        """

        def __init__(self, *args, head_learning_rate: float | None = None, **kwargs):
            self.head_learning_rate = head_learning_rate
            super().__init__(*args, **kwargs)

        def create_optimizer(self, model=None):
            if self.head_learning_rate is None or self.optimizer is not None:
                return super().create_optimizer(model)
            head = set(head_parameter_names(self.model))
            named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
            groups = [
                {"params": [p for n, p in named if n not in head], "lr": self.args.learning_rate},
                {"params": [p for n, p in named if n in head], "lr": self.head_learning_rate},
            ]
            groups = [g for g in groups if g["params"]]
            for g in groups:
                g["weight_decay"] = self.args.weight_decay
            optimizer_cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, self.model)
            kwargs.pop("lr", None)
            self.optimizer = optimizer_cls(groups, **kwargs)
            return self.optimizer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # forward_rewards calls the body and the head directly, past the autocast wrapper
            # that accelerate puts around model.forward, so mixed precision is applied here
            device_type = next(model.parameters()).device.type
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bool(self.args.bf16)):
                rewards = _through_wrapper(model, inputs["packed"])
            loss = bradley_terry_loss(rewards, inputs["weight"], inputs.get("present"))
            if not torch.isfinite(loss.detach()).all():
                raise ModelError(
                    f"training step {self.state.global_step + 1}: the loss is {loss.item()} "
                    "(non-finite); check the weights (weighting) and the learning rate"
                )
            return (loss, {"rewards": rewards}) if return_outputs else loss

        def _prepare_inputs(self, inputs):
            return inputs  # forward_rewards moves the packed tensors itself

    return BradleyTerryTrainer


def head_parameter_names(model) -> list[str]:
    """Names of the parameters outside the model's body (its score or classifier head)."""
    prefix = getattr(model, "base_model_prefix", "")
    return [n for n, _ in model.named_parameters() if not (prefix and n.startswith(prefix + "."))]


def transformer_layers(model):
    """The body's stack of transformer layers (the ModuleList with one entry per hidden layer)."""
    import torch.nn as nn

    wanted = getattr(model.config, "num_hidden_layers", None)
    for _, module in model.base_model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == wanted:
            return module
    raise ModelError(f"{type(model).__name__}: no stack of {wanted} transformer layers found")


def freeze_lower_parts(model, config) -> None:
    """Apply ``freeze_embeddings`` and ``train_top_layers`` (then only the top layers and the head
    outside the body learn): the other parts get no gradient."""
    if config.freeze_embeddings or config.train_top_layers is not None:
        model.get_input_embeddings().weight.requires_grad_(False)
    if config.train_top_layers is None:
        return
    layers = transformer_layers(model)
    if config.train_top_layers > len(layers):
        raise ConfigError(f"train_top_layers is {config.train_top_layers}, but the model has {len(layers)} layers")
    # the body outside the top layers (embeddings, lower layers, shared position tables, norms) stays fixed
    model.base_model.requires_grad_(False)
    for layer in list(layers)[len(layers) - config.train_top_layers :]:
        layer.requires_grad_(True)


def _finite_guard():
    """A callback that stops training when a parameter or the gradient norm is not finite."""
    from transformers import TrainerCallback

    class FiniteGuard(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if model is None:
                return
            named = [(n, p) for n, p in model.named_parameters() if p.numel()]  # ZeRO-3: local shards are empty
            if not named:
                return
            flags = [torch.isfinite(p.detach()).all() for _, p in named]
            if bool(torch.stack([f.to(flags[0].device) for f in flags]).all()):  # one sync per step
                return
            name = next(n for (n, _), f in zip(named, flags) if not bool(f))
            raise ModelError(f"training step {state.global_step}: parameter {name} is not finite (NaN or inf)")

        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "grad_norm"):
                value = (logs or {}).get(key)
                if isinstance(value, (int, float)) and not math.isfinite(value):
                    raise ModelError(f"training step {state.global_step}: {key} is {value} (non-finite)")

    return FiniteGuard()


@dataclass
class TrainResult:
    """What a run did: rows trained on, steps, seconds, the loss log, and what was dropped.

    ``dropped_identical``: prefix pairs whose two sides are the same token sequence in
    the trained RM's tokens (ties: no preference to learn), left out for every
    objective. ``dropped_by_reference``: prefix pairs the reference RM orders against
    the label (``sp-prm*`` only).
    """

    rows: pd.DataFrame
    steps: int
    seconds: float
    log: list[dict] = field(default_factory=list)
    dropped_identical: int = 0
    dropped_by_reference: int = 0


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

    ``output_dir/run.json`` records the run (config, data and model fingerprints); a
    folder holding another run is refused. Checkpoints go to ``output_dir/checkpoints``
    every ``save_steps``; with ``resume`` an interrupted run continues from its newest
    *complete* checkpoint and ends with the same weights as an uninterrupted one. The
    final model and tokenizer are saved to ``output_dir/model``. Prefix pairs whose two
    sides are the same token sequence are left out (counted in the result). A
    non-finite loss, gradient norm or parameter stops training with a ``ModelError``.
    """
    import time

    from transformers import TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    if len(pairs) == 0:
        raise ConfigError("no training pairs")
    if config.uses_reference and reference is None:
        raise ConfigError(f"objective {config.objective} needs a reference reward model")
    dense = rm.causal if config.dense is None else config.dense
    if dense and not rm.causal:
        raise ConfigError("the dense loss needs a causal reward model")
    check_deepspeed(config.deepspeed)
    pairs = pairs.reset_index(drop=True)
    output_dir = Path(output_dir)
    claim_output(output_dir, run_fingerprint(rm, pairs, config, reference), resume)
    encoded = encode_pairs(rm, pairs)
    rows = training_rows(rm, pairs, config, reference, encoded)
    freeze_lower_parts(rm.model, config)
    ckpt_dir = output_dir / "checkpoints"
    by_prefix_pairs = config.batch_unit == "prefix-pairs"
    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=1 if by_prefix_pairs else config.batch_size,
        gradient_accumulation_steps=accumulation_steps(config.grad_accum, world_size()),
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # transformers 5: a float in [0, 1) is a share of the steps
        lr_scheduler_type="linear",
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=max(1, config.save_steps // 5),
        logging_nan_inf_filter=False,  # a NaN loss is an error, not a 0.0 in the log
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        deepspeed=config.deepspeed,
        bf16=config.bf16,
        use_cpu=not torch.cuda.is_available(),
        save_only_model=False,
    )
    weighting = config.weighting if config.objective == "sp-prm" else "raw"
    examples = PairExamples(rm, pairs, rows, config.batch_unit, config.batch_size, config.seed, encoded)
    trainer = _trainer_class()(
        model=rm.model,
        args=args,
        train_dataset=examples,
        data_collator=PairCollator(rm, dense, weighting),
        callbacks=[_finite_guard(), *(callbacks or [])],
        head_learning_rate=config.head_learning_rate,
    )
    trainer.remove_callback(PrinterCallback)  # the loss log is returned, not printed
    last = last_complete_checkpoint(ckpt_dir, remove_incomplete=trainer.is_world_process_zero()) if resume else None
    started = time.time()
    rm.model.train()
    trainer.train(resume_from_checkpoint=last)
    rm.model.eval()
    seconds = time.time() - started
    trainer.save_model(str(output_dir / "model"))  # gathers ZeRO-3 shards; main process writes
    if trainer.is_world_process_zero():
        rm.tokenizer.save_pretrained(output_dir / "model")
    log = [e for e in trainer.state.log_history if "loss" in e]
    return TrainResult(
        rows=rows,
        steps=trainer.state.global_step,
        seconds=seconds,
        log=log,
        dropped_identical=rows.attrs["dropped_identical"],
        dropped_by_reference=rows.attrs["dropped_by_reference"],
    )


def expected_steps(n_items: int, config: TrainConfig) -> int:
    """Optimizer steps of a run over ``n_items`` counted in ``config.batch_unit``
    (preference pairs, or rows of D_partial), for progress and budgets."""
    per_epoch = math.ceil(math.ceil(n_items / config.batch_size) / config.grad_accum)
    return max(1, math.ceil(per_epoch * config.epochs))


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
