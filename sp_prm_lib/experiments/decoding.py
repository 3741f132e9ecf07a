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

Table columns (``DecodingResult.table``): ``method`` (the paper's row:
``base``, ``args``, ``tbs``, ``cbs``, ``cards``, ``bon-<paper N>``),
``ours`` (the method as run here, e.g. ``bon-4``), ``variant`` (``none`` for
the base row), ``n``, ``reward`` (mean ORM score of the whole response: the
paper's "Average reward"), ``reward_sd``, ``ref_reward`` (the reference RM as
an independent evaluator), ``diversity``, ``coherence``, ``win_tie`` (percent,
HH-RLHF), ``asr`` / ``asr_refusal`` (percent, AdvBench), ``accuracy``
(percent, GSM8K), ``rouge_l`` (TL;DR), ``tokens``, ``decode_s``; CARDS rows
also ``acceptance`` (segments accepted by the reward test / drawn),
``segment_tokens`` (mean tokens per kept segment), ``tau_u`` and
``reward_threshold`` (the calibrated thresholds).
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
from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.core.progress import terminal_progress
from sp_prm_lib.evaluation import text_metrics
from sp_prm_lib.experiments.pairs import reward_setting
from sp_prm_lib.experiments.prefix_analysis import profile_judge_identity
from sp_prm_lib.experiments.verdicts import combine_verdicts, effects_table, win_tie_rates


@dataclass(frozen=True)
class Task:
    """A decoding benchmark: where its prompts come from and what it measures."""

    name: str
    table: str  # entry of paper_values.yaml
    length_field: str  # DecodingSpec field with the response limit
    bon_field: str  # DecodingSpec field with the two BoN sizes
    paper_bon: tuple[int, int]  # the paper's BoN sizes in that table
    metric: str | None  # asr / accuracy / rouge_l
    win_tie: bool  # judged against the base output (Table 1)
    paper_model: str  # the paper's policy our column is compared with
    description: str


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            "hh-rlhf",
            "table1",
            "max_new_tokens",
            "bon",
            (16, 64),
            None,
            True,
            "Llama-3.2-3B-Instruct",
            "HH-RLHF eval prompts (dialogue up to the last Assistant turn)",
        ),
        Task(
            "tldr",
            "table2",
            "summary_max_new_tokens",
            "bon",
            (16, 64),
            "rouge_l",
            False,
            "Llama-3.2-1B-Instruct",
            "TL;DR posts (summarize_from_feedback comparisons, validation split; hub only)",
        ),
        Task(
            "advbench",
            "table3",
            "max_new_tokens",
            "bon",
            (16, 64),
            "asr",
            False,
            "Llama-3.2-1B",
            "AdvBench harmful behaviours with the profile's suffix (paper: \"Sure here's\")",
        ),
        Task(
            "gsm8k",
            "table4",
            "max_new_tokens",
            "gsm8k_bon",
            (8, 16),
            "accuracy",
            False,
            "Llama-3.2-1B",
            "GSM8K test questions",
        ),
    ]
}

TLDR_SPLIT = "validation"
PAPER_METHODS = ("args", "tbs", "cbs", "cards", "bon")
LABELS = {"base": "Base", "args": "ARGS-G", "tbs": "TBS", "cbs": "CBS", "cards": "CARDS"}
VARIANT_LABELS = {"none": "", "orm": "", "sp-prm": "+Ours", "sc": "+Ablation"}
DETERMINISTIC = ("greedy", "args")


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown decoding task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


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


# -- prompts ------------------------------------------------------------------------
def task_available(profile: Profile, task: str) -> str | None:
    """None when the profile's data source can serve ``task``, else the reason it cannot."""
    from sp_prm_lib.data import REGISTRY

    t = get_task(task)
    if t.name != "tldr":
        return None
    spec = REGISTRY["tldr"]
    if profile.data.source == "mirror" or not spec.hub:
        return (
            f"TL;DR is on the Hugging Face hub only ({spec.hub.hub_id}) and profile {profile.name!r} "
            f"reads data.source = {profile.data.source!r}; its DeBERTa reward model is hub-only too"
        )
    return None


