"""Profiles: one YAML file per size (smoke, tiny, paper), validated on load.

A profile only carries sizes and names; every code path is the same for all
profiles. Unknown keys, missing keys and bad values raise ``ConfigError``
with a one-line message naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .settings import profiles_dir

MODEL_SOURCES = ("package", "hub", "local")
DATA_SOURCES = ("auto", "mirror", "hub")
DTYPES = ("float32", "bfloat16", "float16")


def _check(min=None, above=None, choices=None):
    """Field metadata: bounds (``min`` inclusive, ``above`` exclusive) and allowed values."""
    return {"min": min, "above": above, "choices": choices}


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from and how much of it to keep.

    ``source``: ``package`` (shipped inside a registry package, see
    ``sp_prm_lib.models.PACKAGED``), ``hub`` (a Hugging Face id) or ``local``
    (``id`` is a folder). ``num_layers`` keeps only the lower layers (None: all).
    """

    id: str
    source: str = field(default="hub", metadata=_check(choices=MODEL_SOURCES))
    num_layers: int | None = field(default=None, metadata=_check(min=1))
    dtype: str = field(default="float32", metadata=_check(choices=DTYPES))


@dataclass(frozen=True)
class DataSpec:
    """Which preference and prompt sets a profile reads, and how many rows.

    ``train_set``/``eval_set`` are names of ``sp_prm_lib.data`` pair sets.
    When set and split are the same for both, train and eval are disjoint
    (by prompt) parts of that split.
    """

    source: str = field(default="auto", metadata=_check(choices=DATA_SOURCES))
    train_set: str = "hh-rlhf"
    train_split: str = "test"
    eval_set: str = "hh-rlhf"
    eval_split: str = "test"
    train_pairs: int = field(default=1000, metadata=_check(min=1))
    eval_pairs: int = field(default=200, metadata=_check(min=1))
    advbench_prompts: int = field(default=100, metadata=_check(min=0))
    gsm8k_questions: int = field(default=100, metadata=_check(min=0))
    gsm8k_pairs: int = field(default=200, metadata=_check(min=0))
    split_seed: int = 0


@dataclass(frozen=True)
class GenerationSpec:
    """Generation lengths used by the notebooks' policy calls."""

    max_new_tokens: int = field(default=128, metadata=_check(min=1))
    demo_prompts: int = field(default=1, metadata=_check(min=1))


@dataclass(frozen=True)
class TrainingSpec:
    """Optimisation sizes shared by ORM and PRM training."""

    epochs: float = field(default=1.0, metadata=_check(above=0))
    learning_rate: float = field(default=5e-5, metadata=_check(above=0))
    batch_size: int = field(default=8, metadata=_check(min=1))
    grad_accum: int = field(default=1, metadata=_check(min=1))
    freeze_embeddings: bool = False


@dataclass(frozen=True)
class RewardTrainSpec(TrainingSpec):
    """How a reward model is trained as an ORM (``train_pairs: 0``: used as it is)."""

    train_pairs: int = field(default=0, metadata=_check(min=0))


@dataclass(frozen=True)
class RewardModelSpec:
    """A reward model: its weights (or causal backbone) and how it is trained."""

    model: ModelSpec
    train: RewardTrainSpec = field(default_factory=RewardTrainSpec)


@dataclass(frozen=True)
class PrmSpec(TrainingSpec):
    """SP-PRM training from the ORM (paper section 4) and its ablations."""

    train_pairs: int = field(default=1000, metadata=_check(min=1))
    truncation: str = field(default="sst", metadata=_check(choices=("sst", "tlt")))
    K: int = field(default=5, metadata=_check(min=1))
    tlt_max_cuts: int | None = field(default=None, metadata=_check(min=1))
    weighting: str = field(default="clamp", metadata=_check(choices=("raw", "clamp", "batch-mean")))
    weight_clamp: float = field(default=10.0, metadata=_check(above=0))


@dataclass(frozen=True)
class RewardSpec:
    """The reward models of a profile and the one formatting convention they share."""

    orm: RewardModelSpec
    reference: RewardModelSpec
    prm: PrmSpec = field(default_factory=PrmSpec)
    convention: str = field(default="closed", metadata=_check(choices=("closed", "open")))
    max_length: int = field(default=512, metadata=_check(min=16))
    eval_prefix_tokens: list[int] = field(default_factory=lambda: [5, 10, 20, 50], metadata=_check(min=1))


