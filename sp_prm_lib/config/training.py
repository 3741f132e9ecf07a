"""Training settings: the profile's fields and the trainer's config share one definition.

``OptimSettings`` and ``PartialSettings`` are the fields a profile sets
(``reward.orm.train``, ``reward.prm``); ``TrainConfig`` extends them with what
only the trainer needs. ``TrainConfig.from_settings`` copies the shared fields
by name, so the profile and the trainer cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

from sp_prm_lib.config.schema import check_fields, setting
from sp_prm_lib.core.errors import ConfigError

OBJECTIVES = ("orm", "sc", "sp-prm", "sp-prm-released")
WEIGHTINGS = ("raw", "clamp", "batch-mean")
TRUNCATIONS = ("sst", "tlt")
BATCH_UNITS = ("pairs", "prefix-pairs")


@dataclass(frozen=True)
class OptimSettings:
    """Optimisation sizes shared by ORM and PRM training."""

    epochs: float = setting(1.0, above=0, help="passes over the training rows")
    learning_rate: float = setting(5e-5, above=0, help="peak learning rate (AdamW, linear decay)")
    batch_size: int = setting(8, min=1, help="batch_unit items per micro-batch and device")
    batch_unit: str = setting(
        "pairs",
        choices=BATCH_UNITS,
        help=(
            "what batch_size counts: pairs (preference pairs, each with all its D_partial cuts) "
            "or prefix-pairs (rows of D_partial, shuffled; the paper's batch)"
        ),
    )
    grad_accum: int = setting(1, min=1, help="micro-batches per optimiser step (gradient accumulation)")
    freeze_embeddings: bool = setting(False, help="keep the input embeddings fixed")
    train_top_layers: int | None = setting(
        None, min=0, help="train only the top this many transformer layers (and the head); None: all layers"
    )
    head_learning_rate: float | None = setting(
        None, above=0, help="peak learning rate of the score head (None: learning_rate); a new head learns faster"
    )
    bf16: bool | None = setting(
        None,
        help=(
            "mixed precision: bfloat16 autocast over float32 weights (about 1.5x faster on a CPU with "
            "AVX512-BF16); None: on when the model's dtype is bfloat16"
        ),
    )


@dataclass(frozen=True)
class PartialSettings:
    """How D_partial is built and weighted (paper section 4)."""

    truncation: str = setting(
        "sst",
        choices=TRUNCATIONS,
        help="sst: k ~ U{0..2K} random cuts per pair (K on average); tlt: a cut at every token",
    )
    K: int = setting(5, min=1, help="SST: the mean number of cuts per pair (k ~ U{0..2K})")
    tlt_max_cuts: int | None = setting(
        None, min=1, help="TLT only (SST ignores it): at most this many evenly spaced cuts per pair (None: all)"
    )
    weighting: str = setting("clamp", choices=WEIGHTINGS, help="what is done with the unbounded 1/H_t weights of Eq. 3")
    weight_clamp: float = setting(10.0, above=0, help="upper bound of a weight under weighting: clamp")


@dataclass(frozen=True)
class TrainConfig(PartialSettings, OptimSettings):
    """Hyperparameters of one reward-model training run (validated on creation)."""

    objective: str = setting(
        "orm",
        choices=OBJECTIVES,
        help="orm (Eq. 1), sc (Eq. 2), sp-prm (Eq. 3), sp-prm-released (the released code's behaviour)",
    )
    weight_decay: float = setting(0.0, min=0.0, help="AdamW weight decay")
    warmup_ratio: float = setting(0.0, min=0.0, help="share of the steps spent warming up, in [0, 1)")
    seed: int = setting(0, min=0, help="seed of shuffling and of a new score head")
    dense: bool | None = setting(None, help="one packed forward per response (None: for causal RMs)")
    save_steps: int = setting(50, min=1, help="checkpoint every this many steps")
    deepspeed: str | None = setting(None, help="path of a DeepSpeed config (multi-GPU)")

    def __post_init__(self):
        check_fields(self)
        if self.bf16 is None:
            object.__setattr__(self, "bf16", False)
        if self.warmup_ratio >= 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")

    @classmethod
    def from_settings(cls, *settings, **extra) -> TrainConfig:
        """A config from profile settings objects (fields copied by name) and keyword values."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {}
        for obj in settings:
            values.update({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name in names})
        return cls(**{**values, **extra})

    @property
    def partial(self) -> bool:
        return self.objective != "orm"

    @property
    def uses_reference(self) -> bool:
        return self.objective.startswith("sp-prm")

    def to_dict(self) -> dict:
        return asdict(self)