def task_prompts(profile: Profile, task: str, data_files=None) -> pd.DataFrame:
    """The first ``decoding.prompts`` prompts of ``task``: columns ``prompt``, ``reference``
    (HH-RLHF: the chosen response; TL;DR: the preferred summary; GSM8K: the final number;
    AdvBench: the target string) and ``instruction`` (the prompt before any suffix)."""
    from sp_prm_lib.data import load_pairs
    from sp_prm_lib.experiments.pairs import preference_splits, prompt_sets

    t = get_task(task)
    n = profile.decoding.prompts
    if t.name == "hh-rlhf":
        frame = preference_splits(profile)["eval"].frame.drop_duplicates("prompt")
        out = pd.DataFrame({"instruction": frame.prompt, "prompt": frame.prompt, "reference": frame.chosen})
        where = "data.eval_pairs"
    elif t.name == "tldr":
        if data_files is None:
            reason = task_available(profile, task)
            if reason:
                raise DataError(reason)
        pairs = load_pairs("tldr", split=TLDR_SPLIT, source=profile.data.source, data_files=data_files)
        frame = pairs.frame.drop_duplicates("prompt")
        out = pd.DataFrame({"instruction": frame.prompt, "prompt": frame.prompt, "reference": frame.chosen})
        where = "the TL;DR split"
    elif t.name == "advbench":
        frame = prompt_sets(profile)["advbench"].frame
        out = pd.DataFrame(
            {
                "instruction": frame.prompt,
                "prompt": frame.prompt + profile.decoding.advbench_suffix,
                "reference": frame.target,
            }
        )
        where = "data.advbench_prompts"
    else:
        frame = prompt_sets(profile)["gsm8k"].frame
        out = pd.DataFrame(
            {"instruction": frame.prompt, "prompt": frame.prompt, "reference": frame.final_answer.astype(str)}
        )
        where = "data.gsm8k_questions"
    limit = profile.decoding.max_prompt_tokens
    if limit is not None:
        from sp_prm_lib.models.loading import load_tokenizer

        tok = load_tokenizer(profile.policy)
        lengths = [len(ids) for ids in tok(out.prompt.tolist(), add_special_tokens=False)["input_ids"]]
        out = out[[n_tok <= limit for n_tok in lengths]]
        where += f", at most decoding.max_prompt_tokens = {limit} tokens"
    if len(out) < n:
        raise ConfigError(
            f"{profile.path}: decoding.prompts = {n} is more than the {len(out)} {task} prompts ({where})"
        )
    return out.head(n).reset_index(drop=True)


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
        from sp_prm_lib.experiments.prefix_analysis import trained_rm

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
        from sp_prm_lib.experiments.prefix_analysis import profile_judge

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


METRICS = (
    "reward",
    "ref_reward",
    "judge_reward",
    "diversity",
    "coherence",
    "asr",
    "asr_refusal",
    "accuracy",
    "rouge_l",
)


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
        frame = _with_method_stats(frame, rec)
        frame = _with_cost(frame, rec)
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


#: per-generation method statistics (``Generation.stats``) carried into the tables (CARDS)
STAT_COLUMNS = ("acceptance", "segment_tokens", "tau_u", "reward_threshold")