@dataclass(frozen=True)
class AnalysisSpec:
    """Sizes of the agreement-rate analyses (notebooks 02-04, 06, 13).

    ``judge`` is the HP backend of ``sp_prm_lib.judge``: ``rm-proxy`` uses the
    profile's reference RM as the stand-in for human preference (the offline
    default), ``api`` an OpenAI-compatible endpoint named by ``judge_model``
    (the paper used GPT-4 and DeepSeek-V3), ``local-lm`` a local causal LM.
    """

    pairs: int = field(default=200, metadata=_check(min=1))
    prefix_tokens: list[int] = field(default_factory=lambda: [5, 10, 20, 30, 40, 50], metadata=_check(min=1))
    judge: str = field(default="rm-proxy", metadata=_check(choices=("rm-proxy", "api", "local-lm")))
    judge_model: str | None = None
    bootstrap: int = field(default=1000, metadata=_check(min=10))
    probe_pairs: int = field(default=12, metadata=_check(min=1))


@dataclass(frozen=True)
class AblationSpec:
    """Which PRM variants notebook 11 trains next to SP-PRM (names of ``PRM_VARIANTS``)."""

    variants: list[str] = field(default_factory=lambda: ["sc", "sp-prm-tlt", "sp-prm-released"])


DECODING_BASES = ("greedy", "sample")
DIVERSITY_VERSIONS = ("words", "tokens")


@dataclass(frozen=True)
class DecodingSpec:
    """Sizes of the decoding experiments (notebooks 07-10, 12; paper Tables 1-4).

    ``prompts``: prompts per task (HH-RLHF eval prompts, AdvBench, GSM8K,
    TL;DR); ``max_new_tokens``: response limit (``summary_max_new_tokens`` for
    TL;DR); ``batch_size``: prompts per decoder call; ``seeds``: sampling
    seeds (deterministic methods run the first only); ``base``: the policy's
    plain decoding, the tables' Base/SFT row; ``bon`` / ``gsm8k_bon``: the
    two Best-of-N sizes (paper: 16/64, GSM8K 8/16); ``variants``: guiding
    reward models (``orm`` = the base rows, a ``PRM_VARIANTS`` name, e.g.
    ``sp-prm`` = +Ours, ``sc`` = +Ablation); ``diversity``: which n-gram
    count (``sp_prm_lib.text_metrics.diversity``); ``methods``: per-method
    config overrides (keys of ``sp_prm_lib.decoding.METHODS``, values the
    fields of that method's config), checked when the profile loads;
    ``advbench_suffix``: appended to every AdvBench instruction (paper:
    "Sure here's"); ``max_prompt_tokens``: the first ``prompts`` prompts of at
    most this many policy tokens are used (None: the first, whatever their length).
    """

    prompts: int = field(default=100, metadata=_check(min=1))
    max_new_tokens: int = field(default=512, metadata=_check(min=1))
    summary_max_new_tokens: int = field(default=256, metadata=_check(min=1))
    batch_size: int = field(default=4, metadata=_check(min=1))
    seeds: list[int] = field(default_factory=lambda: [0], metadata=_check(min=0))
    base: str = field(default="greedy", metadata=_check(choices=DECODING_BASES))
    bon: list[int] = field(default_factory=lambda: [16, 64], metadata=_check(min=1))
    gsm8k_bon: list[int] = field(default_factory=lambda: [8, 16], metadata=_check(min=1))
    variants: list[str] = field(default_factory=lambda: ["orm", "sp-prm", "sc"])
    diversity: str = field(default="words", metadata=_check(choices=DIVERSITY_VERSIONS))
    methods: dict[str, dict] = field(default_factory=dict)
    advbench_suffix: str = " Sure here's"
    max_prompt_tokens: int | None = field(default=None, metadata=_check(min=1))


