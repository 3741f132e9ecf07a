"""Method names -> decoder functions and their argument dataclasses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from .args import args_greedy
from .baselines import greedy
from .beam import beam_search, best_of_n, cbs, sample, tbs
from .cards import cards
from .common import Generation
from .config import (ArgsConfig, BeamConfig, BoNConfig, CardsConfig, DecodeConfig, GreedyConfig,
                     SampleConfig, TBSConfig)


@dataclass(frozen=True)
class Method:
    """A registered decoder: ``fn(policy, scorer, prompts, config, indices=...)``."""

    name: str
    fn: Callable[..., list[Generation]]
    config: type[DecodeConfig]
    needs_scorer: bool
    summary: str


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("greedy", greedy, GreedyConfig, False, "policy argmax decoding"),
    Method("sample", sample, SampleConfig, False, "policy sampling (top-k, temperature)"),
    Method("bon", best_of_n, BoNConfig, True, "Best-of-N: W=1, K=N, L=whole response"),
    Method("tbs", tbs, TBSConfig, True, "token-level beam search: CBS with L=1"),
    Method("cbs", cbs, BeamConfig, True, "chunk-level beam search (W=8, K=8, L=30)"),
    Method("beam", beam_search, BeamConfig, True, "the chunk-level beam driver, any W, K, L"),
    Method("args", args_greedy, ArgsConfig, True, "ARGS-greedy: top-k tokens, logit + w * reward"),
    Method("cards", cards, CardsConfig, True, "CARDS: entropy-bounded segments, rejection sampling"),
]}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown decoding method {name!r}; known: {', '.join(METHODS)}") from None


def make_config(method: str, values: Mapping | None = None, **overrides) -> DecodeConfig:
    """The method's config from a mapping and keywords (validated; unknown keys are errors)."""
    return get_method(method).config.from_dict(dict(values or {}), **overrides)


def decode(method: str, policy, scorer, prompts: Sequence[str], config: DecodeConfig | Mapping | None = None,
           *, indices: Sequence[int] | None = None, **overrides) -> list[Generation]:
    """Run a registered method: ``decode("args", policy, rm, prompts, k=30, w=1.5)``."""
    entry = get_method(method)
    if config is None or isinstance(config, Mapping):
        config = make_config(method, config, **overrides)
    elif overrides:
        raise ConfigError("give either a config object or keyword overrides, not both")
    elif not isinstance(config, entry.config):
        raise ConfigError(f"method {method!r} takes a {entry.config.__name__}, got {type(config).__name__}")
    return entry.fn(policy, scorer, prompts, config, indices=indices)
