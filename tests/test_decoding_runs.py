"""Generation runs: JSONL records, resume, sharding and merging, NaN mid-run, command line."""

from __future__ import annotations

import json

import pytest
import torch

from sp_prm_lib.cli import main as cli_main
from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.decoding import Policy, RewardScorer, generate_run, merge_shards, read_records
from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel, RewardNaNError

PROMPTS = [f"\n\nHuman: question number {i}{'?' * i}\n\nAssistant:" for i in range(5)]
ARGS = {"k": 3, "max_new_tokens": 4}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup():
    tok = byte_tokenizer()
    policy_model, _ = tiny_model("llama-causal-lm", tok, seed=1)
    rm_model, _ = tiny_model("llama-reward", tok, seed=2)
    return Policy(policy_model, tok), RewardModel(rm_model, tok, convention="closed", name="tiny-rm")


def strip_times(records):
    """Records without timing and compute fields (both depend on how prompts were batched), rewards
    rounded (batch composition moves the last float bits)."""
    out = []
    for r in records:
        r = {k: v for k, v in r.items() if k not in ("time_s", "batch_time_s", "batch_size", "cost", "batch_cost")}
        out.append({**r, "reward": round(r["reward"], 5) if r["reward"] is not None else None})
    return out


def test_run_writes_one_line_per_prompt(setup, tmp_path):
    policy, rm = setup
    out = tmp_path / "run.jsonl"
    summary = generate_run(
        PROMPTS, "args", policy, rm, out, config=ARGS, batch_size=2, process_index=0, num_processes=1
    )
    records = read_records(out)
    assert summary.done == 5 and summary.skipped == 0
    assert [r["index"] for r in records] == list(range(5))
    first = records[0]
    for key in ("method", "scorer", "seed", "response", "reward", "tokens", "time_s", "finish", "config"):
        assert key in first
    assert first["method"] == "args" and first["scorer"] == "tiny-rm" and first["config"]["k"] == 3
    assert all(r["prompt"] == PROMPTS[r["index"]] for r in records)
    # compute next to the wall time: each prompt carries its share of its batch's forwards
    for r in records:
        batch = r["batch_cost"]
        assert batch["policy_calls"] > 0 and batch["rm_calls"] > 0
        assert batch["policy_forward_tokens"] > 0 and batch["rm_forward_tokens"] > 0
        assert r["cost"] == {k: round(v / r["batch_size"], 2) for k, v in batch.items()}


def test_resume_after_interruption_redoes_nothing(setup, tmp_path):
    policy, rm = setup
    full = tmp_path / "full.jsonl"
    generate_run(
        PROMPTS,
        "sample",
        policy,
        RewardScorer(rm, kv_cache=False),
        full,
        config={"max_new_tokens": 4},
        batch_size=2,
        process_index=0,
        num_processes=1,
    )

    class Interrupting(RewardScorer):
        def score_texts(self, prompts, responses):
            if any("number 3" in p for p in prompts):
                raise KeyboardInterrupt
            return super().score_texts(prompts, responses)

    out = tmp_path / "run.jsonl"
    with pytest.raises(KeyboardInterrupt):
        generate_run(
            PROMPTS,
            "sample",
            policy,
            Interrupting(rm, kv_cache=False),
            out,
            config={"max_new_tokens": 4},
            batch_size=1,
            process_index=0,
            num_processes=1,
        )
    assert [r["index"] for r in read_records(out)] == [0, 1, 2]
    with open(out, "a") as fh:  # a half-written line from a killed process
        fh.write('{"index": 3, "resp')
    scorer = RewardScorer(rm, kv_cache=False)
    summary = generate_run(
        PROMPTS,
        "sample",
        policy,
        scorer,
        out,
        config={"max_new_tokens": 4},
        batch_size=2,
        process_index=0,
        num_processes=1,
        scorer_name="tiny-rm",
    )
    assert (summary.done, summary.skipped) == (2, 3)
    assert scorer.stats.scored == 2  # only prompts 3 and 4 were decoded
    assert strip_times(read_records(out)) == strip_times(read_records(full))  # seed + index: same results


