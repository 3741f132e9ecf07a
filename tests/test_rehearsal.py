"""The paper rehearsal's parts, small (``scripts/rehearsal/``; the whole of it is `make rehearse-paper`):
the hub cache serves the paper's ids offline, the judge server's faults are survived over HTTP,
and one job script runs on a real one-node Slurm cluster (root with Slurm or apt-get; else skipped)."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REHEARSAL = ROOT / "scripts" / "rehearsal"
sys.path.insert(0, str(REHEARSAL))

import slurm_cluster  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf")
    subprocess.run(
        [sys.executable, str(REHEARSAL / "hub_cache.py"), "--hf-home", str(home)], check=True, capture_output=True
    )
    return home


PROBE = r"""
import json
from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.data import load_pairs, load_prompts
from sp_prm_lib.models.loading import load_embedder, load_policy, load_sequence_classifier
P = load_profile("paper-rehearsal")
policy, ptok = load_policy(P.policy)
rm, rtok = load_sequence_classifier(P.reward.orm.model)
emb = load_embedder(P.embedder)
out = {
    "policy": type(policy).__name__, "rm": type(rm).__name__, "embedder": type(emb.model).__name__,
    "policy_tok": type(ptok.backend_tokenizer.model).__name__, "rm_tok": type(rtok.backend_tokenizer.model).__name__,
    "rm_template": rtok.chat_template is not None, "policy_template": ptok.chat_template is not None,
    "hh_train": len(load_pairs("hh-rlhf", split="train", source="hub", limit=5).frame),
    "hh_subset": len(load_pairs("hh-harmless-base", split="test", source="hub", limit=5).frame),
    "gsm8k": len(load_prompts("gsm8k", source="hub", limit=5).frame),
    "advbench": len(load_prompts("advbench", source="hub", limit=5).frame),
    "tldr": len(load_pairs("tldr", split="validation", source="hub", limit=5).frame),
}
print("PROBE" + json.dumps(out))
"""


def test_hub_cache_serves_the_paper_ids_offline(hf_home, tmp_path):
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "SP_PRM_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.split("PROBE", 1)[1])
    assert (out["policy"], out["rm"], out["embedder"]) == (
        "LlamaForCausalLM",
        "GemmaForSequenceClassification",
        "BertModel",
    )
    assert (out["policy_tok"], out["rm_tok"]) == ("BPE", "WordPiece")  # tokenizers of different families
    assert out["rm_template"] and out["policy_template"]
    assert all(out[k] == 5 for k in ("hh_train", "hh_subset", "gsm8k", "advbench", "tldr"))
    empty = {**env, "HF_HOME": str(tmp_path / "empty")}  # the same probe without the cache fails: no hub here
    assert subprocess.run([sys.executable, "-c", PROBE], env=empty, capture_output=True, cwd=ROOT).returncode != 0


@pytest.fixture
def judge_server(tmp_path):
    key = "sk-test-" + os.urandom(8).hex()
    port_file, log = tmp_path / "port", tmp_path / "judge.log"
    cmd = [sys.executable, str(REHEARSAL / "judge_server.py"), "--port-file", str(port_file), "--log", str(log),
           "--key-sha256", hashlib.sha256(key.encode()).hexdigest(), "--stall", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(100):
        if port_file.exists():
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port_file.read_text()}/v1", key, log
    proc.terminate()
    out = proc.communicate(timeout=10)[0].decode()
    assert key not in out


def test_judge_server_faults_are_retried_and_no_answer_is_not_a_win(judge_server, tmp_path):
    from sp_prm_lib.judge.api import OpenAIChatJudge
    from sp_prm_lib.judge.templates import hh_messages

    url, key, log = judge_server
    judge = OpenAIChatJudge(url, "gpt-4o", key, timeout=1.0, backoff=0.05, max_backoff=1.5, concurrency=1,
                            cache_dir=tmp_path / "cache")  # fmt: skip
    convs = [hh_messages(f"Human: question {i}?", "a" * (i + 2), "b") for i in range(6)]
    verdicts = judge.answer(convs, allowed=(1, 2, -1))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["fault"] for r in records if r.get("fault")) == ["429", "500", "malformed", "no-answer", "stall"]
    assert verdicts[4].value is None  # the reply naming no answer: unparseable, not a win
    assert [v.value for i, v in enumerate(verdicts) if i != 4] == [1] * 5  # the server's rule: the longer answer
    assert judge.requests_sent == 6 + 4  # one retry for each transient fault
    again = OpenAIChatJudge(url, "gpt-4o", key, timeout=1.0, cache_dir=tmp_path / "cache")
    assert again.complete(convs) and again.requests_sent == 0  # all from the cache, the no-answer reply too
    assert key not in log.read_text()


def test_one_job_script_on_a_real_slurm_cluster(hf_home, tmp_path):
    reason = slurm_cluster.unavailable_reason()
    if reason:
        pytest.skip(reason)
    slurm_cluster.ensure_packages(log=lambda line: None)
    env = {
        **os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "SP_PRM_CACHE": str(tmp_path / "cache"),
        "PROFILE": "paper-rehearsal", "SP_PRM_ROOT": str(ROOT), "SP_PRM_PYTHON": sys.executable,
    }  # fmt: skip
    with slurm_cluster.LocalSlurm(tmp_path / "slurm", log=lambda line: None) as cluster:
        listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines()
        daemons = [line.split()[3] for line in listening if "slurm" in line]
        assert daemons and all(d.startswith("127.0.0.1:") for d in daemons), daemons
        out = tmp_path / "setup.out"
        job = subprocess.run(
            ["sbatch", "--parsable", "--export=ALL", "--gres=none", "--cpus-per-task=1", f"--output={out}",
             f"--chdir={ROOT}", str(ROOT / "cluster/slurm/setup.sbatch")],
            env={**env, "SLURM_CONF": str(cluster.conf)}, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        deadline = time.time() + 300
        state = ""
        while time.time() < deadline:
            state = cluster.run("scontrol", "show", "job", job).split("JobState=")[1].split()[0]
            if state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                break
            time.sleep(1)
        text = out.read_text() if out.exists() else ""
        assert state == "COMPLETED", text[-2000:]
        assert "models: policy meta-llama/Meta-Llama-3-8B-Instruct (hub)" in text
        assert "weqweasdas/RM-Gemma-7B" in text
    assert not any(p.poll() is None for p in cluster.procs.values())  # every daemon stopped
