"""Argument dataclasses of the decoders; each validates itself on creation.

Every decoder takes one of these. As in the training configs, each field is a
``setting(default, help=..., min=...)`` whose rules the one validator of
``config.schema`` applies (``check_fields``); only rules across fields (a
minimum above a maximum) are written in ``__post_init__``. Values outside
their range raise a one-line ``ConfigError`` that names the field, so a bad
YAML recipe, ``--set`` or keyword fails before any model runs.
``settings_help`` lists every method's keys with their help (``sp-prm
generate --help``).

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

import json
import textwrap
from dataclasses import asdict, dataclass, fields

from sp_prm_lib.config.schema import check_fields, field_defaults, field_help, setting
from sp_prm_lib.core.errors import ConfigError

GUIDANCE = ("text", "token")
AUTO = "auto"
CARDS_THRESHOLDS = ("schedule", "prefix")
CARDS_ACCEPTANCE = ("soft", "hard")

_GUIDANCE_HELP = (
    "text: the RM scores the text the tokens decode to (the paper's r(x, y)); "
    "token: it reads the policy's token ids (faster; same vocabulary only)"
)


@dataclass(frozen=True)
class DecodeConfig:
    """Settings every decoder shares (each field's ``help`` says what it means).

    ``seed``: prompt ``i`` of a run samples from its own generator, seeded from
    ``numpy.random.SeedSequence([seed, i])`` (independent streams: seed s+1 is
    not seed s shifted by one prompt), so results do not depend on how prompts
    are batched.
    """

    max_new_tokens: int = setting(128, min=1, help="response length limit in policy tokens (EOS not counted)")
    min_new_tokens: int = setting(0, min=0, help="EOS is suppressed before this many new tokens")
    seed: int = setting(0, min=0, help="prompt i samples from numpy SeedSequence([seed, i]) (batching-independent)")

    def __post_init__(self):
        check_fields(self)
        if self.min_new_tokens > self.max_new_tokens:
            raise ConfigError(f"min_new_tokens ({self.min_new_tokens}) exceeds max_new_tokens ({self.max_new_tokens})")

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

    temperature: float = setting(1.0, above=0, help="sampling temperature (the logits are divided by it)")
    top_k: int = setting(50, min=0, help="sample from the top_k most likely tokens (0: all)")


@dataclass(frozen=True)
class BeamConfig(SampleConfig):
    """The chunk-level beam driver (paper Algorithm 3, appendix C.5): beam width
    ``width`` (W), ``successors`` (K) sampled per state, chunks of
    ``chunk_length`` (L) tokens (None: the whole response in one chunk).
    Defaults: the paper's CBS (W=8, K=8, L=30, top_k=50, T=1).
    ``guidance``: ``text`` or ``token`` (module docstring)."""

    width: int = setting(8, min=1, help="W, the beam width: states kept after each chunk (paper: 8)")
    successors: int = setting(8, min=1, help="K, the chunks sampled from each kept state (paper: 8)")
    chunk_length: int | None = setting(
        30, min=1, help="L, tokens per chunk (paper CBS: 30; 1: token-level beam search; null: whole response)"
    )
    guidance: str = setting("text", choices=GUIDANCE, help=_GUIDANCE_HELP)

    def beam(self) -> BeamConfig:
        return self


@dataclass(frozen=True)
class TBSConfig(BeamConfig):
    """Token-level beam search: CBS with L=1."""

    chunk_length: int | None = setting(1, min=1, help="L, tokens per chunk (TBS: 1, one token per step)")


@dataclass(frozen=True)
class BoNConfig(SampleConfig):
    """Best-of-N: N whole responses sampled from the prompt, the best kept.
    ``guidance``: ``text`` or ``token`` (module docstring)."""

    n: int = setting(16, min=1, help="N, whole responses sampled per prompt; the best one is kept")
    guidance: str = setting("text", choices=GUIDANCE, help=_GUIDANCE_HELP)

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
    """ARGS-greedy (paper Algorithm 2, appendix C.5): among the ``k`` most likely
    tokens pick the argmax of ``logit + w * reward(prefix + token)``. Paper:
    w=1.5, k=30. ``temperature`` divides the logits first (the released code's
    warper; 1: off). ``guidance``: ``text`` or ``token`` (module docstring)."""

    k: int = setting(30, min=1, help="candidate tokens per step: the k most likely (paper: 30)")
    w: float = setting(1.5, help="reward weight in logit + w * reward (paper: 1.5)")
    temperature: float = setting(1.0, above=0, help="divides the logits before the reward is added (1: off)")
    guidance: str = setting("text", choices=GUIDANCE, help=_GUIDANCE_HELP)


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

    tau_u: float | str = setting(
        AUTO,
        min=0,
        words=(AUTO,),
        help="entropy (nats) of the policy's next token that ends a segment (paper: 7.0); auto: calibrated",
    )
    min_segment: int = setting(4, min=1, help="shortest segment in tokens (paper: 4)")
    max_segment: int = setting(64, min=1, help="longest segment in tokens (paper: 64)")
    top_k: int = setting(50, min=0, help="sample segment tokens from the top_k most likely (0: all)")
    temperature: float = setting(0.7, above=0, help="sampling temperature of the segments (paper: 0.7)")
    threshold: str = setting(
        "schedule",
        choices=CARDS_THRESHOLDS,
        help=(
            "schedule: grows from r(empty response) to reward_threshold (the released code); "
            "prefix: the accepted prefix's reward"
        ),
    )
    reward_threshold: float | str = setting(
        AUTO,
        words=(AUTO,),
        help=(
            "where the schedule ends (released code: 8.5, on another RM's scale); auto: calibrated "
            "(used with threshold: schedule only)"
        ),
    )
    alpha: float = setting(
        0.5, min=0, max=1, help="the schedule starts at (1 - alpha) * r(empty) + alpha * reward_threshold"
    )
    beta: float = setting(
        0.7, above=0, help="soft acceptance temperature: accept with min(1, exp((r - threshold) / beta))"
    )
    acceptance: str = setting(
        "soft",
        choices=CARDS_ACCEPTANCE,
        help="soft: accept with probability min(1, exp((r - threshold) / beta)); hard: accept when r >= threshold",
    )
    max_rejections: int = setting(
        10, min=0, help="rejections in a row before the best candidate seen is forced (paper: 10; CARDS: 20)"
    )
    tau_quantile: float = setting(
        0.9, min=0, max=1, help="tau_u: auto takes this quantile of the policy's next-token entropies"
    )
    reward_quantile: float = setting(
        0.5, min=0, max=1, help="reward_threshold: auto takes this quantile of the RM's rewards of samples"
    )
    calibration_prompts: int = setting(8, min=1, help="prompts (one sample each) the auto values are calibrated on")
    guidance: str = setting("text", choices=GUIDANCE, help=_GUIDANCE_HELP)

    def __post_init__(self):
        super().__post_init__()
        if self.min_segment > self.max_segment:
            raise ConfigError(f"min_segment ({self.min_segment}) exceeds max_segment ({self.max_segment})")

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


def _shown(value) -> str:
    """A default as ``--set`` reads it back (JSON, plain text for words)."""
    return value if isinstance(value, str) else json.dumps(value)


def settings_help(width: int = 100) -> str:
    """The ``--set KEY=VALUE`` keys of every decoding method, one line per key with its default
    and help, generated from the config fields (``sp-prm generate --help`` shows it)."""
    names: dict[type, list[str]] = {}
    for method, cls in METHOD_CONFIGS.items():
        names.setdefault(cls, []).append(method)

    def rows(cls, parent) -> list[tuple[str, str]]:
        """The fields ``cls`` adds to ``parent`` or redefines, as (key=default, help)."""
        inherited = getattr(parent, "__dataclass_fields__", {})
        defaults, helps = field_defaults(cls), field_help(cls)
        return [
            (f"{f.name}={_shown(defaults[f.name])}", helps[f.name])
            for f in fields(cls)
            if inherited.get(f.name) is not f
        ]

    order: list[type] = []

    def add(cls) -> None:  # a method's parent first, so "the keys of" points up
        if cls in names and cls not in order:
            add(cls.__mro__[1])
            order.append(cls)

    for cls in names:
        add(cls)
    sections = [("every method", rows(DecodeConfig, None))]
    for cls in order:
        parent, title = cls.__mro__[1], ", ".join(names[cls])
        own = rows(cls, parent)
        if parent is not DecodeConfig:
            changed = all(key.split("=")[0] in parent.__dataclass_fields__ for key, _ in own)
            title += f": the keys of {names[parent][0]} {'but' if changed else 'and'}"
        sections.append((title, own))
    key_width = max(len(k) for _, section in sections for k, _ in section) + 2
    lines = ["decoder settings, --set KEY=VALUE (VALUE read as JSON, else as text), per --method:"]
    for title, section in sections:
        lines.append(f"  {title}" + (":" if section else ": no other keys"))
        for key, text in section:
            lines += textwrap.wrap(
                text,
                width,
                initial_indent=f"    {key:<{key_width}}",
                subsequent_indent=" " * (4 + key_width),
                break_on_hyphens=False,
            )
    return "\n".join(lines)