def test_resume_refuses_a_different_run(setup, tmp_path):
    policy, rm = setup
    out = tmp_path / "run.jsonl"
    generate_run(PROMPTS[:2], "args", policy, rm, out, config=ARGS, process_index=0, num_processes=1)
    with pytest.raises(ConfigError, match="holds a different run"):
        generate_run(PROMPTS[:2], "args", policy, rm, out, config={**ARGS, "k": 4}, process_index=0, num_processes=1)
    with pytest.raises(ConfigError, match="does not match the prompt set"):
        generate_run(
            ["\n\nHuman: other\n\nAssistant:"] * 2,
            "args",
            policy,
            rm,
            out,
            config=ARGS,
            process_index=0,
            num_processes=1,
        )
    with pytest.raises(ConfigError, match="empty prompt list"):
        generate_run([], "args", policy, rm, out, config=ARGS, process_index=0, num_processes=1)


def test_resume_refuses_another_policy_or_reward_model(setup, tmp_path):
    """Same names, other weights: the run file records what it was made with and a
    resume with another policy or RM is refused instead of mixing two runs."""
    policy, _ = setup
    tok = policy.tokenizer
    other_policy = Policy(tiny_model("llama-causal-lm", tok, seed=3)[0], tok)
    rm_a = RewardModel(tiny_model("llama-reward", tok, seed=2)[0], tok)  # unnamed: named by class
    rm_b = RewardModel(tiny_model("llama-reward", tok, seed=4)[0], tok)
    assert rm_a.name == rm_b.name and policy.model.name_or_path == other_policy.model.name_or_path
    out = tmp_path / "run.jsonl"
    run = dict(config=ARGS, process_index=0, num_processes=1)
    generate_run(PROMPTS[:2], "args", policy, rm_a, out, **run)
    first = read_records(out)[0]
    assert set(first["policy_id"]) == {"name", "fingerprint"} and first["scorer_id"]["name"] == rm_a.name
    with pytest.raises(ConfigError, match=r"was generated with policy .*fingerprint .*not .*resume with that policy"):
        generate_run(PROMPTS[:3], "args", other_policy, rm_a, out, **run)
    with pytest.raises(ConfigError, match=r"was generated with reward model / scorer 'LlamaForSequenceClassification'"):
        generate_run(PROMPTS[:3], "args", policy, rm_b, out, **run)
    with pytest.raises(ConfigError, match="was generated with reward model / scorer .* now none is given"):
        generate_run(PROMPTS[:3], "args", policy, None, out, **run)
    assert len(read_records(out)) == 2  # nothing was appended
    # the same models loaded again (equal weights, new objects) resume
    same_rm = RewardModel(tiny_model("llama-reward", tok, seed=2)[0], tok)
    summary = generate_run(PROMPTS[:3], "args", policy, same_rm, out, **run)
    assert (summary.done, summary.skipped) == (1, 2)


def test_cards_run_is_calibrated_once_whatever_the_batching(setup, tmp_path):
    """CARDS "auto" thresholds come from the run's first prompts, once: batch size and
    shards do not change them; records carry acceptance, segment length and thresholds."""
    policy, rm = setup
    cfg = {"max_new_tokens": 8, "min_segment": 2, "max_segment": 4, "calibration_prompts": 3}
    one = tmp_path / "one.jsonl"
    generate_run(PROMPTS, "cards", policy, rm, one, config=cfg, batch_size=1, process_index=0, num_processes=1)
    big = tmp_path / "big.jsonl"
    generate_run(PROMPTS, "cards", policy, rm, big, config=cfg, batch_size=5, process_index=0, num_processes=1)
    sharded = tmp_path / "sharded.jsonl"
    for rank in range(2):
        generate_run(
            PROMPTS, "cards", policy, rm, sharded, config=cfg, batch_size=2, process_index=rank, num_processes=2
        )
    merged = read_records(merge_shards(sharded, expected=len(PROMPTS)))
    records = read_records(one)
    assert strip_times(records) == strip_times(read_records(big)) == strip_times(merged)
    stats = [r["stats"] for r in records]
    assert len({(s["tau_u"], s["reward_threshold"]) for s in stats}) == 1
    assert all(isinstance(s["tau_u"], float) and isinstance(s["reward_threshold"], float) for s in stats)
    assert all(0 <= s["acceptance"] <= 1 and s["segment_tokens"] <= 4 for s in stats)
    assert records[0]["config"]["tau_u"] == "auto"  # the run's config as given; the values used are in stats


