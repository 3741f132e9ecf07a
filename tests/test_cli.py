"""The command line used by the Makefile: success output and one-line errors with exit 2."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sp_prm_lib.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "sp_prm_lib.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_profile_prints_the_validated_profile():
    proc = run("profile", "--profile", "smoke")
    assert proc.returncode == 0 and '"name": "smoke"' in proc.stdout


def test_unknown_profile_is_one_line_exit_2():
    proc = run("profile", "--profile", "enormous")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown profile 'enormous'" in proc.stderr


def test_data_with_an_absent_mirror_is_one_line_exit_2(tmp_path):
    proc = run("data", env={"SP_PRM_DATA_MIRROR": str(tmp_path / "nowhere"), "SP_PRM_HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nowhere" in proc.stderr
    assert not (tmp_path / "data" / "mirror").exists() or not any((tmp_path / "data" / "mirror").rglob("*.gz"))


# -- `sp-prm generate` with hostile inputs (issue 24): one line, exit 2, nothing lost --


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A tiny random policy and reward model saved as local folders (seconds on a CPU)."""
    from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model

    where = tmp_path_factory.mktemp("models")
    tok = byte_tokenizer()
    for name, kind, seed in (("policy", "llama-causal-lm", 1), ("rm", "llama-reward", 2)):
        model, _ = tiny_model(kind, tok, seed=seed)
        model.save_pretrained(where / name)
        tok.save_pretrained(where / name)
    return where


def generate(models, prompts, out, *extra):
    argv = ["generate", "--method", "args", "--prompts", str(prompts), "--out", str(out)]
    argv += ["--policy", str(models / "policy"), "--policy-source", "local", "--rm", str(models / "rm")]
    return cli_main([*argv, "--set", "k=2", "--set", "max_new_tokens=2", *extra])


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _prompts_file(tmp_path, n=3):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Human: question {i}?\n\nAssistant:"}) + "\n" for i in range(n)))
    return path


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"What is the capital of France?\nAnd of Spain?\n", r"prompts.txt:1: not JSON .*JSON list or JSONL"),
        (b"\xff\xfe\xfd not utf-8", r"prompts.txt: not UTF-8 text \(byte 0\)"),
        (None, r"prompts.txt: no such file"),
        ("folder", r"prompts.txt: a folder, not a prompts file"),
        (b"", r"prompts.txt: no prompts in it"),
        (b'[{"text": "no prompt field"}]', r"prompts.txt: item 0 has no prompt text"),
    ],
    ids=["plain-text", "not-utf8", "missing", "folder", "empty", "no-prompt-field"],
)
def test_generate_bad_prompts_file_is_one_line_exit_2(tiny_models, tmp_path, capsys, content, expected):
    prompts = tmp_path / "prompts.txt"
    if content == "folder":
        prompts.mkdir()
    elif content is not None:
        prompts.write_bytes(content)
    out = tmp_path / "run.jsonl"
    assert generate(tiny_models, prompts, out) == 2
    assert re.search(expected, one_line_error(capsys))
    assert not out.exists()


@pytest.mark.parametrize("limit", ["-1", "0", "two", "1.5"])
def test_generate_limit_below_one_or_junk_is_refused(tiny_models, tmp_path, capsys, limit):
    """``--limit -1`` decoded 2 of 3 prompts with exit 0 (``prompts[:-1]``)."""
    out = tmp_path / "run.jsonl"
    assert generate(tiny_models, _prompts_file(tmp_path), out, "--limit", limit) == 2
    assert "--limit must be" in one_line_error(capsys) and not out.exists()


def test_generate_out_an_existing_folder_is_one_line_exit_2(tiny_models, tmp_path, capsys):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "keep.jsonl").write_text("mine\n")
    assert generate(tiny_models, _prompts_file(tmp_path), out) == 2
    assert f"{out} is a folder, not a run file" in one_line_error(capsys)
    assert [p.name for p in out.iterdir()] == ["keep.jsonl"] and (out / "keep.jsonl").read_text() == "mine\n"


