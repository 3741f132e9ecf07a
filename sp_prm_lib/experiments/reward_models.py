"""The reward models of a profile, built once and cached by content hash.

- ``ensure_orm``: the outcome RM (trained here from a backbone, or a hub RM
  used as released when ``train.train_pairs`` is 0);
- ``ensure_reference``: the reference RM r_phi of Eq. 3 (the same way);
- ``ensure_gold``: the gold lab's gold RM, trained on its teacher's labels (``reward.gold``);
- ``ensure_prm(profile, variant)``: a PRM trained *from the ORM* on D_partial:
  ``sp-prm`` (Eq. 3), ``sc`` (Eq. 2 ablation, no reference), ``sp-prm-tlt``
  (TLT instead of SST), ``sp-prm-released`` (filter only, as the released
  code behaves), ``sp-prm-raw`` / ``sp-prm-batch-mean`` (other treatments of
  the unbounded 1/H weights);
- ``trained_rm(profile, role)``: any of them by role (``orm``, ``reference`` or a variant).

Each returns a ``TrainedRM`` whose ``metrics`` hold held-out full-pair
accuracy and AR_RM-SC at the profile's prefix lengths (cached separately, so
a change of the metrics code does not retrain anything).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from sp_prm_lib.config.profile import ModelSpec, Profile, RewardModelSpec
from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.config.variants import PRM_VARIANTS
from sp_prm_lib.core.artifacts import Artifact, ArtifactStore, code_closure
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import pairs_digest
from sp_prm_lib.evaluation import agreement
from sp_prm_lib.experiments import gold_lab
from sp_prm_lib.experiments import pairs as pairs_mod
from sp_prm_lib.experiments.pairs import preference_splits, reward_setting, training_pairs
from sp_prm_lib.scoring.reward_model import RewardModel
from sp_prm_lib.training import trainer as training
from sp_prm_lib.training.trainer import train_reward_model


@dataclass(frozen=True)
class TrainedRM:
    """A profile's reward model: where its weights are, and what it scored."""

    role: str
    location: str  # a folder of the cache, or a hub id
    source: str  # "local" or the spec's own source
    dtype: str
    artifact: Artifact
    metrics: dict

    @property
    def facts(self) -> dict:
        return self.artifact.manifest["facts"]

    def spec(self) -> ModelSpec:
        return ModelSpec(id=self.location, source=self.source, dtype=self.dtype)

    def load(self, profile: Profile, device: str | None = None, **kwargs) -> RewardModel:
        """The RewardModel, with the profile's convention and window, on ``device``
        (default: this process's GPU when there is one, else the CPU)."""
        kwargs.setdefault("convention", profile.reward.convention)
        kwargs.setdefault("max_length", profile.reward.max_length)
        kwargs.setdefault("response_budget", profile.reward.response_budget)
        rm = RewardModel.from_spec(self.spec(), **kwargs)
        rm.name = self.role
        rm.model.to(device or default_device())
        return rm


def default_device() -> str:
    """``cuda:<LOCAL_RANK>`` when a GPU is visible (one per process under accelerate), else ``cpu``."""
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def _install_model(work: Path, out: Path) -> None:
    shutil.move(str(work / "model"), str(out / "model"))


def _ensure_base(profile: Profile, role: str, spec: RewardModelSpec, store: ArtifactStore) -> TrainedRM:
    config = {"role": role, "spec": dataclasses.asdict(spec), **reward_setting(profile)}

    def build(out: Path, work: Path) -> dict:
        torch.manual_seed(profile.seed)  # the new score head's initialisation
        rm = RewardModel.from_spec(
            spec.model,
            convention=profile.reward.convention,
            max_length=profile.reward.max_length,
            response_budget=profile.reward.response_budget,
        )
        facts = {
            "parameters": sum(p.numel() for p in rm.model.parameters()),
            "layers": rm.model.config.num_hidden_layers,
        }
        t = spec.train
        if t.train_pairs == 0:
            return {**facts, "trained": False}
        pairs = training_pairs(profile, t.train_pairs, f"reward.{role}.train.train_pairs")
        cfg = TrainConfig.from_settings(
            t, objective="orm", seed=profile.seed, bf16=_mixed_precision(t, spec.model.dtype)
        )
        result = train_reward_model(rm, pairs, cfg, work, callbacks=[training_progress(f"training {role}")])
        _install_model(work, out)
        return {
            **facts,
            "trained": True,
            "train_pairs": len(pairs),
            "train_rows": len(result.rows),
            "dropped_identical": result.dropped_identical,
            "steps": result.steps,
            "train_seconds": round(result.seconds, 1),
            "loss_log": result.log,
        }

    inputs = {"train_rows": _rows_digest(profile, spec.train.train_pairs, f"reward.{role}.train.train_pairs")}
    art = store.ensure(f"rm-{role}", build, config=config, inputs=inputs, code_version=_training_code(), resumable=True)
    if art.manifest["facts"]["trained"]:
        trained = TrainedRM(role, str(art.path / "model"), "local", spec.model.dtype, art, {})
    else:
        trained = TrainedRM(role, spec.model.id, spec.model.source, spec.model.dtype, art, {})
    return _with_metrics(trained, profile, store)