def test_shards_split_the_prompts_and_merge_in_order(setup, tmp_path):
    policy, rm = setup
    single = tmp_path / "single.jsonl"
    generate_run(PROMPTS, "args", policy, rm, single, config=ARGS, process_index=0, num_processes=1)
    out = tmp_path / "sharded.jsonl"
    for rank in range(2):
        s = generate_run(PROMPTS, "args", policy, rm, out, config=ARGS, process_index=rank, num_processes=2)
        assert s.path.name == f"sharded.shard-{rank:03d}-of-002.jsonl"
        assert [r["index"] for r in read_records(s.path)] == list(range(rank, 5, 2))
    with pytest.raises(DataError, match="not generated yet"):
        merge_shards(out, expected=6)
    merged = merge_shards(out, expected=5)
    assert strip_times(read_records(merged)) == strip_times(read_records(single))
    # a prompt in two shards, or a missing shard, is an error
    shard0 = tmp_path / "sharded.shard-000-of-002.jsonl"
    dup = read_records(shard0)[0]
    with open(tmp_path / "sharded.shard-001-of-002.jsonl", "a") as fh:
        fh.write(json.dumps(dup) + "\n")
    with pytest.raises(DataError, match="appears in two shards"):
        merge_shards(out)
    shard0.unlink()
    with pytest.raises(DataError, match=r"shard\(s\) \[0\] of 2 missing"):
        merge_shards(out)


def test_nan_mid_run_stops_naming_the_prompt_and_keeps_finished_lines(setup, tmp_path):
    policy, rm = setup

    class NaNOnPrompt3(RewardScorer):
        def score_texts(self, prompts, responses):
            out = super().score_texts(prompts, responses)
            out[[i for i, p in enumerate(prompts) if "number 3" in p]] = float("nan")
            return out

    out = tmp_path / "run.jsonl"
    with pytest.raises(RewardNaNError, match=r"prompt 3 .*decoding stopped; 2 finished prompts are kept in"):
        generate_run(
            PROMPTS,
            "bon",
            policy,
            NaNOnPrompt3(rm, kv_cache=False, name="nan-rm"),
            out,
            config={"n": 2, "max_new_tokens": 3},
            batch_size=2,
            process_index=0,
            num_processes=1,
        )
    assert [r["index"] for r in read_records(out)] == [0, 1]


def test_command_line_generate_resume_and_merge(setup, tmp_path, capsys):
    policy, rm = setup
    policy.model.save_pretrained(tmp_path / "policy")
    policy.tokenizer.save_pretrained(tmp_path / "policy")
    rm.model.save_pretrained(tmp_path / "rm")
    rm.tokenizer.save_pretrained(tmp_path / "rm")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS[:3]))
    out = tmp_path / "cli.jsonl"
    argv = [
        "generate",
        "--method",
        "args",
        "--prompts",
        str(prompts),
        "--policy",
        str(tmp_path / "policy"),
        "--policy-source",
        "local",
        "--rm",
        str(tmp_path / "rm"),
        "--out",
        str(out),
        "--set",
        "k=3",
        "--set",
        "max_new_tokens=3",
        "--limit",
        "2",
    ]
    assert cli_main(argv) == 0
    assert [r["index"] for r in read_records(out)] == [0, 1]
    assert cli_main(argv) == 0 and "0 decoded, 2 already there" in capsys.readouterr().out
    assert (
        cli_main(
            [
                "generate",
                "--method",
                "args",
                "--prompts",
                str(prompts),
                "--policy",
                str(tmp_path / "policy"),
                "--policy-source",
                "local",
                "--rm",
                str(tmp_path / "rm"),
                "--out",
                str(out),
                "--set",
                "k=0",
            ]
        )
        == 2
    )
    assert "k: must be >= 1" in capsys.readouterr().err
    assert cli_main(["merge", "--out", str(tmp_path / "none.jsonl")]) == 2
    assert "no shard files" in capsys.readouterr().err


