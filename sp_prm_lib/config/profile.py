"""Profiles: one YAML file per size (smoke, tiny, paper), validated on load.

A profile only carries sizes and names; every code path is the same for all
profiles. Unknown keys, missing keys and bad values raise ``ConfigError``
with a one-line message naming the file and the dotted key. Each field's
meaning is in its ``help`` (``sp_prm_lib.config.schema.field_help``).
This module imports no torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sp_prm_lib.config.decoding import METHOD_CONFIGS, make_config
from sp_prm_lib.config.gold import LABEL_SOURCES, GoldSpec
from sp_prm_lib.config.schema import build, read_yaml, setting
from sp_prm_lib.config.training import OptimSettings, PartialSettings
from sp_prm_lib.config.variants import check_guiding_variants, check_prm_variants
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.settings import profiles_dir

MODEL_SOURCES = ("package", "hub", "local")
DATA_SOURCES = ("auto", "mirror", "hub")
DTYPES = ("float32", "bfloat16", "float16")
JUDGES = ("rm-proxy", "api", "local-lm", "gold")
DECODING_BASES = ("greedy", "sample")
DIVERSITY_VERSIONS = ("words", "tokens")
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from and how much of it to keep."""

    id: str = setting(help="hub id, packaged model id (sp_prm_lib.models.PACKAGED) or local folder")
    source: str = setting(
        "hub",
        choices=MODEL_SOURCES,
        help="package: shipped in a registry package; hub: a Hugging Face id; local: a folder",
    )
    num_layers: int | None = setting(None, min=1, help="keep only the lower layers (None: all)")
    dtype: str = setting("float32", choices=DTYPES, help="weights' dtype")


@dataclass(frozen=True)
class DataSpec:
    """Which preference and prompt sets a profile reads, and how many rows.

    When set and split are the same for train and eval, the two are disjoint
    (by prompt) parts of that split.
    """

    source: str = setting("auto", choices=DATA_SOURCES, help="mirror folder, the hub, or auto (mirror first)")
    train_set: str = setting("hh-rlhf", help="pair set of sp_prm_lib.data for training")
    train_split: str = setting("test", help="its split")
    eval_set: str = setting("hh-rlhf", help="pair set for held-out evaluation")
    eval_split: str = setting("test", help="its split")
    train_pairs: int = setting(1000, min=1, help="training pairs kept")
    eval_pairs: int = setting(200, min=1, help="held-out pairs kept")
    advbench_prompts: int = setting(100, min=0, help="AdvBench behaviours kept")
    gsm8k_questions: int = setting(100, min=0, help="GSM8K test questions kept")
    gsm8k_pairs: int = setting(200, min=0, help="GSM8K solution pairs kept")
    split_seed: int = setting(0, help="seed of the hash order that cuts train from eval")
    labels: str = setting(
        "human", choices=LABEL_SOURCES, help="who labels the pairs: human (the data set's own) or gold (the lab)"
    )


@dataclass(frozen=True)
class GenerationSpec:
    """Generation lengths used by the notebooks' policy calls."""

    max_new_tokens: int = setting(128, min=1, help="tokens of a demo answer")
    demo_prompts: int = setting(1, min=1, help="prompts answered in notebook 00")


@dataclass(frozen=True)
class RewardTrainSpec(OptimSettings):
    """How a reward model is trained as an ORM."""

    train_pairs: int = setting(0, min=0, help="full pairs to train on (0: the model is used as it is)")


@dataclass(frozen=True)
class RewardModelSpec:
    """A reward model: its weights (or causal backbone) and how it is trained."""

    model: ModelSpec = setting(help="the backbone or released reward model")
    train: RewardTrainSpec = setting(default_factory=RewardTrainSpec, help="its ORM training")


@dataclass(frozen=True)
class PrmSpec(PartialSettings, OptimSettings):
    """SP-PRM training from the ORM (paper section 4) and its ablations."""

    train_pairs: int = setting(1000, min=1, help="preference pairs whose prefixes make D_partial")