def _training_code() -> str:
    """The code of a training run: the trainer and what it imports, and how a profile's pairs are chosen."""
    return code_closure(training, pairs_mod)


def _rows_digest(profile: Profile, n: int, setting: str) -> str | None:
    """Content hash of the training rows a reward model is trained on (None: not trained here)."""
    return pairs_digest(training_pairs(profile, n, setting)) if n else None


def training_progress(desc: str):
    """A trainer callback that shows the optimiser steps on the terminal (not in notebook outputs)."""
    from transformers import TrainerCallback

    from sp_prm_lib.core.progress import terminal_progress

    class TerminalProgress(TrainerCallback):
        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.bar = terminal_progress(total=state.max_steps, desc=desc)
            self.bar.update(state.global_step)  # a resumed run starts where it stopped

        def on_step_end(self, args, state, control, **kwargs):
            self.bar.update(state.global_step - self.bar.n)

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.close()

    return TerminalProgress()


def ensure_orm(profile: Profile, store: ArtifactStore | None = None) -> TrainedRM:
    """The profile's outcome reward model (trained on full pairs, paper Eq. 1)."""
    return _ensure_base(profile, "orm", profile.reward.orm, store or ArtifactStore())


def teacher_profile(profile: Profile) -> Profile:
    """``profile`` without its gold reward model: its gold is then ``gold.components``, the
    teacher whose labels the gold reward model (``reward.gold``) is trained on."""
    return dataclasses.replace(profile, reward=dataclasses.replace(profile.reward, gold=None))


def ensure_gold(profile: Profile, store: ArtifactStore | None = None) -> TrainedRM:
    """The gold lab's gold reward model (``reward.gold``; Gao et al. 2022): trained like an ORM on
    the pairs of the profile labelled by the teacher ``gold.components``; its ``metrics`` are its
    held-out agreement with the teacher's labels."""
    if profile.reward.gold is None:
        raise ConfigError(f"{profile.path}: reward.gold: this profile's gold is not a reward model")
    return _ensure_base(teacher_profile(profile), "gold", profile.reward.gold, store or ArtifactStore())


gold_lab.GOLD_MODEL["ensure"] = ensure_gold  # the gold's labels need it (see gold_lab)


def ensure_reference(profile: Profile, store: ArtifactStore | None = None) -> TrainedRM:
    """The profile's reference reward model r_phi (Eq. 3)."""
    return _ensure_base(profile, "reference", profile.reward.reference, store or ArtifactStore())


def prm_train_config(profile: Profile, variant: str) -> TrainConfig:
    """The ``TrainConfig`` of a PRM variant under a profile."""
    if variant not in PRM_VARIANTS:
        raise ConfigError(f"unknown PRM variant {variant!r}; known: {', '.join(PRM_VARIANTS)}")
    return TrainConfig.from_settings(
        profile.reward.prm,
        seed=profile.seed,
        bf16=_mixed_precision(profile.reward.prm, profile.reward.orm.model.dtype),
        **PRM_VARIANTS[variant],
    )


def _mixed_precision(settings, dtype: str) -> bool:
    """The settings' ``bf16`` choice; unset, bfloat16 autocast exactly when the model is stored in bfloat16."""
    return settings.bf16 if settings.bf16 is not None else dtype == "bfloat16"


