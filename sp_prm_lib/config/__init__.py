"""Configuration: torch-free dataclasses for profiles, training, decoding methods and PRM variants.

``load_profile`` reads and validates a profile YAML file; ``schema`` is the one
YAML-to-dataclass validator, with each field's help in its metadata.
"""

from sp_prm_lib.config.decoding import METHOD_CONFIGS, make_config
from sp_prm_lib.config.profile import Profile, available_profiles, load_profile
from sp_prm_lib.config.schema import field_help
from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.config.variants import PRM_VARIANTS

__all__ = [
    "METHOD_CONFIGS",
    "PRM_VARIANTS",
    "Profile",
    "TrainConfig",
    "available_profiles",
    "field_help",
    "load_profile",
    "make_config",
]