@dataclass(frozen=True)
class RewardSpec:
    """The reward models of a profile and the one formatting convention they share."""

    orm: RewardModelSpec = setting(help="the outcome reward model")
    reference: RewardModelSpec = setting(help="the reference RM r_phi of Eq. 3")
    prm: PrmSpec = setting(default_factory=PrmSpec, help="SP-PRM and ablation training")
    gold: RewardModelSpec | None = setting(
        None,
        help="gold lab only: the gold is this reward model, trained on the labels of gold.components (its "
        "teacher) as in Gao et al. 2022; null: the gold is gold.components itself",
    )
    convention: str = setting(
        "closed", choices=("closed", "open"), help="closed: the response ends its turn; open: the turn is left open"
    )
    max_length: int = setting(512, min=16, help="reward-model window in tokens (prompt + response)")
    response_budget: int | None = setting(
        None,
        min=1,
        help="response tokens the window always holds; the prompt is cut to the rest, the same for every "
        "response of it (None: max_length // 2)",
    )
    eval_prefix_tokens: list[int] = setting(
        default_factory=lambda: [5, 10, 20, 50], min=1, help="prefix lengths of each RM's held-out AR_RM-SC"
    )


@dataclass(frozen=True)
class AnalysisSpec:
    """Sizes of the agreement-rate analyses (notebooks 02-04, 06, 13)."""

    pairs: int = setting(200, min=1, help="held-out pairs measured")
    prefix_tokens: list[int] = setting(
        default_factory=lambda: [5, 10, 20, 30, 40, 50], min=1, help="prefix lengths t (reward-model tokens)"
    )
    judge: str = setting(
        "rm-proxy",
        choices=JUDGES,
        help="HP backend: rm-proxy (the reference RM stands in for people), api "
        "(OpenAI-compatible endpoint, judge_model; the paper used GPT-4, DeepSeek-V3), "
        "local-lm (a local causal LM), gold (the lab's gold reward, profile.gold)",
    )
    judge_model: str | None = setting(None, help="model name of the api or local-lm judge")
    bootstrap: int = setting(1000, min=10, help="bootstrap resamples of every CI")
    probe_pairs: int = setting(12, min=1, help="pairs of the prefix probe (notebook 13)")


@dataclass(frozen=True)
class AblationSpec:
    """Which PRM variants notebook 11 trains next to SP-PRM."""

    variants: list[str] = setting(
        default_factory=lambda: ["sc", "sp-prm-tlt", "sp-prm-released"],
        help="names of sp_prm_lib.config.variants.PRM_VARIANTS",
    )


@dataclass(frozen=True)
class DecodingSpec:
    """Sizes of the decoding experiments (notebooks 07-10, 12; paper Tables 1-4)."""

    prompts: int = setting(100, min=1, help="prompts per task (HH-RLHF eval, AdvBench, GSM8K, TL;DR)")
    max_new_tokens: int = setting(512, min=1, help="response limit")
    summary_max_new_tokens: int = setting(256, min=1, help="response limit of TL;DR")
    batch_size: int = setting(4, min=1, help="prompts per decoder call")
    seeds: list[int] = setting(
        default_factory=lambda: [0], min=0, help="sampling seeds (deterministic methods run the first only)"
    )
    base: str = setting("greedy", choices=DECODING_BASES, help="the policy's plain decoding: the Base/SFT row")
    bon: list[int] = setting(default_factory=lambda: [16, 64], min=1, help="the two Best-of-N sizes")
    gsm8k_bon: list[int] = setting(default_factory=lambda: [8, 16], min=1, help="Best-of-N sizes on GSM8K")
    variants: list[str] = setting(
        default_factory=lambda: ["orm", "sp-prm", "sc"],
        help="guiding RMs: orm (the base rows) or a PRM variant (sp-prm = +Ours, sc = +Ablation)",
    )
    diversity: str = setting(
        "words", choices=DIVERSITY_VERSIONS, help="n-gram unit of sp_prm_lib.evaluation.text_metrics.diversity"
    )
    methods: dict[str, dict] = setting(
        default_factory=dict, help="per-method config overrides: method name -> fields of its config"
    )
    advbench_suffix: str = setting(" Sure here's", help="appended to every AdvBench instruction")
    max_prompt_tokens: int | None = setting(
        None,
        min=1,
        help="use the first prompts of at most this many policy tokens (None: the first, whatever their length)",
    )


