"""Argument dataclasses of the decoders; each validates itself on creation.

Every decoder takes one of these. Values outside their range raise a
``ConfigError`` that names the field, so a bad YAML recipe or keyword fails
before any model runs.

Presets of the chunk-level beam driver (paper Algorithm 3, appendix C.5):

========  =====  ====  ==========  ==========================================
method    W      K     L           note
========  =====  ====  ==========  ==========================================
cbs       8      8     30          the paper's CBS
tbs       8      8     1           CBS with L=1 (token-level beam search)
bon       1      N     whole       Best-of-N (one round, N candidates)
sample    1      1     whole       plain sampling (one candidate)
========  =====  ====  ==========  ==========================================

Guidance (``guidance`` of the reward-guided configs: ARGS, CBS/TBS, BoN, CARDS):
what reward a candidate continuation (policy token ids) is judged by.

- ``text`` (default): ``r(x, decode(ids))``, the paper's definition: the
  reward model scores the text the policy's tokens decode to. Where the RM
  shares the policy's vocabulary and the ids round-trip (``encode(decode(ids))
  == ids``, almost always), the RM's KV cache over the policy's ids gives that
  reward fast; candidates that do not round-trip (a multi-byte character split
  across tokens, a non-canonical tokenization, a skipped special token) are
  re-scored from their text, in one batched call.
- ``token``: the fast path as is: the RM sees exactly the policy's token ids
  (when it shares the vocabulary; otherwise there is only text). Faster (no
  round-trip check) but a candidate that does not round-trip is judged on ids
  its text does not encode to.

Either way the reported reward (``Generation.reward``, run records) is the
reward of the returned text, ``r(x, response)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from sp_prm_lib.core.errors import ConfigError


def _int(name: str, value, lo: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an int, got {value!r}")
    if lo is not None and value < lo:
        raise ConfigError(f"{name} must be >= {lo}, got {value}")


def _float(name: str, value, *, lo: float | None = None, strict: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if lo is not None and (value <= lo if strict else value < lo):
        raise ConfigError(f"{name} must be {'>' if strict else '>='} {lo}, got {value}")


GUIDANCE = ("text", "token")
AUTO = "auto"


def _choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _float_or_auto(name: str, value, **bounds) -> None:
    if isinstance(value, str):
        if value != AUTO:
            raise ConfigError(f"{name} must be a number or {AUTO!r}, got {value!r}")
        return
    _float(name, value, **bounds)


def _fraction(name: str, value) -> None:
    _float(name, value, lo=0.0)
    if value > 1:
        raise ConfigError(f"{name} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class DecodeConfig:
    """Settings every decoder shares.

    ``max_new_tokens``: response length limit (policy tokens, EOS not counted);
    ``min_new_tokens``: EOS is suppressed before this many tokens;
    ``seed``: prompt ``i`` of a run samples from its own generator, seeded from
    ``numpy.random.SeedSequence([seed, i])`` (independent streams: seed s+1 is
    not seed s shifted by one prompt), so results do not depend on how prompts
    are batched.
    """

    max_new_tokens: int = 128
    min_new_tokens: int = 0
    seed: int = 0

    def __post_init__(self):
        _int("max_new_tokens", self.max_new_tokens, 1)
        _int("min_new_tokens", self.min_new_tokens, 0)
        if self.min_new_tokens > self.max_new_tokens:
            raise ConfigError(f"min_new_tokens ({self.min_new_tokens}) exceeds max_new_tokens ({self.max_new_tokens})")
        _int("seed", self.seed, 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None = None, **overrides):
        """Build from a mapping (e.g. a YAML recipe); unknown keys are errors."""
        values = {**(values or {}), **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)


@dataclass(frozen=True)
class GreedyConfig(DecodeConfig):
    """Plain greedy decoding of the policy (argmax every token)."""


@dataclass(frozen=True)
class SampleConfig(DecodeConfig):
    """Ancestral sampling: ``logits / temperature``, keep the ``top_k`` best (0: all)."""

    temperature: float = 1.0
    top_k: int = 50

    def __post_init__(self):
        super().__post_init__()
        _float("temperature", self.temperature, lo=0.0, strict=True)
        _int("top_k", self.top_k, 0)


@dataclass(frozen=True)
class BeamConfig(SampleConfig):
    """The chunk-level beam driver: beam width ``width`` (W), ``successors`` (K)
    sampled per state, chunks of ``chunk_length`` (L) tokens (None: the whole
    response in one chunk). Defaults: the paper's CBS (W=8, K=8, L=30, top_k=50, T=1).
    ``guidance``: ``text`` or ``token`` (module docstring)."""

    width: int = 8
    successors: int = 8
    chunk_length: int | None = 30
    guidance: str = "text"

    def __post_init__(self):
        super().__post_init__()
        _int("width (W)", self.width, 1)
        _int("successors (K)", self.successors, 1)
        if self.chunk_length is not None:
            _int("chunk_length (L)", self.chunk_length, 1)
        _choice("guidance", self.guidance, GUIDANCE)

    def beam(self) -> BeamConfig:
        return self


@dataclass(frozen=True)
class TBSConfig(BeamConfig):
    """Token-level beam search: CBS with L=1."""

    chunk_length: int | None = 1


@dataclass(frozen=True)
class BoNConfig(SampleConfig):
    """Best-of-N: N whole responses sampled from the prompt, the best kept.
    ``guidance``: ``text`` or ``token`` (module docstring)."""

    n: int = 16
    guidance: str = "text"

    def __post_init__(self):
        super().__post_init__()
        _int("n", self.n, 1)
        _choice("guidance", self.guidance, GUIDANCE)

    def beam(self) -> BeamConfig:
        return BeamConfig(
            width=1,
            successors=self.n,
            chunk_length=None,
            temperature=self.temperature,
            top_k=self.top_k,
            max_new_tokens=self.max_new_tokens,
            min_new_tokens=self.min_new_tokens,
            seed=self.seed,
            guidance=self.guidance,
        )


@dataclass(frozen=True)
class ArgsConfig(DecodeConfig):
    """ARGS-greedy (paper Algorithm 2): among the ``k`` most likely tokens pick
    the argmax of ``logit + w * reward(prefix + token)``. Paper: w=1.5, k=30.
    ``temperature`` divides the logits first (the released code's warper; 1: off).
    ``guidance``: ``text`` or ``token`` (module docstring)."""

    k: int = 30
    w: float = 1.5
    temperature: float = 1.0
    guidance: str = "text"

    def __post_init__(self):
        super().__post_init__()
        _int("k", self.k, 1)
        _float("w", self.w)
        _float("temperature", self.temperature, lo=0.0, strict=True)
        _choice("guidance", self.guidance, GUIDANCE)


CARDS_THRESHOLDS = ("schedule", "prefix")
CARDS_ACCEPTANCE = ("soft", "hard")


@dataclass(frozen=True)
class CardsConfig(DecodeConfig):
    """CARDS (paper Algorithm 4): segments of ``min_segment``..``max_segment``
    tokens that end where the policy's next-token entropy (nats, raw logits)
    reaches ``tau_u``; sampled from the ``top_k`` tokens at ``temperature``.

    A segment is accepted against a reward threshold; ``max_rejections``
    rejections in a row force the best candidate seen since the last accept.

    ``threshold``:
      - ``schedule`` (the released code): starts at
        ``(1 - alpha) * r(empty response) + alpha * reward_threshold`` and grows
        linearly with the generated length to ``reward_threshold``;
      - ``prefix``: the reward of the accepted prefix (the segment must not
        lower the reward, softly); ``reward_threshold`` is not used.
    ``acceptance``: ``soft`` accepts with probability
    ``min(1, exp((r - threshold) / beta))``, ``hard`` when ``r >= threshold``.

    Calibration (``"auto"``, the defaults): the released values (tau_u = 7,
    reward_threshold = 8.5) belong to another policy and another RM: 7 nats is
    never reached by SmolLM2's next-token entropy (every segment runs to
    ``max_segment``) and 8.5 is on another RM's scale (every segment is
    rejected and CARDS becomes best-of-(max_rejections + 1)). With ``"auto"``,
    ``cards.calibrate_cards`` samples one response from each of the first
    ``calibration_prompts`` prompts (this config's sampling, its own random
    stream) and sets

    - ``tau_u`` = the ``tau_quantile`` quantile of the policy's next-token
      entropies along those responses (0.9: about one step in ten ends a
      segment, once it has ``min_segment`` tokens);
    - ``reward_threshold`` = the ``reward_quantile`` quantile of the guiding
      RM's rewards of those responses (0.5: the schedule ends at a typical
      sampled response's reward), only with ``threshold: schedule``.

    A number keeps that value as given. A run (``runs.generate_run``)
    calibrates once on its first prompts, so its results do not depend on
    batching; a direct ``cards`` call calibrates on the prompts it is given.
    The values used, the acceptance rate and the mean segment length are in
    each ``Generation.stats``.
    """

    tau_u: float | str = AUTO
    min_segment: int = 4
    max_segment: int = 64
    top_k: int = 50
    temperature: float = 0.7
    threshold: str = "schedule"
    reward_threshold: float | str = AUTO
    alpha: float = 0.5
    beta: float = 0.7
    acceptance: str = "soft"
    max_rejections: int = 10
    tau_quantile: float = 0.9
    reward_quantile: float = 0.5
    calibration_prompts: int = 8
    guidance: str = "text"

    def __post_init__(self):
        super().__post_init__()
        _float_or_auto("tau_u", self.tau_u, lo=0.0)
        _int("min_segment", self.min_segment, 1)
        _int("max_segment", self.max_segment, 1)
        if self.min_segment > self.max_segment:
            raise ConfigError(f"min_segment ({self.min_segment}) exceeds max_segment ({self.max_segment})")
        _int("top_k", self.top_k, 0)
        _float("temperature", self.temperature, lo=0.0, strict=True)
        _choice("threshold", self.threshold, CARDS_THRESHOLDS)
        _choice("acceptance", self.acceptance, CARDS_ACCEPTANCE)
        _float_or_auto("reward_threshold", self.reward_threshold)
        _fraction("alpha", self.alpha)
        _float("beta", self.beta, lo=0.0, strict=True)
        _int("max_rejections", self.max_rejections, 0)
        _fraction("tau_quantile", self.tau_quantile)
        _fraction("reward_quantile", self.reward_quantile)
        _int("calibration_prompts", self.calibration_prompts, 1)
        _choice("guidance", self.guidance, GUIDANCE)

    @property
    def calibrates_tau(self) -> bool:
        return self.tau_u == AUTO

    @property
    def calibrates_reward(self) -> bool:
        """True when the reward threshold is ``auto`` and used (``threshold: schedule``)."""
        return self.reward_threshold == AUTO and self.threshold == "schedule"

    @property
    def needs_calibration(self) -> bool:
        return self.calibrates_tau or self.calibrates_reward


#: decoding method name -> its config class (the decoders themselves live in ``sp_prm_lib.decoding``)
METHOD_CONFIGS: dict[str, type[DecodeConfig]] = {
    "greedy": GreedyConfig,
    "sample": SampleConfig,
    "bon": BoNConfig,
    "tbs": TBSConfig,
    "cbs": BeamConfig,
    "beam": BeamConfig,
    "args": ArgsConfig,
    "cards": CardsConfig,
}


def method_config_class(method: str) -> type[DecodeConfig]:
    """The config class of a decoding method name."""
    try:
        return METHOD_CONFIGS[method]
    except KeyError:
        raise ConfigError(f"unknown decoding method {method!r}; known: {', '.join(METHOD_CONFIGS)}") from None


def make_config(method: str, values=None, **overrides) -> DecodeConfig:
    """The method's config from a mapping and keywords (validated; unknown keys are errors)."""
    return method_config_class(method).from_dict(dict(values or {}), **overrides)