def test_merge_command_joins_shards(setup, tmp_path, capsys):
    policy, rm = setup
    out = tmp_path / "m.jsonl"
    for rank in range(2):
        generate_run(
            PROMPTS[:3], "greedy", policy, None, out, config={"max_new_tokens": 2}, process_index=rank, num_processes=2
        )
    assert cli_main(["merge", "--out", str(out), "--expected", "3", "--delete-shards"]) == 0
    assert [r["index"] for r in read_records(out)] == [0, 1, 2]
    assert not list(tmp_path.glob("m.shard-*"))


@pytest.mark.slow
@pytest.mark.skipif(
    torch.cuda.is_available() and torch.cuda.device_count() < 2,
    reason="two processes need two GPUs (or none: a CPU gloo group)",
)
def test_accelerate_launch_splits_prompts_across_processes(setup, tmp_path):
    """Two real processes under ``accelerate launch`` write one shard each; merged = one process."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    launcher = Path(sys.executable).with_name("accelerate")
    if not launcher.exists() and shutil.which("accelerate") is None:
        pytest.skip("accelerate launcher not installed")
    policy, rm = setup
    policy.model.save_pretrained(tmp_path / "policy")
    policy.tokenizer.save_pretrained(tmp_path / "policy")
    rm.model.save_pretrained(tmp_path / "rm")
    rm.tokenizer.save_pretrained(tmp_path / "rm")
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(PROMPTS))
    out = tmp_path / "run.jsonl"
    cmd = [
        str(launcher if launcher.exists() else shutil.which("accelerate")),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "sp_prm_lib.cli",
        "generate",
        "--method",
        "args",
        "--prompts",
        str(prompts),
        "--policy",
        str(tmp_path / "policy"),
        "--policy-source",
        "local",
        "--rm",
        str(tmp_path / "rm"),
        "--out",
        str(out),
        "--set",
        "k=3",
        "--set",
        "max_new_tokens=4",
        "--batch-size",
        "2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shards = sorted(p.name for p in tmp_path.glob("run.shard-*"))
    assert shards == ["run.shard-000-of-002.jsonl", "run.shard-001-of-002.jsonl"]
    assert [r["index"] for r in read_records(tmp_path / shards[1])] == [1, 3]
    merged = read_records(merge_shards(out, expected=len(PROMPTS)))
    single = tmp_path / "single.jsonl"
    generate_run(
        PROMPTS,
        "args",
        policy,
        rm,
        single,
        config=ARGS,
        process_index=0,
        num_processes=1,
        scorer_name=str(tmp_path / "rm"),
    )
    assert [r["response"] for r in merged] == [r["response"] for r in read_records(single)]


# -- hostile run files (issue 24): nothing is cut or extended before the file is known to be this run's --


def _bytes_of(path):
    return path.read_bytes() if path.is_file() else None


@pytest.mark.parametrize(
    "content, error",
    [
        (b"just some notes\nwithout a final newline, 50 bytes.", r"run.jsonl:1: not a run file: not a JSON line"),
        (b"a single line without newline", r"last line .* is not a cut run record"),
        (b'{"a": 1}\n{"b": 2', r"run.jsonl:1: not a run file: a JSON line that is not a run record"),
        (b"[1, 2, 3]\n", r"run.jsonl:1: not a run file: a JSON line that is not a run record"),
        (b"\xff\xfe\x00binary\n\x00", r"not a run file \(not UTF-8 text at byte 0\)"),
        (b'{"index": 0, "run": "x"}\n{"a": "foreign tail"}', r"last line .* is not a cut run record"),
    ],
)
def test_a_file_that_is_not_a_run_file_is_refused_byte_identical(setup, tmp_path, content, error):
    policy, rm = setup
    out = tmp_path / "run.jsonl"
    out.write_bytes(content)
    with pytest.raises(DataError, match=error):
        generate_run(PROMPTS[:2], "args", policy, rm, out, config=ARGS, process_index=0, num_processes=1)
    assert out.read_bytes() == content


def test_a_refused_resume_keeps_another_runs_cut_last_line(setup, tmp_path):
    """The issue's case: another configuration against a run file whose last line is cut lost the line."""
    policy, rm = setup
    out = tmp_path / "run.jsonl"
    generate_run(PROMPTS[:3], "args", policy, rm, out, config=ARGS, process_index=0, num_processes=1)
    data = out.read_bytes()
    cut = data[: len(data) - 40]  # the last record loses its end and its newline
    out.write_bytes(cut)
    with pytest.raises(ConfigError, match="holds a different run"):
        generate_run(PROMPTS[:3], "args", policy, rm, out, config={**ARGS, "k": 4}, process_index=0, num_processes=1)
    assert out.read_bytes() == cut
    # another prompt set: refused, unchanged
    with pytest.raises(ConfigError, match="does not match the prompt set"):
        generate_run(["other"] * 3, "args", policy, rm, out, config=ARGS, process_index=0, num_processes=1)
    assert out.read_bytes() == cut
    # the same run: the cut record is cut off and redone, the finished ones kept
    summary = generate_run(PROMPTS[:3], "args", policy, rm, out, config=ARGS, process_index=0, num_processes=1)
    assert (summary.done, summary.skipped) == (1, 2)
    assert out.read_bytes().startswith(cut[: cut.rfind(b"\n") + 1])
    assert [r["index"] for r in read_records(out)] == [0, 1, 2]


