"""A training run's folder: ``output_dir/run.json`` fingerprints the run (its ``TrainConfig``, the
data and the initial models), so a folder holding another run is refused rather than resumed, and
the checks that refuse a bad output folder or DeepSpeed config before any model loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
from pathlib import Path

import pandas as pd

from sp_prm_lib.config.training import TrainConfig
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.scoring.reward_model import RewardModel

RUN_FILE = "run.json"


def data_fingerprint(pairs: pd.DataFrame) -> str:
    """sha256 of the pairs' prompt, chosen and rejected texts, in order."""
    digest = hashlib.sha256()
    for prompt, chosen, rejected in zip(pairs.prompt, pairs.chosen, pairs.rejected):
        for text in (prompt, chosen, rejected):
            data = str(text).encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()


def _model_identity(rm: RewardModel | None) -> dict | None:
    if rm is None:
        return None
    params = list(rm.model.parameters())
    head = hashlib.sha256(params[-1].detach().float().cpu().numpy().tobytes()).hexdigest()[:16] if params else ""
    return {
        "name": str(rm.name),
        "class": type(rm.model).__name__,
        "parameters": int(sum(p.numel() for p in params)),
        "last_parameter_sha256": head,
        "convention": rm.convention,
        "max_length": rm.formatter.max_length,
        "window": rm.formatter.window,
    }


def run_fingerprint(rm: RewardModel, pairs: pd.DataFrame, config: TrainConfig, reference: RewardModel | None) -> dict:
    """What makes two runs the same run (``save_steps`` does not change the result)."""
    return {
        "train": _train_fingerprint(config),
        "data": {"pairs": len(pairs), "sha256": data_fingerprint(pairs)},
        "model": _model_identity(rm),
        "reference": _model_identity(reference) if config.uses_reference else None,
    }


def _differences(old, new, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')} ({old!r} -> {new!r})"]


def _train_fingerprint(config: TrainConfig) -> dict:
    return {k: v for k, v in config.to_dict().items() if k != "save_steps"}


def _read_run(output_dir: Path):
    try:
        return json.loads((output_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _refuse(where: str, diff: list[str]) -> None:
    shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
    raise ConfigError(
        f"{where} holds another training run (differs in {shown}): "
        "choose a new output folder, or delete this one to start over"
    )


def _holds_training_state(output_dir: Path) -> bool:
    """Checkpoints or a trained model: what a rerun would resume from or overwrite."""
    return any((output_dir / "checkpoints").glob("checkpoint-*")) or (output_dir / "model").exists()


def _check_folder(output_dir: Path, where: str) -> None:
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"{where} is a file, not a folder")
    if not (output_dir / RUN_FILE).exists() and _holds_training_state(output_dir):
        raise ConfigError(
            f"{where} holds checkpoints or a model without {RUN_FILE} (an unknown run): "
            "choose a new output folder, or delete this one to start over"
        )


def check_output(output_dir: Path, config: TrainConfig, where: str | None = None) -> None:
    """Refuse early (before any model loads) a folder that is a file or holds the
    checkpoints or model of a run with another ``TrainConfig``; ``train_reward_model``
    checks the data and the models as well."""
    output_dir = Path(output_dir)
    where = where or str(output_dir)
    _check_folder(output_dir, where)
    if (output_dir / RUN_FILE).exists() and _holds_training_state(output_dir):
        old = _read_run(output_dir)
        if not isinstance(old, dict):
            _refuse(where, [f"{RUN_FILE} unreadable"])
        diff = _differences(old.get("train"), _train_fingerprint(config), "train.")
        if diff:
            _refuse(where, diff)


def claim_output(output_dir: Path, fingerprint: dict, resume: bool, write: bool = True) -> None:
    """Make ``output_dir`` this run's folder: check the ``run.json`` there, then write it.

    With ``resume``, a folder holding another run's checkpoints or model (a different
    ``run.json``, or none) is refused with a ``ConfigError``, so one run never resumes
    from another's checkpoints; a ``run.json`` alone (a run that stopped before its
    first checkpoint) is replaced. Without ``resume`` the folder's checkpoints are
    removed (they would be resumed from later) and ``run.json`` is replaced.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"output folder {output_dir} is a file, not a folder")
    main_process = int(os.environ.get("RANK", "0")) == 0
    if resume:
        _check_folder(output_dir, str(output_dir))
        if (output_dir / RUN_FILE).exists() and _holds_training_state(output_dir):
            old = _read_run(output_dir)
            if old != fingerprint:
                _refuse(
                    str(output_dir),
                    _differences(old, fingerprint) if isinstance(old, dict) else [f"{RUN_FILE} unreadable"],
                )
            return
    elif main_process and (output_dir / "checkpoints").is_dir():
        _log.warning("not resuming: removing the checkpoints in %s", output_dir / "checkpoints")
        shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    if write and main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        tmp = output_dir / f".{RUN_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(fingerprint, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, output_dir / RUN_FILE)


def check_deepspeed(path: str | None, where: str = "deepspeed") -> None:
    """A ``ConfigError`` unless DeepSpeed is installed and its config file ``path`` exists."""
    if path is None:
        return
    if importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"{where} {path}: the deepspeed package is not installed (pip install deepspeed)")
    if not Path(path).is_file():
        raise ConfigError(f"{where} {path}: no such file")


_log = logging.getLogger(__name__)
