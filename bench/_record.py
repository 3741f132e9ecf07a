"""What every benchmark writes besides its printed lines: ``bench/results/<name>.json``.

A record says when (ISO date), where (CPU model, cores, torch threads and version, GPU),
how (the exact command line, the git commit) and what was measured (see
``sp_prm_lib.report.performance`` for the fields); the book's performance page is generated
from these records. Benchmarks import this module by name (``bench/`` is on ``sys.path`` when
a script in it runs); the library comes from its installation (``make setup``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from sp_prm_lib.core.provenance import git_commit, load_average
from sp_prm_lib.report.performance import RATIO_KINDS, check_record, target_met

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "bench" / "results"
#: environment variables that change what a benchmark measures, shown in its command
ENV_IN_COMMAND = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
#: where the targets come from
DESIGN = "design notes, 'Performance: what to beat'"


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the platform's processor name elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": gpu,
        "python": platform.python_version(),
        "load_average": load_average(),
    }


def _short(path: str) -> str:
    """``path`` relative to the checkout when it lies inside it."""
    try:
        return str(Path(path).absolute().relative_to(ROOT))
    except ValueError:
        return path


def command(argv: list[str] | None = None) -> str:
    """The command line that runs this process, as typed from the checkout's root: the
    thread-setting environment variables, the interpreter, the script and its arguments."""
    argv = list(sys.argv if argv is None else argv)
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in ENV_IN_COMMAND if k in os.environ]
    exe = sys.executable
    if Path(exe).is_absolute() and Path(exe).parent.parent == ROOT / ".venv":
        exe = ".venv/bin/" + Path(exe).name
    return " ".join([*env, shlex.join([_short(exe), _short(argv[0]), *argv[1:]])])


def timing(
    what: str,
    subject: tuple[str, float],
    baseline: tuple[str, float],
    *,
    kind: str = "speedup",
    same: dict | None = None,
    target: dict | None = None,
    note: str | None = None,
) -> dict:
    """One side-by-side timing. ``kind`` ``speedup``: ratio = baseline / subject (how many times
    faster the subject is); ``time``: ratio = subject / baseline (the subject's time in units of
    the baseline's). ``same``: ``{"max_abs_diff": x}`` and/or ``{"identical_tokens": [...]}``.
    ``target``: ``{"text", "ratio_at_least" | "ratio_at_most", "max_abs_diff_at_most", "identical"}``."""
    if kind not in RATIO_KINDS:
        raise ValueError(f"kind must be one of {RATIO_KINDS}, not {kind!r}")
    (sub_name, sub_s), (base_name, base_s) = subject, baseline
    ratio = base_s / sub_s if kind == "speedup" else sub_s / base_s
    m = {
        "what": what,
        "subject": {"name": sub_name, "seconds": round(sub_s, 3)},
        "baseline": {"name": base_name, "seconds": round(base_s, 3)},
        "ratio": round(ratio, 3),
        "ratio_kind": kind,
        "same_result": same,
        "target": dict(target, source=target.get("source", DESIGN)) if target else None,
        "note": note,
    }
    m["passed"] = target_met(m)
    return m


def value(what: str, name: str, number: float, *, low=None, high=None, seconds=None, note=None) -> dict:
    """One measurement that is not a timing ratio (e.g. an agreement rate with its interval)."""
    v = {"name": name, "value": number, "low": low, "high": high, "seconds": seconds}
    return {"what": what, "ratio": None, "value": v, "same_result": None, "target": None, "passed": None, "note": note}


def _plain(x):
    """``x`` with NaN and infinities as null, so the record is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def write(
    name: str,
    title: str,
    measurements: list[dict],
    *,
    notes: list[str] | None = None,
    details: dict | None = None,
    compute: list[dict] | None = None,
    folder: Path = RESULTS,
) -> Path:
    """Write ``folder/<name>.json`` (atomically) and print where; ``name`` is the benchmark's file stem.

    ``compute``: one row per decoding run measured, ``{"run", "seconds", "new_tokens"}`` and the
    forward counts of ``sp_prm_lib.decoding.ComputeCost``, shown next to the wall times."""
    record = {
        "benchmark": name,
        "title": title,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": command(),
        "commit": git_commit(ROOT, watched=("sp_prm_lib", "bench")),
        "measurements": measurements,
        "notes": notes or [],
        "details": details or {},
    }
    if compute:
        record["compute"] = compute
    record = _plain(record)
    check_record(record, name)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.json"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"record: {_short(str(out))}", flush=True)
    return out