def _run_file_of_another_config(tiny_models, tmp_path):
    other = tmp_path / "other.jsonl"
    prompts = _prompts_file(tmp_path)
    assert generate(tiny_models, prompts, other, "--set", "k=3") == 0
    return other.read_bytes()


def test_hostile_files_at_every_output_path_are_left_byte_identical(tiny_models, tmp_path, capsys):
    """Junk, foreign files, cut files and other runs' files at each output path the command line takes
    (``generate --out`` and its shard files, ``merge --out``, ``train --output`` and its files, cache
    entries): every one is refused with one line, and its bytes are the same afterwards."""
    from sp_prm_lib.core.artifacts import ArtifactStore, artifact_key
    from sp_prm_lib.core.errors import SpPrmError

    prompts = _prompts_file(tmp_path)
    other_run = _run_file_of_another_config(tiny_models, tmp_path)
    capsys.readouterr()
    hostile = {
        "junk": b"some notes of mine\nwithout a final newline",
        "one-line": b"a single line, no newline",
        "binary": bytes(range(256)),
        "foreign-json": b'{"name": "config", "values": [1, 2]}\n',
        "foreign-jsonl-cut": b'{"a": 1}\n{"a": 2}\n{"a": ',
        "other-run": other_run,
        "other-run-cut": other_run[:-30],
        "other-run-no-newline": other_run[:-1],
    }
    checked = 0
    for name, content in hostile.items():
        # generate --out (one process: the file itself)
        out = tmp_path / f"gen-{name}.jsonl"
        out.write_bytes(content)
        assert generate(tiny_models, prompts, out) == 2, name
        one_line_error(capsys)
        assert out.read_bytes() == content, name
        # merge --out over a file that is not a merge of its shards
        merged = tmp_path / f"merge-{name}.jsonl"
        merged.write_bytes(content)
        shard = merged.with_name(f"merge-{name}.shard-000-of-001.jsonl")
        shard.write_bytes(other_run)
        code = cli_main(["merge", "--out", str(merged)])
        if name != "other-run":  # the same run's merge may be rewritten with the same records
            assert code == 2, name
            one_line_error(capsys)
            assert merged.read_bytes() == content, name
        # train --output: the folder's own files, and the folder being a file
        folder = tmp_path / f"train-{name}"
        (folder / "checkpoints" / "checkpoint-1").mkdir(parents=True)
        (folder / "run.json").write_bytes(content)
        (folder / "checkpoints" / "checkpoint-1" / "state.bin").write_bytes(content)
        assert cli_main(["train", "--profile", "smoke", "--output", str(folder)]) == 2, name
        one_line_error(capsys)
        assert (folder / "run.json").read_bytes() == content
        assert (folder / "checkpoints" / "checkpoint-1" / "state.bin").read_bytes() == content
        as_file = tmp_path / f"train-file-{name}"
        as_file.write_bytes(content)
        assert cli_main(["train", "--profile", "smoke", "--output", str(as_file)]) == 2, name
        one_line_error(capsys)
        assert as_file.read_bytes() == content
        # a cache entry's folder (and the step's folder) replaced by a file
        store = ArtifactStore(tmp_path / f"cache-{name}")
        key = artifact_key("step", {"x": 1}, None, "v1")
        (store.root / "step").mkdir(parents=True)
        (store.root / "step" / key).write_bytes(content)
        (store.root / "blocked").write_bytes(content)
        for step in ("step", "blocked"):
            with pytest.raises(SpPrmError, match="a file where a cache folder belongs"):
                store.ensure(step, lambda out: pytest.fail("built over a file"), config={"x": 1}, code_version="v1")
        assert (store.root / "step" / key).read_bytes() == content and (store.root / "blocked").read_bytes() == content
        checked += 1
    assert checked == len(hostile)
    # shard files: process 0 of 2 finds junk at its shard path
    shard = tmp_path / "sharded.shard-000-of-002.jsonl"
    shard.write_bytes(hostile["junk"])
    from sp_prm_lib.decoding.runs import read_run_file

    with pytest.raises(SpPrmError, match="not a run file"):
        read_run_file(shard)
    assert shard.read_bytes() == hostile["junk"]
