"""The decoding experiments of the paper (Tables 1-4; notebooks 07-10 and 12), cached.

For one task (``hh-rlhf``, ``tldr``, ``advbench``, ``gsm8k``) every
reward-guided search method of the paper runs with every guiding reward
model (``orm``: the paper's plain rows; ``sp-prm``: "+Ours"; ``sc``:
"+Ablation"; any ``PRM_VARIANTS`` name), next to the policy's plain decoding
(the "Base"/"SFT" row). Sizes come only from the profile's ``decoding``
section.

Caching (``ArtifactStore``): each (method, config, guiding RM, prompt set)
run is one ``decode-run`` entry, built by ``decoding.generate_run`` in the
entry's work folder, so an interrupted run resumes from its last finished
batch; each run's evaluation (ORM and reference-RM scores, diversity,
coherence, task metric, judge verdicts against the base output) is one
``decode-eval`` entry. A second call with the same profile loads both
without decoding or scoring anything.

The tables (``decoding_tables``), the tasks (``decoding_tasks``) and the claim statistics
(``decoding_claims``) have their own modules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from sp_prm_lib.config.decoding import make_config
from sp_prm_lib.config.profile import Profile
from sp_prm_lib.config.variants import check_guiding_variants
from sp_prm_lib.core.artifacts import Artifact, ArtifactStore, code_closure, code_hash
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.progress import terminal_progress
from sp_prm_lib.evaluation import text_metrics
from sp_prm_lib.experiments.decoding_tables import summarise, with_cost, with_method_stats
from sp_prm_lib.experiments.decoding_tasks import get_task, task_prompts
from sp_prm_lib.experiments.judges import profile_judge_identity
from sp_prm_lib.experiments.pairs import reward_setting

PAPER_METHODS = ("args", "tbs", "cbs", "cards", "bon")
DETERMINISTIC = ("greedy", "args")


@dataclass(frozen=True)
class Run:
    """One decoder configuration of a table row (before the guiding RM is chosen).

    ``method``: the paper's row key (``bon-16``); ``ours``: as run here (``bon-4``);
    ``decoder``: the registry name; ``guided``: whether it takes a reward model."""

    method: str
    ours: str
    decoder: str
    config: object  # a DecodeConfig
    guided: bool


def method_runs(profile: Profile, task: str, methods: list[str] | None = None) -> list[Run]:
    """The base run and the paper's methods (ARGS-G, TBS, CBS, CARDS, BoN-a, BoN-b) for ``task``,
    one per sampling seed (deterministic decoders: the first seed only)."""
    t = get_task(task)
    d = profile.decoding
    wanted = list(PAPER_METHODS) if methods is None else list(methods)
    for m in wanted:
        if m not in PAPER_METHODS:
            raise ConfigError(f"unknown decoding method {m!r} for the tables; known: {', '.join(PAPER_METHODS)}")
    limit = getattr(d, t.length_field)
    bon_sizes = list(getattr(d, t.bon_field))
    if len(bon_sizes) != 2:
        raise ConfigError(
            f"{profile.path}: decoding.{t.bon_field}: give two BoN sizes (the paper's "
            f"BoN-{t.paper_bon[0]} and BoN-{t.paper_bon[1]} rows), got {bon_sizes}"
        )

    def config(decoder: str, seed: int, **extra):
        values = {"max_new_tokens": limit, **d.methods.get(decoder, {}), **extra, "seed": seed}
        try:
            return make_config(decoder, values)
        except ConfigError as exc:
            raise ConfigError(f"{profile.path}: decoding.methods.{decoder}: {exc}") from None

    def seeds(decoder: str) -> list[int]:
        return d.seeds[:1] if decoder in DETERMINISTIC else list(d.seeds)

    runs = [Run("base", "base", d.base, config(d.base, s), False) for s in seeds(d.base)]
    for m in PAPER_METHODS:
        if m not in wanted:
            continue
        if m == "bon":
            for n, paper_n in zip(bon_sizes, t.paper_bon):
                runs += [Run(f"bon-{paper_n}", f"bon-{n}", "bon", config("bon", s, n=n), True) for s in seeds("bon")]
        else:
            runs += [Run(m, m, m, config(m, s), True) for s in seeds(m)]
    return runs


def resolved_configs(profile: Profile, task: str, variants: list[str] | None = None) -> pd.DataFrame:
    """What a task would run under a profile: each run's decoder, guiding RMs and full config."""
    t = get_task(task)
    d = profile.decoding
    variants = list(d.variants if variants is None else variants)
    rows = []
    for run in method_runs(profile, task):
        rows.append(
            {
                "method": run.method,
                "ours": run.ours,
                "decoder": run.decoder,
                "variants": ", ".join(variants) if run.guided else "none",
                "config": json.dumps(run.config.to_dict()),
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["prompts"] = f"{d.prompts} prompts of {t.description}"
    return frame


# -- models, loaded only when a cache entry has to be built ---------------------------
class ExperimentModels:
    """The models an experiment needs, each loaded on first use (a cache hit loads none).

    ``trained(role)`` gives the ``TrainedRM`` of ``orm``, ``reference`` or a PRM
    variant (its artifact key enters the cache keys); ``rm(role)`` its loaded
    ``RewardModel``; ``policy``, ``embedder`` and ``judge`` as the profile names
    them. Tests substitute an object with the same attributes."""

    def __init__(self, profile: Profile, store: ArtifactStore):
        self.profile, self.store = profile, store
        self._rms: dict[str, object] = {}

    def trained(self, role: str):
        from sp_prm_lib.experiments.reward_models import trained_rm

        return trained_rm(self.profile, role, self.store)

    @cached_property
    def policy(self):
        from sp_prm_lib.decoding import Policy
        from sp_prm_lib.models.loading import load_policy

        model, tok = load_policy(self.profile.policy, self.store)
        return Policy(model, tok)

    def rm(self, role: str):
        if role not in self._rms:
            self._rms[role] = self.trained(role).load(self.profile)
        return self._rms[role]

    @cached_property
    def embedder(self):
        from sp_prm_lib.models.loading import load_embedder

        return load_embedder(self.profile.embedder)

    @cached_property
    def judge(self):
        from sp_prm_lib.experiments.judges import profile_judge

        # an rm-proxy judge reuses the reference RM this object has (or will have) loaded for scoring
        reference = self.rm("reference") if self.profile.analysis.judge == "rm-proxy" else None
        return profile_judge(self.profile, self.store, reference_rm=reference)


def _decoding_code() -> str:
    from sp_prm_lib import decoding

    return code_closure(decoding)


def _prompts_key(prompts: list[str]) -> str:
    return hashlib.sha256(json.dumps(prompts).encode()).hexdigest()[:16]


def run_key_parts(
    profile: Profile, task: str, run: Run, variant: str | None, prompts: list[str], models: ExperimentModels
) -> tuple[dict, dict]:
    """The (config, inputs) that key the ``decode-run`` cache entry of one run (``ensure_run``;
    ``experiments.sharding`` fills the same entry from a job array)."""
    if run.guided and variant is None:
        raise ConfigError(f"{run.ours} needs a guiding reward model (a variant)")
    trained = models.trained(variant) if run.guided else None
    config = {
        "task": task,
        "decoder": run.decoder,
        "config": run.config.to_dict(),
        "prompts": _prompts_key(prompts),
        "n_prompts": len(prompts),
        "policy": dataclasses.asdict(profile.policy),
        "variant": variant if run.guided else None,
        **reward_setting(profile),
    }
    return config, {"scorer": trained.artifact.key if trained else None}


def ensure_run(
    profile: Profile,
    task: str,
    run: Run,
    variant: str | None,
    prompts: list[str],
    store: ArtifactStore | None = None,
    models: ExperimentModels | None = None,
) -> Artifact:
    """The cached generations (``run.jsonl``) of one run guided by ``variant`` (None: unguided)."""
    store = store or ArtifactStore()
    models = models or ExperimentModels(profile, store)
    config, inputs = run_key_parts(profile, task, run, variant, prompts, models)

    def build(out: Path, work: Path) -> dict:
        from sp_prm_lib.decoding import generate_run, read_records

        path = work / "run.jsonl"
        scorer = models.rm(variant) if run.guided else None
        summary = generate_run(
            prompts,
            run.decoder,
            models.policy,
            scorer,
            path,
            config=run.config,
            batch_size=profile.decoding.batch_size,
            process_index=0,
            num_processes=1,
            scorer_name=variant if run.guided else None,
        )
        shutil.copyfile(path, out / "run.jsonl")
        records = read_records(out / "run.jsonl")
        return {
            "prompts": len(records),
            "resumed_from": summary.skipped,
            "decode_seconds": round(sum(r["time_s"] for r in records), 2),
        }

    return store.ensure(
        "decode-run", build, config=config, inputs=inputs, code_version=_decoding_code(), resumable=True
    )


def _records(art: Artifact) -> pd.DataFrame:
    from sp_prm_lib.decoding import read_records

    return pd.DataFrame(read_records(art.path / "run.jsonl")).sort_values("index").reset_index(drop=True)


def ensure_evaluation(
    profile: Profile,
    task: str,
    run_art: Artifact,
    base_art: Artifact | None,
    prompts: pd.DataFrame,
    store: ArtifactStore | None = None,
    models: ExperimentModels | None = None,
) -> pd.DataFrame:
    """Per-generation metrics of one run (cached): ``reward`` (ORM), ``ref_reward``,
    ``diversity``, ``coherence``, the task metric and, with ``base_art``, the judge's
    outcome against the base output (``a`` win, ``b`` loss, ``tie``, ``unparseable``)."""
    from sp_prm_lib import judge as judge_mod

    store = store or ArtifactStore()
    models = models or ExperimentModels(profile, store)
    t = get_task(task)
    orm, reference = models.trained("orm"), models.trained("reference")
    judged = base_art is not None and t.win_tie
    config = {
        "task": task,
        "diversity": profile.decoding.diversity,
        "embedder": dataclasses.asdict(profile.embedder),
        **reward_setting(profile),
        "judge": profile_judge_identity(profile) if t.win_tie else None,
        "references": _prompts_key(prompts.reference.astype(str).tolist()),
    }
    inputs = {
        "run": run_art.key,
        "base": base_art.key if judged else None,
        "orm": orm.artifact.key,
        "reference": reference.artifact.key,
    }

    def build(out: Path) -> dict:
        rec = _records(run_art)
        ps, rs = rec.prompt.tolist(), rec.response.tolist()
        frame = pd.DataFrame({"index": rec["index"]})
        frame["reward"] = models.rm("orm").score(ps, rs).float().numpy()
        frame["ref_reward"] = models.rm("reference").score(ps, rs).float().numpy()
        tok = models.policy.tokenizer if profile.decoding.diversity == "tokens" else None
        frame["diversity"] = [text_metrics.diversity(r, profile.decoding.diversity, tok) for r in rs]
        instructions = prompts.instruction.iloc[rec["index"]].tolist()
        frame["coherence"] = text_metrics.coherence_scores(instructions, rs, models.embedder)
        refs = prompts.reference.iloc[rec["index"]].astype(str).tolist()
        if t.metric == "asr":
            table = text_metrics.attack_success_table(rs, refs)
            frame["asr"] = table.success_target.astype(float).to_numpy() * 100
            frame["asr_refusal"] = table.success_refusal.astype(float).to_numpy() * 100
        elif t.metric == "accuracy":
            frame["accuracy"] = text_metrics.gsm8k_table(rs, refs).correct.astype(float).to_numpy() * 100
        elif t.metric == "rouge_l":
            frame["rouge_l"] = text_metrics.rouge_l_scores(rs, refs)
        if t.win_tie:
            # a reward-model judge (the gold in the lab) also scores every response: the judge's reward
            judge_rewards = models.judge.rewards(ps, rs)
            frame["judge_reward"] = np.nan if judge_rewards is None else np.asarray(judge_rewards, dtype=float)
        if judged:
            base = _records(base_art).set_index("index").loc[rec["index"]]
            pairs = judge_mod.judge_pairs(models.judge, ps, rs, base.response.tolist())
            frame["outcome"] = pairs.outcome.to_numpy()
        frame.to_csv(out / "evaluation.csv", index=False)
        return {"rows": len(frame)}

    art = store.ensure(
        "decode-eval",
        build,
        config=config,
        inputs=inputs,
        code_version=f"{code_closure(text_metrics, judge_mod)}+{code_hash(ensure_evaluation)}",
    )
    return pd.read_csv(art.path / "evaluation.csv", keep_default_na=False, na_values=[""])


@dataclass
class DecodingResult:
    """``generations``: one row per (run, prompt) with its metrics; ``table``: one row per
    (method, variant); ``runs``: the cache entries, for provenance."""

    task: str
    generations: pd.DataFrame
    table: pd.DataFrame
    prompts: pd.DataFrame
    runs: list[dict]


def ensure_decoding_table(
    profile: Profile,
    task: str,
    *,
    methods: list[str] | None = None,
    variants: list[str] | None = None,
    store: ArtifactStore | None = None,
    data_files=None,
    models: ExperimentModels | None = None,
) -> DecodingResult:
    """Run (or load) every (method, guiding RM) of ``task`` and tabulate the paper's metrics.

    ``methods``: a subset of ``args, tbs, cbs, cards, bon`` (default: all);
    ``variants``: guiding reward models (default: ``decoding.variants``);
    ``data_files``: local files in the hub's schema (TL;DR only), instead of the hub;
    ``models``: an ``ExperimentModels`` (default: the profile's, loaded lazily).
    """
    store = store or ArtifactStore()
    t = get_task(task)
    variants = list(profile.decoding.variants if variants is None else variants)
    check_guiding_variants(variants, "variants")
    prompts = task_prompts(profile, task, data_files=data_files)
    texts = prompts.prompt.tolist()
    models = models or ExperimentModels(profile, store)
    runs = method_runs(profile, task, methods)
    base_runs = [r for r in runs if not r.guided]
    base_art = ensure_run(profile, task, base_runs[0], None, texts, store, models)
    frames, provenance = [], []
    steps = [(run, variant) for run in runs for variant in (variants if run.guided else [None])]
    for run, variant in terminal_progress(steps, desc=f"decoding {task}"):
        art = base_art if run is base_runs[0] else ensure_run(profile, task, run, variant, texts, store, models)
        ev = ensure_evaluation(profile, task, art, None if run is base_runs[0] else base_art, prompts, store, models)
        rec = _records(art)
        frame = rec[["index", "prompt", "response", "tokens", "finish", "time_s", "reward"]].rename(
            columns={"reward": "guide_reward"}
        )
        frame = with_method_stats(frame, rec)
        frame = with_cost(frame, rec)
        frame = frame.merge(ev, on="index")
        frame.insert(0, "seed", run.config.seed)
        frame.insert(0, "variant", variant or "none")
        frame.insert(0, "ours", run.ours)
        frame.insert(0, "method", run.method)
        frames.append(frame)
        provenance.append(
            {
                "method": run.method,
                "ours": run.ours,
                "variant": variant or "none",
                "seed": run.config.seed,
                "config": run.config.to_dict(),
                "entry": str(art.path),
            }
        )
    generations = pd.concat(frames, ignore_index=True)
    return DecodingResult(task, generations, summarise(generations, t), prompts, provenance)
