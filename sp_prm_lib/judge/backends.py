"""Judge backends by name: ``api``, ``local-lm``, ``rm-proxy``."""

from __future__ import annotations

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.judge.base import Judge

BACKENDS = ("api", "local-lm", "rm-proxy", "gold")


def make_judge(backend: str, **kwargs) -> Judge:
    """A judge of the named backend.

    ``api``: keyword arguments of ``OpenAIChatJudge`` (settings default to the
    environment). ``local-lm``: ``model`` and ``tokenizer``, or ``spec`` (a
    ``ModelSpec``), plus ``batch_size``. ``rm-proxy``: ``rm`` (a RewardModel)
    and ``eps``. ``gold``: ``gold`` (a ``sp_prm_lib.gold.GoldReward``) and ``eps``:
    the lab's known "human", in both answer orders like every judge.
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
    if backend == "gold":
        from sp_prm_lib.judge.rm_proxy import RewardProxyJudge

        if "gold" not in kwargs:
            raise ConfigError("the gold judge needs gold= (a GoldReward)")
        return RewardProxyJudge(kwargs["gold"], eps=kwargs.get("eps", 1e-6), name="gold")
    raise ConfigError(f"unknown judge backend {backend!r} (known: {', '.join(BACKENDS)})")


def judge_identity(backend: str, model: str | None = None, base_url: str | None = None) -> dict:
    """What decides a judge's verdicts besides its code, for cache keys: the backend, the model
    actually used (the environment's, when none is given) and, for ``api``, the endpoint without
    credentials."""
    if backend == "api":
        from sp_prm_lib.judge.api import redact, resolved_settings

        url, name = resolved_settings(base_url, model)
        return {"backend": backend, "model": name, "base_url": redact(url)}
    if backend not in BACKENDS:
        raise ConfigError(f"unknown judge backend {backend!r} (known: {', '.join(BACKENDS)})")
    return {"backend": backend, "model": model}
