"""Method names -> decoder functions and their argument dataclasses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sp_prm_lib.config.decoding import METHOD_CONFIGS, DecodeConfig, make_config
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.decoding.args import args_greedy
from sp_prm_lib.decoding.baselines import greedy
from sp_prm_lib.decoding.beam import beam_search, best_of_n, cbs, sample, tbs
from sp_prm_lib.decoding.cards import calibrate_cards, cards
from sp_prm_lib.decoding.common import Generation


def _as_given(policy, scorer, prompts, config):
    return config


@dataclass(frozen=True)
class Method:
    """A registered decoder: ``fn(policy, scorer, prompts, config, indices=...)``.

    ``resolve(policy, scorer, prompts, config) -> config``: what a run does
    once, on its whole prompt set, before decoding it in batches (CARDS:
    calibrate its ``"auto"`` thresholds); the identity for the others.
    """

    name: str
    fn: Callable[..., list[Generation]]
    config: type[DecodeConfig]
    needs_scorer: bool
    summary: str
    resolve: Callable[..., DecodeConfig] = _as_given


_DECODERS = [
    ("greedy", greedy, False, "policy argmax decoding"),
    ("sample", sample, False, "policy sampling (top-k, temperature)"),
    ("bon", best_of_n, True, "Best-of-N: W=1, K=N, L=whole response"),
    ("tbs", tbs, True, "token-level beam search: CBS with L=1"),
    ("cbs", cbs, True, "chunk-level beam search (W=8, K=8, L=30)"),
    ("beam", beam_search, True, "the chunk-level beam driver, any W, K, L"),
    ("args", args_greedy, True, "ARGS-greedy: top-k tokens, logit + w * reward"),
    ("cards", cards, True, "CARDS: entropy-bounded segments, rejection sampling"),
]
_RESOLVE = {"cards": calibrate_cards}
METHODS: dict[str, Method] = {
    name: Method(name, fn, METHOD_CONFIGS[name], needs, text, _RESOLVE.get(name, _as_given))
    for name, fn, needs, text in _DECODERS
}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown decoding method {name!r}; known: {', '.join(METHODS)}") from None


def decode(
    method: str,
    policy,
    scorer,
    prompts: Sequence[str],
    config: DecodeConfig | Mapping | None = None,
    *,
    indices: Sequence[int] | None = None,
    **overrides,
) -> list[Generation]:
    """Run a registered method: ``decode("args", policy, rm, prompts, k=30, w=1.5)``."""
    entry = get_method(method)
    if config is None or isinstance(config, Mapping):
        config = make_config(method, config, **overrides)
    elif overrides:
        raise ConfigError("give either a config object or keyword overrides, not both")
    elif not isinstance(config, entry.config):
        raise ConfigError(f"method {method!r} takes a {entry.config.__name__}, got {type(config).__name__}")
    return entry.fn(policy, scorer, prompts, config, indices=indices)
