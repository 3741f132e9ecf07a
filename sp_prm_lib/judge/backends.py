"""Judge backends by name: ``api``, ``local-lm``, ``rm-proxy``."""

from __future__ import annotations

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.judge.base import Judge

BACKENDS = ("api", "local-lm", "rm-proxy")


def make_judge(backend: str, **kwargs) -> Judge:
    """A judge of the named backend.

    ``api``: keyword arguments of ``OpenAIChatJudge`` (settings default to the
    environment). ``local-lm``: ``model`` and ``tokenizer``, or ``spec`` (a
    ``ModelSpec``), plus ``batch_size``. ``rm-proxy``: ``rm`` (a RewardModel)
    and ``eps``.
    """
    if backend == "api":
        from sp_prm_lib.judge.api import OpenAIChatJudge

        return OpenAIChatJudge(**kwargs)
    if backend == "local-lm":
        from sp_prm_lib.judge.local import LocalLMJudge

        spec = kwargs.pop("spec", None)
        if spec is not None:
            return LocalLMJudge.from_spec(spec, **kwargs)
        if "model" not in kwargs or "tokenizer" not in kwargs:
            raise ConfigError("the local-lm judge needs model= and tokenizer=, or spec=")
        return LocalLMJudge(**kwargs)
    if backend == "rm-proxy":
        from sp_prm_lib.judge.rm_proxy import RewardProxyJudge

        if "rm" not in kwargs:
            raise ConfigError("the rm-proxy judge needs rm= (a RewardModel)")
        return RewardProxyJudge(**kwargs)
    raise ConfigError(f"unknown judge backend {backend!r} (known: {', '.join(BACKENDS)})")