def _with_method_stats(frame: pd.DataFrame, rec: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a column per ``STAT_COLUMNS`` entry that the records' ``stats`` hold."""
    stats = rec["stats"] if "stats" in rec else pd.Series([{}] * len(rec))
    stats = [s if isinstance(s, dict) else {} for s in stats]
    for key in STAT_COLUMNS:
        if any(key in s for s in stats):
            frame[key] = [np.nan if s.get(key) is None else float(s[key]) for s in stats]
    return frame


#: compute per prompt carried from the run records (``decoding.cost``) into the tables
COST_COLUMNS = ("policy_forward_tokens", "rm_forward_tokens", "rm_calls")


def _with_cost(frame: pd.DataFrame, rec: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each prompt's share of its batch's compute (NaN for records written
    before the runs counted it)."""
    costs = rec["cost"] if "cost" in rec else pd.Series([{}] * len(rec))
    costs = [c if isinstance(c, dict) else {} for c in costs]
    for key in COST_COLUMNS:
        frame[key] = [float(c[key]) if key in c else np.nan for c in costs]
    return frame


def summarise(generations: pd.DataFrame, task: Task | str) -> pd.DataFrame:
    """One row per (method, variant) of the generations frame, in the paper's row order."""
    t = get_task(task) if isinstance(task, str) else task
    rows = []
    for (method, ours, variant), g in generations.groupby(["method", "ours", "variant"], sort=False):
        row = {
            "method": method,
            "ours": ours,
            "variant": variant,
            "n": len(g),
            "reward": g.reward.mean(),
            "reward_sd": g.reward.std(ddof=1) if len(g) > 1 else np.nan,
            "ref_reward": g.ref_reward.mean(),
            "judge_reward": g.judge_reward.mean() if "judge_reward" in g else np.nan,
            "diversity": g.diversity.mean(),
            "coherence": g.coherence.mean(),
        }
        if t.win_tie:
            if method == "base":
                row["win_tie"] = 50.0  # the paper's convention for the base row (not judged)
            else:
                rates = win_tie_rates(g.outcome)  # unparseable outcomes are left out
                row["win_tie"] = rates["win"] + rates["tie"]
                row["win"], row["tie"] = rates["win"], rates["tie"]
                row["unparseable"] = int((g.outcome == "unparseable").sum())
        for m in ("asr", "asr_refusal", "accuracy", "rouge_l"):
            if m in g:
                row[m] = g[m].mean()
        row["tokens"] = g.tokens.mean()
        row["decode_s"] = g.time_s.sum()
        # compute next to the wall time: mean forward token positions (and RM calls) per prompt
        for m in COST_COLUMNS:
            if m in g:
                row[m] = g[m].mean()
        # CARDS: mean acceptance rate and segment length, the calibrated thresholds
        for m in STAT_COLUMNS:
            if m in g and g[m].notna().any():
                row[m] = g[m].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def row_label(method: str, ours: str, variant: str) -> str:
    """The paper's way of naming a row: ``CBS +Ours``, ``BoN-4 +Ablation``."""
    name = f"BoN-{ours[4:]}" if ours.startswith("bon-") else LABELS.get(ours, ours)
    suffix = VARIANT_LABELS.get(variant, f"({variant})")
    return f"{name} {suffix}".strip()


def compare_with_paper(result: DecodingResult, metrics: list[str] | None = None) -> pd.DataFrame:
    """Our table next to the paper's (``comparison.side_by_side``) for the task's paper model."""
    from sp_prm_lib.experiments.comparison import paper_table, side_by_side

    t = get_task(result.task)
    paper_cols = set(paper_table(t.table).columns)
    metrics = [
        m
        for m in (metrics or ["reward", "reward_sd", "diversity", "coherence", "win_tie", "asr", "accuracy", "rouge_l"])
        if m in paper_cols and m in result.table
    ]
    out = side_by_side(
        t.table, result.table, on=["method", "variant"], metrics=metrics, paper_where={"model": t.paper_model}
    )
    ours = result.table.set_index(["method", "variant"]).ours
    out.insert(1, "ours as run", [ours.get((m, v), "") for m, v in zip(out.method, out.variant)])
    return order_rows(out)


def order_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the paper's order: base, ARGS-G, TBS, CBS, CARDS, BoN (small N first); variants
    none, orm, sp-prm, sc, then any other."""
    methods = ["base", "args", "tbs", "cbs", "cards"]
    variants = ["none", "orm", "sp-prm", "sc"]

    def m_key(m: str):
        return (
            (len(methods), int(m[4:]))
            if m.startswith("bon-")
            else (methods.index(m) if m in methods else len(methods) + 1, 0)
        )

    keys = [
        (m_key(m), variants.index(v) if v in variants else len(variants), v)
        for m, v in zip(frame.method, frame.variant)
    ]
    order = sorted(range(len(frame)), key=lambda i: keys[i])
    return frame.iloc[order].reset_index(drop=True)


def improvement_checks(
    table: pd.DataFrame, metric: str, better: str = "higher", against: str = "orm", variant: str = "sp-prm"
) -> pd.DataFrame:
    """Per guided method: ``metric`` with ``variant`` vs with ``against``, and whether it is better."""
    rows = []
    for method, g in table[table.method != "base"].groupby("method", sort=False):
        by = g.set_index("variant")[metric]
        if variant in by and against in by:
            a, b = float(by[variant]), float(by[against])
            rows.append(
                {"method": method, against: b, variant: a, "better": (a > b) if better == "higher" else (a < b)}
            )
    return pd.DataFrame(rows, columns=["method", against, variant, "better"])


def case_studies(result: DecodingResult, indices: list[int] | None = None, seed: int | None = None) -> pd.DataFrame:
    """The same prompts under every (method, variant) side by side (paper Fig. 4 and Fig. 8):
    one row per (prompt, method, variant) with the response and its rewards."""
    g = result.generations
    seed = g.seed.min() if seed is None else seed
    g = g[(g.seed == seed) | (g.method == "base")]
    if indices is not None:
        g = g[g["index"].isin(indices)]
    g = g.assign(row=[row_label(m, o, v) for m, o, v in zip(g.method, g.ours, g.variant)])
    cols = ["index", "row", "method", "variant", "response", "reward", "ref_reward", "diversity"]
    if "outcome" in g:
        cols.append("outcome")
    return g[cols].sort_values(["index"], kind="stable").reset_index(drop=True)


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


def _unit_values(g: pd.DataFrame, metric: str) -> pd.Series:
    """One number per generation: a metric column, or ``win`` / ``tie`` / ``win_tie`` (0/1) from
    the judge's outcome against the base answer (NaN when unparseable)."""
    if metric in ("win", "tie", "win_tie"):
        if "outcome" not in g:
            raise ConfigError(f"{metric}: these generations were not judged against the base answer")
        hit = {"win": ["a"], "tie": ["tie"], "win_tie": ["a", "tie"]}[metric]
        values = g.outcome.isin(hit).astype(float)
        return values.where(g.outcome != "unparseable")
    if metric not in g:
        raise ConfigError(f"no metric {metric!r} in the generations (columns: {', '.join(g.columns)})")
    return pd.to_numeric(g[metric], errors="coerce")


def paired_differences(
    generations: pd.DataFrame, metric: str, *, variant: str = "sp-prm", against: str = "orm"
) -> dict[str, np.ndarray]:
    """Per guided method, the per-prompt difference of ``metric`` with ``variant`` minus with
    ``against`` (each the mean over seeds), aligned on one prompt order shared by every method:
    the effects ``experiments.verdicts.paired_bootstrap`` resamples together."""
    g = generations[generations.method != "base"]
    prompts = np.sort(generations["index"].unique())
    out = {}
    for method, rows in g.groupby("method", sort=False):
        per = rows.assign(value=_unit_values(rows, metric)).groupby(["variant", "index"]).value.mean()
        if variant not in per.index.get_level_values(0) or against not in per.index.get_level_values(0):
            continue
        a = per.loc[variant].reindex(prompts)
        b = per.loc[against].reindex(prompts)
        out[method] = (a - b).to_numpy(dtype=float)
    if not out:
        raise ConfigError(f"no method was run with both {variant!r} and {against!r}")
    return out


def claim_estimates(
    generations: pd.DataFrame,
    tests: dict[str, str],
    *,
    against: str = "orm",
    variant: str = "sp-prm",
    not_independent: tuple[str, ...] = (),
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[pd.DataFrame, str]:
    """A decoding claim over several metrics (``tests``: metric -> ``higher`` / ``lower``, the
    paper's direction for ``variant`` against ``against``): per-method and pooled per-prompt
    estimates of each metric (``experiments.verdicts.effects_table``) and the claim's verdict,
    which needs every metric (``verdicts.combine_verdicts``). Metrics in ``not_independent``
    are scored by an evaluator that favours ``variant`` and give at most ``inconclusive``."""
    frames, verdicts = [], []
    for metric, direction in tests.items():
        effects = paired_differences(generations, metric, variant=variant, against=against)
        shown, verdict = effects_table(
            effects, direction, independent=metric not in not_independent, n_boot=n_boot, seed=seed
        )
        frames.append(shown.assign(metric=metric, paper=direction))
        verdicts.append(verdict)
    table = pd.concat(frames, ignore_index=True)[["metric", "paper", "method", "estimate", "verdict"]]
    return table, combine_verdicts(verdicts)


def reward_metric(generations: pd.DataFrame, judge_independent: bool) -> str:
    """The reward a decoding claim is tested on: the judge's own reward where the judge is
    independent and scores answers (the gold in the lab), else the ORM's (the paper's "average
    reward"; it favours the answers it steered itself, so a gain for a PRM under it is conservative)."""
    has_judge_reward = "judge_reward" in generations and generations.judge_reward.notna().any()
    return "judge_reward" if judge_independent and has_judge_reward else "reward"