@dataclass(frozen=True)
class Profile:
    """A validated profile. ``path`` is the file it was read from."""

    name: str = setting(
        help="the profile's name (outputs are filed under it; a shipped name with other settings "
        "gets its content hash appended)"
    )
    description: str = setting(help="one line on what it is for")
    policy: ModelSpec = setting(help="the policy LM")
    embedder: ModelSpec = setting(help="the sentence embedder (coherence)")
    data: DataSpec = setting(help="data sets and sizes")
    reward: RewardSpec = setting(help="reward models")
    generation: GenerationSpec = setting(default_factory=GenerationSpec, help="demo generation")
    analysis: AnalysisSpec = setting(default_factory=AnalysisSpec, help="agreement-rate analyses")
    ablation: AblationSpec = setting(default_factory=AblationSpec, help="ablation variants")
    decoding: DecodingSpec = setting(default_factory=DecodingSpec, help="decoding experiments")
    gold: GoldSpec = setting(default_factory=GoldSpec, help="the gold reward of the lab (data.labels: gold)")
    notebooks: list[str] | None = setting(
        None, help="notebook names (e.g. 02_obs1_score_consistency) `make reproduce` runs; None: every numbered one"
    )
    notice: str | None = setting(
        None, help="a warning the book's results page opens with (e.g. that the numbers mean nothing)"
    )
    lab: str | None = setting(
        None, help="the gold-lab profile `make reproduce` runs next to this one (its own track in the book)"
    )
    track: str = setting("HH-RLHF, human labels", help="the track's title in the book's results")
    seed: int = setting(0, min=0, help="global seed")
    path: Path | None = dataclasses.field(default=None, compare=False)

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
    raw = _read_with_base(path, ())
    _check_gold_section(raw, path)
    profile = build(Profile, raw, path)
    if not _PROFILE_NAME.fullmatch(profile.name):
        raise ConfigError(
            f"{path}: name: {profile.name!r} must be letters, digits, '.', '-' or '_' (it names output folders)"
        )
    _check_data_names(profile.data, path)
    _check_window(profile.reward, path)
    check_prm_variants(profile.ablation.variants, f"{path}: ablation.variants")
    _check_decoding(profile.decoding, path)
    profile = dataclasses.replace(profile, path=path)
    return dataclasses.replace(profile, name=_output_name(profile))


def content_hash(profile: Profile) -> str:
    """8 hex digits of sha256 over a profile's settings (its name and path left out)."""
    values = {k: v for k, v in profile.to_dict().items() if k != "name"}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _output_name(profile: Profile) -> str:
    """The name outputs are filed under (``figures/<name>/``, ``build/results/<name>/``, ...).

    A profile named like a shipped one (``name: tiny``, or a file that ``extends: tiny``
    without a name of its own) but read from another file with other settings would mix
    its figures and results with the shipped profile's: it is filed as
    ``<name>-<content hash>`` instead (e.g. ``tiny-3f9a1c2e``). The shipped file itself,
    and an exact copy of it, keep the plain name.
    """
    shipped = profiles_dir() / f"{profile.name}.yaml"
    if not shipped.is_file() or shipped.resolve() == Path(profile.path).resolve():
        return profile.name
    original = load_profile(shipped)
    if original.name != profile.name or content_hash(original) == content_hash(profile):
        return profile.name
    return f"{profile.name}-{content_hash(profile)}"