def test_a_cut_last_line_of_another_run_with_only_its_newline_missing_is_refused(setup, tmp_path):
    policy, rm = setup
    out = tmp_path / "run.jsonl"
    generate_run(PROMPTS[:2], "args", policy, rm, out, config={**ARGS, "k": 4}, process_index=0, num_processes=1)
    data = out.read_bytes()[:-1]  # complete JSON, only the newline gone: still another run's record
    out.write_bytes(data)
    with pytest.raises(ConfigError, match="holds a different run"):
        generate_run(PROMPTS[:2], "args", policy, rm, out, config=ARGS, process_index=0, num_processes=1)
    assert out.read_bytes() == data


def test_an_output_path_that_is_a_folder_or_under_a_file_is_one_line(setup, tmp_path):
    policy, rm = setup
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"runs is a folder, not a run file"):
        generate_run(PROMPTS[:1], "args", policy, rm, folder, config=ARGS, process_index=0, num_processes=1)
    assert (folder / "keep.txt").read_text() == "mine" and sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises((ConfigError, DataError), match="afile"):
        generate_run(
            PROMPTS[:1], "args", policy, rm, blocker / "run.jsonl", config=ARGS, process_index=0, num_processes=1
        )
    assert blocker.read_text() == "x"


def test_merge_never_replaces_a_file_that_is_not_a_merge_of_its_shards(setup, tmp_path):
    policy, rm = setup
    out = tmp_path / "m.jsonl"
    for rank in range(2):
        generate_run(PROMPTS[:4], "args", policy, rm, out, config=ARGS, process_index=rank, num_processes=2)
    for junk in (b"my notes\n", b'{"index": 0, "run": "another"}\n', b"no newline"):
        out.write_bytes(junk)
        with pytest.raises(DataError, match="m.jsonl"):
            merge_shards(out, expected=4)
        assert out.read_bytes() == junk
    out.unlink()
    merge_shards(out, expected=4)
    first = out.read_bytes()
    merge_shards(out, expected=4)  # an earlier merge of the same run may be replaced
    assert out.read_bytes() == first and len(read_records(out)) == 4


def test_records_split_on_newlines_only(setup, tmp_path):
    """A response holding U+2028 or \\x85 (line breaks to str.splitlines) is still one record."""
    out = tmp_path / "run.jsonl"
    out.write_text(json.dumps({"index": 0, "run": "r", "response": "a\u2028b\x85c"}, ensure_ascii=False) + "\n")
    assert read_records(out)[0]["response"] == "a\u2028b\x85c"