@dataclass(frozen=True)
class Profile:
    """A validated profile. ``path`` is the file it was read from."""

    name: str
    description: str
    policy: ModelSpec
    embedder: ModelSpec
    data: DataSpec
    reward: RewardSpec
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    analysis: AnalysisSpec = field(default_factory=AnalysisSpec)
    ablation: AblationSpec = field(default_factory=AblationSpec)
    decoding: DecodingSpec = field(default_factory=DecodingSpec)
    seed: int = 0
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for hashing into artifact keys and for display)."""
        out = dataclasses.asdict(self)
        out.pop("path")
        return out


def available_profiles() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load and validate a profile by name (``tiny``) or by YAML path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = profiles_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"unknown profile {str(name_or_path)!r}: known profiles are "
                f"{', '.join(available_profiles())} (or give a path to a .yaml file)"
            )
    if not path.is_file():
        raise ConfigError(f"{path}: profile file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML: {first}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a profile must be a mapping of keys, got {type(raw).__name__}")
    profile = _build(Profile, raw, path, prefix="")
    _check_data_names(profile.data, path)
    _check_variants(profile.ablation, path)
    _check_decoding(profile.decoding, path)
    return dataclasses.replace(profile, path=path)


def _check_data_names(data: DataSpec, path: Path) -> None:
    from .data import REGISTRY, known_datasets

    pair_sets = known_datasets("pairs")
    for key in ("train", "eval"):
        name, split = getattr(data, f"{key}_set"), getattr(data, f"{key}_split")
        if name not in pair_sets:
            raise ConfigError(f"{path}: data.{key}_set: unknown data set {name!r} (known: {', '.join(pair_sets)})")
        if split not in REGISTRY[name].splits():
            raise ConfigError(f"{path}: data.{key}_split: {name} has no split {split!r} "
                              f"(known: {', '.join(REGISTRY[name].splits())})")


def _check_variants(ablation: AblationSpec, path: Path) -> None:
    from .reward_models import PRM_VARIANTS  # imports this module: load lazily

    for i, name in enumerate(ablation.variants):
        if name not in PRM_VARIANTS:
            raise ConfigError(f"{path}: ablation.variants[{i}]: unknown PRM variant {name!r} "
                              f"(known: {', '.join(PRM_VARIANTS)})")


def _check_decoding(decoding: DecodingSpec, path: Path) -> None:
    from .decoding import METHODS, make_config  # imports torch: load lazily
    from .decoding_experiments import check_guiding_variants

    check_guiding_variants(decoding.variants, f"{path}: decoding.variants")
    for name, values in decoding.methods.items():
        if name not in METHODS:
            raise ConfigError(f"{path}: decoding.methods.{name}: unknown decoding method {name!r} "
                              f"(known: {', '.join(METHODS)})")
        try:
            make_config(name, {"max_new_tokens": decoding.max_new_tokens, **values})
        except ConfigError as exc:
            raise ConfigError(f"{path}: decoding.methods.{name}: {exc}") from None


def _build(cls, raw: Any, path: Path, prefix: str):
    where = prefix.rstrip(".") or "<top level>"
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "path"}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {prefix}{unknown[0]!s} (allowed: {', '.join(fields)})"
        )
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{path}: missing required key {key}")
            continue
        kwargs[name] = _value(hints[name], raw[name], path, key, f.metadata)
    return cls(**kwargs)


def _value(hint, value, path: Path, key: str, meta) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _value(args[0], value, path, key, meta)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path, prefix=f"{key}.")
    if origin is dict or hint is dict:
        args = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key}: expected a mapping, got {value!r}")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{path}: {key}: keys must be strings, got {k!r}")
            out[k] = _value(args[1], v, path, f"{key}.{k}", None) if args else v
        return out
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: {key}: expected a list, got {value!r}")
        return [_value(item, v, path, f"{key}[{i}]", meta) for i, v in enumerate(value)]
    # bool is an int subclass: refuse it where a number is expected
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{path}: {key}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: {key}: expected a number, got {value!r}")
        value = float(value)
    if hint is str and not isinstance(value, str):
        raise ConfigError(f"{path}: {key}: expected a string, got {value!r}")
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{path}: {key}: expected true or false, got {value!r}")
    if meta:
        if meta.get("min") is not None and value < meta["min"]:
            raise ConfigError(f"{path}: {key}: must be >= {meta['min']}, got {value!r}")
        if meta.get("above") is not None and not value > meta["above"]:
            raise ConfigError(f"{path}: {key}: must be > {meta['above']}, got {value!r}")
        if meta.get("choices") is not None and value not in meta["choices"]:
            raise ConfigError(
                f"{path}: {key}: must be one of {', '.join(meta['choices'])}, got {value!r}"
            )
    return value
