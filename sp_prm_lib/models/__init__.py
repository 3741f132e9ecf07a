"""Models: provision and load the policy, embedder and reward-model backbones (``loading``),
render chat templates (``chat``), and build tiny models from configs for tests (``tiny``)."""

from sp_prm_lib.models.loading import (
    PACKAGED,
    load_embedder,
    load_policy,
    load_sequence_classifier,
    load_tokenizer,
    provision,
    resolve,
)

__all__ = [
    "PACKAGED",
    "load_embedder",
    "load_policy",
    "load_sequence_classifier",
    "load_tokenizer",
    "provision",
    "resolve",
]
