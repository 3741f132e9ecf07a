"""Decoding configs (``config/decoding.py``): field help, the one validator's rules, the ``--set`` help."""

from __future__ import annotations

import dataclasses

import pytest

from sp_prm_lib.cli import main as cli_main
from sp_prm_lib.config.decoding import (
    METHOD_CONFIGS,
    ArgsConfig,
    BeamConfig,
    BoNConfig,
    CardsConfig,
    DecodeConfig,
    TBSConfig,
    make_config,
    settings_help,
)
from sp_prm_lib.config.schema import field_help
from sp_prm_lib.core.errors import ConfigError

CLASSES = sorted(set(METHOD_CONFIGS.values()) | {DecodeConfig}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_is_a_setting_with_help(cls):
    for f in dataclasses.fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
    assert set(field_help(cls)) == {f.name for f in dataclasses.fields(cls)}


def test_defaults_are_the_papers():
    """Appendix C.5: ARGS k=30 w=1.5; CBS W=8 K=8 L=30 (top_k 50, T=1); TBS L=1; CARDS 4..64 tokens, T=0.7."""
    args = ArgsConfig()
    assert (args.k, args.w) == (30, 1.5)
    cbs = BeamConfig()
    assert (cbs.width, cbs.successors, cbs.chunk_length, cbs.top_k, cbs.temperature) == (8, 8, 30, 50, 1.0)
    assert TBSConfig().chunk_length == 1
    bon = BoNConfig(n=4).beam()
    assert (bon.width, bon.successors, bon.chunk_length) == (1, 4, None)
    cards = CardsConfig()
    assert (cards.min_segment, cards.max_segment, cards.temperature, cards.max_rejections) == (4, 64, 0.7, 10)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: BeamConfig(width=0), "width: must be >= 1, got 0"),
        (lambda: TBSConfig(chunk_length=0), "chunk_length: must be >= 1, got 0"),  # a redefined field keeps its rule
        (lambda: ArgsConfig(k=2.0), "k: expected an integer, got 2.0"),
        (lambda: ArgsConfig(w=True), "w: expected a number, got True"),
        (lambda: ArgsConfig(temperature=0), "temperature: must be > 0, got 0"),
        (lambda: CardsConfig(tau_u="high"), "tau_u: must be a number or 'auto', got 'high'"),
        (lambda: CardsConfig(tau_u=-1.0), "tau_u: must be >= 0, got -1.0"),
        (lambda: CardsConfig(reward_threshold=float("nan")), "reward_threshold: must be a finite number"),
        (lambda: CardsConfig(alpha=1.5), "alpha: must be in [0, 1], got 1.5"),
        (lambda: CardsConfig(tau_quantile=-0.1), "tau_quantile: must be in [0, 1], got -0.1"),
        (lambda: CardsConfig(acceptance="maybe"), "acceptance: must be one of soft, hard, got 'maybe'"),
        (lambda: CardsConfig(min_segment=8, max_segment=4), "min_segment (8) exceeds max_segment (4)"),
        (lambda: BoNConfig(guidance=None), "guidance: expected a string, got None"),
        (lambda: make_config("cbs", {"width": 2, "widht": 3}), "unknown key(s) widht"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_field(make, needle):
    with pytest.raises(ConfigError) as err:
        make()
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_words_and_bounds_accept_their_edges():
    assert CardsConfig(tau_u="auto").calibrates_tau
    assert CardsConfig(tau_u=0, reward_threshold=-3).needs_calibration is False
    for edge in (0, 1, 0.0, 1.0):
        assert CardsConfig(alpha=edge, tau_quantile=edge, reward_quantile=edge).alpha == edge
    assert BeamConfig(chunk_length=None).chunk_length is None


def test_settings_help_lists_every_key_of_every_method():
    text = settings_help()
    for method, cls in METHOD_CONFIGS.items():
        assert method in text
        for name, help_text in field_help(cls).items():
            assert f"{name}=" in text, (method, name)
            assert help_text.split()[0] in text
    assert "k=30" in text and "w=1.5" in text and "width=8" in text and "tau_u=auto" in text
    assert "tbs: the keys of cbs but:" in text  # a redefined default is shown, the rest is referred to


def test_generate_help_shows_the_settings(capsys):
    with pytest.raises(SystemExit) as done:
        cli_main(["generate", "--help"])
    assert done.value.code == 0
    assert settings_help() in capsys.readouterr().out
