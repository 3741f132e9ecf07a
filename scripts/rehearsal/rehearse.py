"""The paper run, rehearsed end to end on this machine: `make rehearse-paper`.

1. a copy of this checkout in ``build/rehearsal/checkout`` (the rehearsal's notebooks, cache and
   book never touch the repository's own);
2. a local Hugging Face cache (``hub_cache.py``) with random tiny models and mirror data under the
   ``paper`` profile's hub ids, read with ``HF_HUB_OFFLINE=1``;
3. the API judge's server (``judge_server.py``) on 127.0.0.1 with its injected faults;
4. a real one-node Slurm cluster (``slurm_cluster.py``); the chain of ``cluster/slurm/submit.sh``
   (profile ``paper-rehearsal``: the paper's settings at miniature sizes), with two "GPUs" that are
   CPU processes (gloo) for training and two generation shards;
5. faults on the cluster: the training job is killed mid-way and requeued (``scontrol requeue``),
   a running generation array task is cancelled (``scancel``), resubmitted, and the merge job's
   dependency pointed at the resubmission; then an uninterrupted training job runs the same training
   again and its weights are compared with the requeued one's;
6. checks: every job COMPLETED, every notebook of the profile executed, the judge's faults seen and
   survived, the results page's first line, no listening socket beyond 127.0.0.1; a summary in
   ``build/rehearsal/summary.json``.

Every daemon and server it started is stopped on exit, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from slurm_cluster import ClusterError, LocalSlurm, ensure_packages  # noqa: E402

PROFILE = "paper-rehearsal"
SHARDS = 2
GPUS = 2


def log(msg: str) -> None:
    print(f"[rehearsal {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Failed(RuntimeError):
    pass


def copy_checkout(dest: Path) -> None:
    """Tracked and untracked (not ignored) files of the repository, plus the ignored folders the
    jobs read (the data mirror's verified copies, the book's vendored scripts)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for rel in filter(None, (f.decode() for f in files)):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for rel in ("data/mirror", "book/_vendor"):
        if (ROOT / rel).is_dir():
            shutil.copytree(ROOT / rel, dest / rel, symlinks=False, dirs_exist_ok=True)