def ensure_prm(profile: Profile, variant: str = "sp-prm", store: ArtifactStore | None = None) -> TrainedRM:
    """A PRM initialised from the profile's ORM and trained on D_partial (see ``PRM_VARIANTS``)."""
    store = store or ArtifactStore()
    cfg = prm_train_config(profile, variant)
    orm = ensure_orm(profile, store)
    reference = ensure_reference(profile, store) if cfg.uses_reference else None
    config = {
        "role": variant,
        "train": cfg.to_dict(),
        "train_pairs": profile.reward.prm.train_pairs,
        **reward_setting(profile),
    }
    inputs = {
        "orm": orm.artifact.key,
        "reference": reference.artifact.key if reference else None,
        "train_rows": _rows_digest(profile, profile.reward.prm.train_pairs, "reward.prm.train_pairs"),
    }

    def build(out: Path, work: Path) -> dict:
        pairs = training_pairs(profile, profile.reward.prm.train_pairs, "reward.prm.train_pairs")
        rm = orm.load(profile)
        ref = reference.load(profile) if reference else None
        result = train_reward_model(
            rm, pairs, cfg, work, reference=ref, callbacks=[training_progress(f"training {variant}")]
        )
        _install_model(work, out)
        rows = result.rows
        facts = {
            "train_pairs": len(pairs),
            "train_rows": len(rows),
            "partial_rows": int((~rows.full).sum()),
            "dropped_identical": result.dropped_identical,
            "dropped_by_reference": result.dropped_by_reference,
            "steps": result.steps,
            "train_seconds": round(result.seconds, 1),
            "loss_log": result.log,
            "parameters": sum(p.numel() for p in rm.model.parameters()),
            "layers": rm.model.config.num_hidden_layers,
        }
        if "raw_weight" in rows:
            facts["weights"] = {
                "mean": float(rows.weight.mean()),
                "max": float(rows.weight.max()),
                "log_raw_max": float(rows.log_weight.max()),
            }
        rows.to_csv(out / "d_partial.csv.gz", index=False)
        return facts

    art = store.ensure(
        f"rm-{variant}", build, config=config, inputs=inputs, code_version=_training_code(), resumable=True
    )
    trained = TrainedRM(variant, str(art.path / "model"), "local", profile.reward.orm.model.dtype, art, {})
    return _with_metrics(trained, profile, store)


def _with_metrics(trained: TrainedRM, profile: Profile, store: ArtifactStore) -> TrainedRM:
    ts = list(profile.reward.eval_prefix_tokens)
    evaluation = preference_splits(profile)["eval"].frame

    def build(out: Path) -> dict:
        return agreement.evaluate_reward_model(trained.load(profile), evaluation, ts)

    art = store.ensure(
        "rm-eval",
        build,
        config={"ts": ts, **reward_setting(profile)},
        inputs={"model": trained.artifact.key, "eval_rows": pairs_digest(evaluation)},
        code_version=code_closure(agreement, pairs_mod),
    )
    return dataclasses.replace(trained, metrics=art.manifest["facts"])


def trained_rm(profile: Profile, role: str, store: ArtifactStore | None = None) -> TrainedRM:
    """A profile's reward model by role: ``orm``, ``reference`` or a PRM variant name."""
    if role == "orm":
        return ensure_orm(profile, store)
    if role == "reference":
        return ensure_reference(profile, store)
    return ensure_prm(profile, role, store)


def summary_table(models: dict[str, TrainedRM]) -> pd.DataFrame:
    """One row per reward model: size, training cost and held-out metrics."""
    rows = []
    for name, m in models.items():
        f, mt = m.facts, m.metrics
        row = {
            "model": name,
            "layers": f.get("layers"),
            "parameters (M)": round(f.get("parameters", 0) / 1e6, 1),
            "train pairs": f.get("train_pairs", 0),
            "train rows": f.get("train_rows", 0),
            "train seconds": f.get("train_seconds", 0.0),
            f"accuracy ({mt.get('pairs', '?')} eval pairs)": mt.get("accuracy"),
        }
        for t, v in sorted(mt.get("ar_rm_sc", {}).items(), key=lambda kv: int(kv[0])):
            row[f"AR_RM-SC@{t}"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def d_partial(trained: TrainedRM) -> pd.DataFrame:
    """The rows a PRM was trained on (pair, t, lengths, full, weight, reference scores when used)."""
    path = trained.artifact.path / "d_partial.csv.gz"
    if not path.is_file():
        raise ConfigError(f"{trained.role} has no D_partial (an ORM is trained on full pairs only)")
    return pd.read_csv(path)


def loss_curve(trained: TrainedRM) -> pd.DataFrame:
    """Training loss by optimiser step (the Trainer's log), empty for a model used as released."""
    log = trained.facts.get("loss_log", [])
    return pd.DataFrame(
        [{"step": e["step"], "loss": e["loss"], "learning_rate": e.get("learning_rate")} for e in log],
        columns=["step", "loss", "learning_rate"],
    ).assign(model=trained.role)


def d_partial_summary(models: dict[str, TrainedRM]) -> pd.DataFrame:
    """Per PRM: train pairs, rows, partial rows, rows per pair and the weight range."""
    rows = []
    for name, m in models.items():
        d = d_partial(m)
        f = m.facts
        row = {
            "model": name,
            "train pairs": f["train_pairs"],
            "rows": len(d),
            "partial rows": int((~d.full).sum()),
            "rows per pair": round(len(d) / f["train_pairs"], 2),
            "median cut t": float(d[~d.full].t.median()) if (~d.full).any() else None,
            "weight mean": round(float(d.weight.mean()), 3),
            "weight max": round(float(d.weight.max()), 3),
        }
        if "raw_weight" in d:
            row["raw weight max"] = round(float(d.raw_weight.max()), 3)
        rows.append(row)
    return pd.DataFrame(rows)
