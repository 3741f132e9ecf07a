"""Names of the PRM variants a profile can train, and of the reward models that can guide decoding."""

from __future__ import annotations

from collections.abc import Iterable

from sp_prm_lib.core.errors import ConfigError

#: variant name -> the ``TrainConfig`` fields it sets over the profile's ``reward.prm``
PRM_VARIANTS: dict[str, dict] = {
    "sp-prm": {"objective": "sp-prm"},  # Eq. 3
    "sc": {"objective": "sc"},  # Eq. 2, the paper's ablation: no reference RM
    "sp-prm-tlt": {"objective": "sp-prm", "truncation": "tlt"},
    "sp-prm-released": {"objective": "sp-prm-released"},  # filter only, as the released code behaves
    "sp-prm-raw": {"objective": "sp-prm", "weighting": "raw"},
    "sp-prm-batch-mean": {"objective": "sp-prm", "weighting": "batch-mean"},
}


def check_prm_variants(names: Iterable[str], where: str) -> None:
    """Raise ``ConfigError`` naming ``where[i]`` unless every name is a PRM variant."""
    for i, name in enumerate(names):
        if name not in PRM_VARIANTS:
            raise ConfigError(f"{where}[{i}]: unknown PRM variant {name!r} (known: {', '.join(PRM_VARIANTS)})")


def check_guiding_variants(names: Iterable[str], where: str) -> None:
    """Raise ``ConfigError`` naming ``where[i]`` unless every name is ``orm`` or a PRM variant."""
    for i, name in enumerate(names):
        if name != "orm" and name not in PRM_VARIANTS:
            raise ConfigError(
                f"{where}[{i}]: unknown guiding reward model {name!r} (known: orm, {', '.join(PRM_VARIANTS)})"
            )