def start_judge(folder: Path, env: dict) -> tuple[subprocess.Popen, dict]:
    key = "sk-rehearsal-" + secrets.token_hex(16)
    port_file = folder / "judge.port"
    proc = subprocess.Popen(
        [
            sys.executable, str(HERE / "judge_server.py"), "--port-file", str(port_file),
            "--log", str(folder / "judge.log"), "--key-sha256", hashlib.sha256(key.encode()).hexdigest(),
            "--stall", "6",
        ],
        stdout=open(folder / "judge.out", "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    for _ in range(100):
        if port_file.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    if not port_file.exists():
        raise Failed(f"the judge server did not start (see {folder / 'judge.out'})")
    port = int(port_file.read_text())
    log(f"judge server on 127.0.0.1:{port} (faults: 429, 500, stall 6 s past a 3 s timeout, bad JSON, no verdict)")
    return proc, {
        "SP_PRM_JUDGE_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "SP_PRM_JUDGE_API_KEY": key,
        "SP_PRM_JUDGE_TIMEOUT": "3",
    }


def job_states(cluster: LocalSlurm) -> dict[str, dict]:
    out = cluster.run("scontrol", "show", "job", "-o", check=False)
    jobs = {}
    for line in out.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        jid = fields.get("JobId")
        if fields.get("ArrayTaskId") and fields.get("ArrayJobId"):
            jid = f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}"
        if jid:
            jobs[jid] = {
                "name": fields.get("JobName"),
                "state": fields.get("JobState"),
                "reason": fields.get("Reason"),
                "restarts": int(fields.get("Restarts", 0)),
                "exit": fields.get("ExitCode"),
            }
    return jobs


KILL_AFTER_S = 3  # the training job is requeued after this many seconds of running


def wait_for(what: str, ready, cluster: LocalSlurm, timeout: float, poll: float = 2.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = ready()
        if value:
            return value
        failed = {
            j: s
            for j, s in job_states(cluster).items()
            if s["state"] in ("FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL")
        }
        if failed:
            raise Failed(f"while waiting for {what}: job(s) failed: {failed}")
        time.sleep(poll)
    raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")


def running_for(cluster: LocalSlurm, jid: str) -> float:
    out = cluster.run("squeue", "-h", "-j", jid, "-o", "%T %M", check=False).split()
    if len(out) < 2 or out[0] != "RUNNING":
        return 0.0
    parts = [int(x) for x in out[1].replace("-", ":").split(":")]
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + p
    return float(seconds)


def listening_beyond_loopback(before: frozenset = frozenset()) -> list[str]:
    """TCP sockets listening beyond 127.0.0.1, leaving out those already there before (not ours)."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    bad = []
    for line in out.splitlines():
        if line.split()[3] in before:
            continue
        local = line.split()[3]
        host = local.rsplit(":", 1)[0].strip("[]")
        if host not in ("127.0.0.1", "::1", "localhost"):
            bad.append(local)
    return bad


def model_digest(folder: Path) -> str:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].float().numpy().tobytes())
    return h.hexdigest()[:16]


def rehearse(folder: Path, timeout: float) -> dict:
    started = time.time()
    already = frozenset(listening_beyond_loopback())  # other programs' sockets, there before the rehearsal
    summary: dict = {"profile": PROFILE, "faults": {}, "jobs": {}}
    if folder.exists():
        shutil.rmtree(folder)
    checkout, hf_home, cache, logs = folder / "checkout", folder / "hf", folder / "cache", folder / "logs"
    for d in (checkout, hf_home, cache, logs):
        d.mkdir(parents=True)
    ensure_packages(log)
    copy_checkout(checkout)
    log(f"checkout copied to {checkout}")
    subprocess.run([sys.executable, str(HERE / "hub_cache.py"), "--hf-home", str(hf_home)], check=True)

    procs: list[subprocess.Popen] = []
    cluster = LocalSlurm(folder / "slurm", log=log)
    try:
        judge, judge_env = start_judge(folder, {})
        procs.append(judge)
        env = {
            **os.environ,
            **judge_env,
            "SP_PRM_ROOT": str(checkout),
            "SP_PRM_PYTHON": sys.executable,
            "PYTHONPATH": f"{checkout}:{checkout / 'scripts'}",
            "PROFILE": PROFILE,
            "SP_PRM_SHARDS": str(SHARDS),
            "SP_PRM_GPUS_PER_NODE": str(GPUS),
            "SP_PRM_GRES": "none",  # CPU-only cluster: the scripts' --gres=gpu:N overridden
            "SP_PRM_SBATCH_ARGS": "--cpus-per-task=1",
            "SP_PRM_SLURM_LOGS": str(logs),
            "SP_PRM_RUNS": str(folder / "runs"),
            "SP_PRM_CACHE": str(cache),
            "HF_HOME": str(hf_home),
            "HF_HUB_OFFLINE": "1",
            "SP_PRM_PROGRESS": "0",
        }
        cluster.start()
        env["SLURM_CONF"] = str(cluster.conf)
        out = subprocess.run(
            ["bash", str(checkout / "cluster/slurm/submit.sh")], env=env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise Failed(f"submit.sh failed: {out.stderr.strip()[-400:]}")
        ids = dict(line.split() for line in out.stdout.strip().splitlines())
        summary["submitted"] = ids
        log("submitted: " + ", ".join(f"{k} {v}" for k, v in ids.items()))

        # fault 1: kill the training job mid-way and requeue it
        # (after KILL_AFTER_S of running: on a quiet machine the whole job takes about 13 s, mostly start-up,
        # so a later kill can find it finished; that is a failed rehearsal, not a 30-minute wait)
        def train_running_long_enough() -> bool:
            state = job_states(cluster).get(ids["train"], {}).get("state", "")
            if state in ("COMPLETED", "COMPLETING"):
                raise Failed(f"the training job {ids['train']} finished before it could be killed")
            return running_for(cluster, ids["train"]) >= KILL_AFTER_S

        wait_for(f"the training job to run {KILL_AFTER_S} s", train_running_long_enough, cluster, timeout, poll=0.5)
        cluster.run("scontrol", "requeue", ids["train"])
        log(
            f"fault: training job {ids['train']} killed after {KILL_AFTER_S} s of running and requeued "
            "(scontrol requeue)"
        )
        summary["faults"]["train-requeue"] = {"job": ids["train"], "after_s": KILL_AFTER_S}

        # fault 2: cancel a running generation array task, resubmit it, re-point the merge's dependency
        task = f"{ids['generate']}_1"
        task_log = logs / f"sp-prm-generate-{task}.out"

        def some_runs_done() -> bool:  # mid-way: a few runs written, the rest still to do
            done = task_log.read_text().count("decoded,") if task_log.exists() else 0
            return running_for(cluster, task) > 0 and (done >= 3 or running_for(cluster, task) >= 90)

        wait_for(f"array task {task} to be mid-way", some_runs_done, cluster, timeout)
        cluster.run("scancel", task)
        written = task_log.read_text().count("decoded,")
        log(f"fault: array task {task} cancelled while running, {written} of its runs written")
        time.sleep(3)
        redo = subprocess.run(
            ["sbatch", "--parsable", "--export=ALL", f"--chdir={checkout}", f"--output={logs}/%x-%A_%a.out",
             "--cpus-per-task=1", "--gres=none", "--array=1", str(checkout / "cluster/slurm/generate.sbatch")],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip().split(";")[0]  # fmt: skip
        cluster.run("scontrol", "update", f"JobId={ids['merge']}", f"Dependency=afterok:{ids['generate']}_0:{redo}")
        log(
            f"fault: shard 1 resubmitted as job {redo}; "
            f"merge job {ids['merge']} now waits for {ids['generate']}_0 and {redo}"
        )
        summary["faults"]["array-cancel"] = {"cancelled": task, "resubmitted": redo}
        ids["generate-resubmitted"] = redo

        # an uninterrupted training of the same run, to compare with the requeued one
        ref = subprocess.run(
            ["sbatch", "--parsable", "--export=ALL,SP_PRM_GPUS=2", f"--chdir={checkout}", f"--output={logs}/%x-%j.out",
             "--cpus-per-task=1", "--gres=none", "--job-name=sp-prm-train-reference",
             f"--dependency=afterok:{ids['train']}",
             str(checkout / "cluster/slurm/train.sbatch")],
            env={**env, "SP_PRM_RUNS": str(folder / "runs-reference")}, capture_output=True, text=True, check=True,
        ).stdout.strip().split(";")[0]  # fmt: skip
        ids["train-reference"] = ref

        def finished():
            states = job_states(cluster)
            live = [
                j
                for j, s in states.items()
                if s["state"] in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING")
            ]
            stuck = [
                j for j, s in states.items() if s["state"] == "PENDING" and s["reason"] == "DependencyNeverSatisfied"
            ]
            if stuck:
                raise Failed(f"job(s) {stuck} can never start (a dependency failed): {states}")
            return states if not live else None

        states = wait_for("the chain to finish", finished, cluster, timeout)
        summary["jobs"] = states
        for jid, s in sorted(states.items()):
            log(f"job {jid:>8} {s['name']:<26} {s['state']:<10} restarts {s['restarts']} exit {s['exit']}")
        bad = {j: s for j, s in states.items() if s["state"] != "COMPLETED" and j != task}
        if bad:
            raise Failed(f"jobs not COMPLETED: {bad}")
        if states.get(ids["train"], {}).get("restarts", 0) < 1:
            raise Failed(f"the training job {ids['train']} shows no restart after the requeue")
        if states.get(task, {}).get("state") != "CANCELLED":
            raise Failed(f"array task {task} is {states.get(task)}, not CANCELLED")

        a = model_digest(folder / "runs" / "train-sp-prm" / "model")
        b = model_digest(folder / "runs-reference" / "train-sp-prm" / "model")
        summary["faults"]["train-requeue"]["weights"] = {"requeued": a, "uninterrupted": b}
        if a != b:
            raise Failed(f"the requeued training's weights ({a}) differ from the uninterrupted run's ({b})")
        log(f"requeued training = uninterrupted training (weights sha {a})")
        summary["checks"] = check_outputs(checkout, folder, judge_env["SP_PRM_JUDGE_API_KEY"])
        bad_listen = listening_beyond_loopback(already)
        summary["checks"]["listening_beyond_loopback"] = bad_listen
        if bad_listen:
            raise Failed(f"sockets listening beyond 127.0.0.1: {bad_listen}")
    finally:
        cluster.stop()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
        summary["seconds"] = round(time.time() - started, 1)
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def check_outputs(checkout: Path, folder: Path, key: str) -> dict:
    sys.path.insert(0, str(checkout))
    from sp_prm_lib.config.profile import load_profile

    profile = load_profile(str(checkout / "profiles" / f"{PROFILE}.yaml"))
    executed = checkout / "book" / "executed"
    missing = [n for n in profile.notebooks if not (executed / f"{n}.ipynb").is_file()]
    if missing:
        raise Failed(f"notebooks not executed: {missing}")
    first = (executed / "results.md").read_text().splitlines()[0]
    if "mean nothing" not in first:
        raise Failed(f"the results page's first line does not say the numbers mean nothing: {first!r}")
    if not (checkout / "_build" / "html" / "index.html").is_file():
        raise Failed("the book was not built")
    records = [json.loads(line) for line in (folder / "judge.log").read_text().splitlines()]
    faults = sorted({r["fault"] for r in records if r.get("fault")})
    retried = {r["request"] for r in records if r.get("attempt", 1) > 1}
    if faults != ["429", "500", "malformed", "no-answer", "stall"]:
        raise Failed(f"judge faults seen: {faults}")
    if len(retried) < 4:
        raise Failed(f"only {len(retried)} judge requests were retried; the four transient faults need one each")
    key_leaks = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in (".out", ".log", ".md", ".ipynb", ".json")
        and key in p.read_text(errors="ignore")
    ]
    if key_leaks:
        raise Failed(f"the judge's key appears in {key_leaks[:3]}")
    log(
        f"checks: {len(profile.notebooks)} notebooks executed, book built, judge faults {faults}, "
        f"{len(records)} judge requests, results page: {first[:60]}..."
    )
    return {
        "notebooks": len(profile.notebooks),
        "judge_requests": len(records),
        "judge_faults": faults,
        "results_first_line": first,
        "key_leaks": [str(p) for p in key_leaks],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "rehearsal")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for each stage")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.time()
    try:
        summary = rehearse(args.folder.resolve(), args.timeout)
    except (Failed, ClusterError, subprocess.CalledProcessError) as exc:
        print(f"rehearse-paper: {exc}", file=sys.stderr)
        return 1
    log(f"rehearsal passed in {time.time() - started:.0f} s; summary in {args.folder / 'summary.json'}")
    return 0 if summary else 1


if __name__ == "__main__":
    sys.exit(main())
