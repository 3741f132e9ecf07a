"""The compute a decoding run spends: forward calls and token positions of the policy and the RM.

Wall time depends on the machine; these counts do not. ``count_forwards``
hooks the transformer trunk (``model.base_model``) of the policy and of the
reward model, so it sees every forward whatever calls it: Hugging Face
``generate``, the decoders' own cached steps, the RM's prefix scoring and
its key-value cache sessions (which call the trunk directly). A forward's
tokens are the positions it computes, ``batch x sequence`` of its input,
padding included (that is what the hardware runs); positions read from a
key-value cache are not counted again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass


@dataclass
class ComputeCost:
    """Forward calls and token positions run through the policy and the reward model."""

    policy_calls: int = 0
    policy_forward_tokens: int = 0
    rm_calls: int = 0
    rm_forward_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def per(self, n: int) -> dict[str, float]:
        """Each count divided by ``n`` (prompts decoded together share their cost)."""
        return {k: round(v / n, 2) for k, v in asdict(self).items()} if n else {}


def trunk(model):
    """The module every forward of ``model`` goes through (its ``base_model``, else itself)."""
    base = getattr(model, "base_model", None)
    return base if base is not None else model


def _positions(args, kwargs) -> int:
    x = kwargs.get("input_ids")
    if x is None:
        x = kwargs.get("inputs_embeds")
    if x is None and args:
        x = args[0]
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) < 2:
        return 0
    return int(shape[0]) * int(shape[1])


@contextmanager
def count_forwards(policy_model=None, rm_model=None) -> Iterator[ComputeCost]:
    """Count the forwards of ``policy_model`` and ``rm_model`` inside the block (either may be
    None). A reward model that shares its trunk with the policy is counted as the policy."""
    cost = ComputeCost()
    handles = []

    def hook(prefix: str):
        def count(_module, args, kwargs):
            setattr(cost, f"{prefix}_calls", getattr(cost, f"{prefix}_calls") + 1)
            setattr(
                cost, f"{prefix}_forward_tokens", getattr(cost, f"{prefix}_forward_tokens") + _positions(args, kwargs)
            )

        return count

    seen = set()
    for prefix, model in (("policy", policy_model), ("rm", rm_model)):
        if model is None or id(trunk(model)) in seen:
            continue
        seen.add(id(trunk(model)))
        handles.append(trunk(model).register_forward_pre_hook(hook(prefix), with_kwargs=True))
    try:
        yield cost
    finally:
        for handle in handles:
            handle.remove()
