"""A real one-node Slurm cluster on this machine, for the rehearsal and its test.

``LocalSlurm(folder)`` writes a ``slurm.conf`` (one node: this host, its CPUs,
no GPUs: jobs ask for none, ``--gres`` is overridden on the command line),
starts ``munged``, ``slurmctld`` and ``slurmd`` as child processes with every
state, spool, socket, pid and log file under ``folder``, and stops them on
``stop()`` / leaving the ``with`` block (also on errors). The daemons listen on
127.0.0.1 only (``CommunicationParameters=NoInAddrAny``, free ports), munge on a
Unix socket of its own. ``env()`` is the environment under which ``sbatch``,
``squeue`` and ``scontrol`` talk to it (``SLURM_CONF``).

Needs root (``SlurmUser=root``) and Debian's ``slurm-wlm`` and ``munge``:
``ensure_packages()`` installs them with apt-get as root, else says in one line
what to install.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
TOOLS = ("sbatch", "squeue", "scontrol", "scancel")


class ClusterError(RuntimeError):
    pass


def missing_tools() -> list[str]:
    found = {name: shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin") for name in DAEMONS + TOOLS}
    return [name for name, where in found.items() if where is None]


def unavailable_reason() -> str | None:
    """Why a local cluster cannot start here (one line), or None."""
    if os.geteuid() != 0:
        return "the rehearsal's Slurm cluster needs root (SlurmUser=root); run as root"
    missing = missing_tools()
    if missing and shutil.which("apt-get") is None:
        return f"missing {', '.join(missing)}: install the Debian packages slurm-wlm and munge"
    return None


def ensure_packages(log=print) -> None:
    """Install slurm-wlm and munge with apt-get when a daemon or tool is missing (root only)."""
    reason = unavailable_reason()
    if reason:
        raise ClusterError(reason)
    if not missing_tools():
        return
    log("slurm: installing the Debian packages slurm-wlm and munge (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise ClusterError(f"{' '.join(cmd)} failed ({tail}): install slurm-wlm and munge by hand")
    if missing_tools():
        raise ClusterError(f"still missing after apt-get: {', '.join(missing_tools())}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin") or name


class LocalSlurm:
    def __init__(self, folder: Path, cpus: int | None = None, log=print):
        self.folder = Path(folder).resolve()
        self.cpus = cpus or os.cpu_count() or 1
        self.host = socket.gethostname().split(".")[0]
        self.log = log
        self.procs: dict[str, subprocess.Popen] = {}

    # -- configuration --------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.folder / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.folder / "munge" / "munge.socket"

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        for sub in ("state", "spool", "log", "munge"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        ctld_port, slurmd_port = free_port(), free_port()
        f = self.folder
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=rehearsal",
                    f"SlurmctldHost={self.host}(127.0.0.1)",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.munge_socket}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU",
                    "SchedulerType=sched/backfill",
                    "SchedulerParameters=sched_interval=2",
                    "JobRequeue=1",
                    "ReturnToService=2",
                    "MinJobAge=3600",
                    "MpiDefault=none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "PropagateResourceLimits=NONE",
                    "KillWait=5",
                    "InactiveLimit=0",
                    f"StateSaveLocation={f / 'state'}",
                    f"SlurmdSpoolDir={f / 'spool'}",
                    f"SlurmctldPidFile={f / 'slurmctld.pid'}",
                    f"SlurmdPidFile={f / 'slurmd.pid'}",
                    f"SlurmctldLogFile={f / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={f / 'log' / 'slurmd.log'}",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN",
                    f"PartitionName=rehearsal Nodes={self.host} Default=YES MaxTime=INFINITE State=UP "
                    "OverSubscribe=FORCE:4",
                    "",
                ]
            )
        )

    # -- daemons ----------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.folder / "log" / f"{name}.out", "ab")
        self.procs[name] = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env(), start_new_session=True
        )
        out.close()

    def start(self, timeout: float = 60.0) -> None:
        self.write_config()
        m = self.folder / "munge"
        key = m / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            key.chmod(0o400)
        self._spawn(
            "munged",
            [
                _bin("munged"), "--foreground", "--force", f"--key-file={key}", f"--socket={self.munge_socket}",
                f"--pid-file={m / 'munged.pid'}", f"--log-file={m / 'munged.log'}", f"--seed-file={m / 'munged.seed'}",
            ],
        )  # fmt: skip
        self._wait(lambda: self.munge_socket.exists(), timeout, "munged did not create its socket")
        self._spawn("slurmctld", [_bin("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", [_bin("slurmd"), "-D", "-f", str(self.conf), "-N", self.host])
        self._wait(self._node_idle, timeout, f"the node did not become idle (see the logs in {self.folder / 'log'})")
        self.log(f"slurm: one-node cluster up ({self.host}, {self.cpus} CPUs), logs in {self.folder / 'log'}")

    def _wait(self, ready, timeout: float, problem: str) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise ClusterError(
                    f"{dead[0]} exited with code {self.procs[dead[0]].returncode}: see {self.folder / 'log'}"
                )
            if ready():
                return
            time.sleep(0.5)
        raise ClusterError(problem)

    def _node_idle(self) -> bool:
        done = subprocess.run([_bin("sinfo"), "-h", "-N", "-o", "%T"], env=self.env(), capture_output=True, text=True)
        return done.returncode == 0 and any(s.strip().startswith("idle") for s in done.stdout.splitlines())

    def run(self, *cmd: str, check: bool = True) -> str:
        done = subprocess.run(list(cmd), env=self.env(), capture_output=True, text=True)
        if check and done.returncode != 0:
            raise ClusterError(f"{' '.join(cmd[:2])}: {(done.stderr.strip() or done.stdout.strip())[:300]}")
        return done.stdout

    def stop(self) -> None:
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run([_bin("scancel"), "--full", "-u", "root"], env=self.env(), capture_output=True)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self._kill_leftover_steps()

    def _kill_leftover_steps(self) -> None:
        """slurmstepd processes (one per job) outlive slurmd: end those that belong to this cluster."""
        for pid_dir in Path("/proc").glob("[0-9]*"):
            try:
                cmd = (pid_dir / "cmdline").read_bytes().decode(errors="replace")
                environ = (pid_dir / "environ").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("slurmstepd") and f"SLURM_CONF={self.conf}" in environ:
                try:
                    os.kill(int(pid_dir.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def __enter__(self) -> LocalSlurm:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