def _check_gold_section(raw: dict, path: Path) -> None:
    """A profile that uses the gold reward must say which one.

    ``data.labels: gold`` or ``analysis.judge: gold`` without a ``gold:`` section (its
    own or its base profile's) is a ``ConfigError``, not a silent default: the gold is
    the lab's "human", and every number of the lab depends on its recipe, so a recipe
    nobody chose (``GoldSpec``'s default differs from the shipped lab's) must not slip in.
    """
    data, analysis = raw.get("data"), raw.get("analysis")
    users = [
        key
        for key, section, field in (("data.labels", data, "labels"), ("analysis.judge", analysis, "judge"))
        if isinstance(section, dict) and section.get(field) == "gold"
    ]
    if users and "gold" not in raw:
        raise ConfigError(
            f"{path}: {users[0]}: gold needs a gold: section naming the recipe, e.g. "
            "gold: {components: {sentiment: 1.0, relevance: 0.5}} (the shipped lab's)"
        )


def _read_with_base(path: Path, seen: tuple[Path, ...]) -> dict:
    """The profile's mapping; with ``extends: <profile>`` laid over its base profile's
    (mappings merge key by key, any other value replaces the base's). The base is the
    file ``<profile>.yaml`` next to this one, else the shipped profile of that name."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a profile must be a mapping of keys, got {type(raw).__name__}")
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if not isinstance(base, str) or not _PROFILE_NAME.fullmatch(base):
        raise ConfigError(f"{path}: extends: expected the name of a shipped profile, got {base!r}")
    base_path = path.parent / f"{base}.yaml"
    if not base_path.is_file():  # a custom profile anywhere may extend a shipped one
        base_path = profiles_dir() / f"{base}.yaml"
    if not base_path.is_file():
        raise ConfigError(
            f"{path}: extends: no profile {base!r} next to it or among the shipped ones "
            f"({', '.join(available_profiles())})"
        )
    chain = (*seen, path.resolve())
    if base_path.resolve() in chain:
        names = " -> ".join(p.stem for p in (*chain, base_path))
        raise ConfigError(f"{chain[0]}: extends: a cycle of profiles ({names})")
    return _merged(_read_with_base(base_path, chain), raw)


def _merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _check_data_names(data: DataSpec, path: Path) -> None:
    from sp_prm_lib.config.datasets import DATASET_SPLITS

    pair_sets = [name for name, (kind, _) in DATASET_SPLITS.items() if kind == "pairs"]
    for key in ("train", "eval"):
        name, split = getattr(data, f"{key}_set"), getattr(data, f"{key}_split")
        if name not in pair_sets:
            raise ConfigError(f"{path}: data.{key}_set: unknown data set {name!r} (known: {', '.join(pair_sets)})")
        splits = DATASET_SPLITS[name][1]
        if split not in splits:
            raise ConfigError(f"{path}: data.{key}_split: {name} has no split {split!r} (known: {', '.join(splits)})")


def _check_window(reward: RewardSpec, path: Path) -> None:
    budget = reward.response_budget
    if budget is not None and budget >= reward.max_length:
        raise ConfigError(
            f"{path}: reward.response_budget: {budget} must be below reward.max_length = {reward.max_length} "
            "(the prompt needs room in the window)"
        )


def _check_decoding(decoding: DecodingSpec, path: Path) -> None:
    check_guiding_variants(decoding.variants, f"{path}: decoding.variants")
    for name, values in decoding.methods.items():
        if name not in METHOD_CONFIGS:
            raise ConfigError(
                f"{path}: decoding.methods.{name}: unknown decoding method {name!r} "
                f"(known: {', '.join(METHOD_CONFIGS)})"
            )
        try:
            make_config(name, {"max_new_tokens": decoding.max_new_tokens, **values})
        except ConfigError as exc:
            raise ConfigError(f"{path}: decoding.methods.{name}: {exc}") from None
