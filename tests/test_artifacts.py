"""The content-addressed cache: keys, reuse, atomic completion, interrupted builds."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from sp_prm_lib.core import artifacts as artifacts_module
from sp_prm_lib.core.artifacts import MANIFEST, ArtifactStore, artifact_key, code_modules, content_hash
from sp_prm_lib.core.errors import ArtifactError


def _builder(calls: list, text="hello"):
    def build(out: Path):
        calls.append(out)
        (out / "a.txt").write_text(text)
        (out / "sub").mkdir()
        (out / "sub" / "b.bin").write_bytes(b"\0" * 10)
        return {"n": 1}

    return build


def test_build_once_then_reuse(tmp_path):
    store, calls = ArtifactStore(tmp_path), []
    first = store.ensure("step", _builder(calls), config={"x": 1}, code_version="v1")
    second = store.ensure("step", _builder(calls), config={"x": 1}, code_version="v1")
    assert len(calls) == 1
    assert first.path == second.path and (first.path / "a.txt").read_text() == "hello"
    manifest = json.loads((first.path / MANIFEST).read_text())
    assert manifest["facts"] == {"n": 1}
    assert {name: f["size"] for name, f in manifest["files"].items()} == {"a.txt": 5, "sub/b.bin": 10}
    assert manifest["config"] == {"x": 1} and manifest["key"] == first.key


def test_key_depends_on_config_inputs_and_code(tmp_path):
    base = artifact_key("s", {"a": 1, "b": 2}, None, "v1")
    assert base == artifact_key("s", {"b": 2, "a": 1}, None, "v1")  # order-free
    assert base != artifact_key("s", {"a": 1, "b": 3}, None, "v1")
    assert base != artifact_key("s", {"a": 1, "b": 2}, None, "v2")
    assert base != artifact_key("t", {"a": 1, "b": 2}, None, "v1")
    f = tmp_path / "in.txt"
    f.write_text("one")
    k1 = artifact_key("s", {}, {"file": f}, "v1")
    f.write_text("two")  # same path, new content: new key
    assert artifact_key("s", {}, {"file": f}, "v1") != k1


def test_folder_content_hash_sees_names_and_bytes(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("1")
    h1 = content_hash(tmp_path / "d")
    os.rename(tmp_path / "d" / "x", tmp_path / "d" / "y")
    assert content_hash(tmp_path / "d") != h1
    with pytest.raises(ArtifactError, match="does not exist"):
        content_hash(tmp_path / "absent")


def test_interrupted_build_leaves_no_entry_and_retry_succeeds(tmp_path):
    store = ArtifactStore(tmp_path)

    def crash(out: Path):
        (out / "half.txt").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.ensure("step", crash, config={"x": 1}, code_version="v1")
    key = artifact_key("step", {"x": 1}, None, "v1")
    assert store.lookup("step", key) is None
    assert not any(p.name.startswith(".") and "tmp" in p.name for p in (tmp_path / "step").iterdir())
    calls = []
    art = store.ensure("step", _builder(calls), config={"x": 1}, code_version="v1")
    assert art.key == key and len(calls) == 1


def test_half_written_folder_is_never_read_as_complete(tmp_path):
    store = ArtifactStore(tmp_path)
    key = artifact_key("step", {"x": 2}, None, "v1")
    # a folder at the final place without manifest (e.g. a copy cut off midway)
    (tmp_path / "step" / key).mkdir(parents=True)
    (tmp_path / "step" / key / "a.txt").write_text("truncat")
    assert store.lookup("step", key) is None
    calls = []
    art = store.ensure("step", _builder(calls), config={"x": 2}, code_version="v1")
    assert len(calls) == 1 and (art.path / "a.txt").read_text() == "hello"


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: "{not json",
        lambda m: "\xff\xfe",
        lambda m: "[1, 2]",
        lambda m: m.replace('"key": "', '"key": "0'),
        # one edited digit of a fact (the 0.53 -> 0.97 in the book)
        lambda m: m.replace('"accuracy": 0.53', '"accuracy": 0.97'),
        lambda m: m.replace('"checksum"', '"checksum_gone"'),
    ],
    ids=["not-json", "not-utf8", "not-a-mapping", "other-key", "edited-fact", "no-checksum"],
)
def test_a_damaged_manifest_is_rebuilt_like_a_damaged_file(tmp_path, capsys, damage):
    store, calls = ArtifactStore(tmp_path), []

    def build(out: Path):
        calls.append(out)
        (out / "a.txt").write_text("hello")
        return {"accuracy": 0.53}

    art = store.ensure("step", build, code_version="v1")
    text = (art.path / MANIFEST).read_text()
    assert '"accuracy": 0.53' in text
    (art.path / MANIFEST).write_text(damage(text), encoding="latin-1")
    again = store.ensure("step", build, code_version="v1")
    assert len(calls) == 2 and again.manifest["facts"] == {"accuracy": 0.53}
    assert '"accuracy": 0.53' in (again.path / MANIFEST).read_text()
    assert "rebuilding the entry" in capsys.readouterr().err


def test_an_entry_folder_replaced_by_a_file_is_refused_before_building(tmp_path):
    store, calls = ArtifactStore(tmp_path), []
    key = artifact_key("step", {"x": 1}, None, "v1")
    entry = tmp_path / "step" / key
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"someone's file")
    with pytest.raises(ArtifactError, match=rf"{key}: a file where a cache folder belongs"):
        store.ensure("step", _builder(calls), config={"x": 1}, code_version="v1")
    assert calls == [] and entry.read_bytes() == b"someone's file"
    # the step's folder itself a file
    (tmp_path / "other").write_bytes(b"junk")
    with pytest.raises(ArtifactError, match="other: a file where"):
        store.ensure("other", _builder(calls), config={"x": 1}, code_version="v1")
    assert calls == [] and (tmp_path / "other").read_bytes() == b"junk"


def test_no_work_or_temp_folder_outlives_a_complete_entry(tmp_path):
    store, calls = ArtifactStore(tmp_path), []
    key = artifact_key("train", {"x": 1}, None, "v1")
    stale_tmp = tmp_path / "train" / f".{key}.tmp-dead0000"
    stale_tmp.mkdir(parents=True)
    (stale_tmp / "half").write_text("x")

    def build(out: Path, work: Path):
        calls.append(1)
        (work / "ckpt").write_text("1")
        (out / "model.bin").write_text("m")

    art = store.ensure("train", build, config={"x": 1}, code_version="v1", resumable=True)
    assert not stale_tmp.exists()
    # a kill after the entry was renamed into place, before its work folder went
    work = tmp_path / "train" / f".{key}.work"
    work.mkdir()
    (work / "ckpt").write_bytes(b"\0" * 1000)
    again = store.ensure("train", build, config={"x": 1}, code_version="v1", resumable=True)
    assert again.path == art.path and calls == [1] and not work.exists()
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == [f".{key}.lock", key]


def test_clean_partial_removes_leftover_temp_folders(tmp_path):
    store = ArtifactStore(tmp_path)
    (tmp_path / "step" / ".abc.tmp-1234").mkdir(parents=True)
    (tmp_path / "step" / ".abc.work").mkdir()
    assert store.clean_partial() == 1
    assert not (tmp_path / "step" / ".abc.tmp-1234").exists() and (tmp_path / "step" / ".abc.work").exists()
    assert store.clean_partial(include_work=True) == 1
    assert not (tmp_path / "step" / ".abc.work").exists()


def test_unhashable_config_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="cannot hash"):
        ArtifactStore(tmp_path).ensure("s", _builder([]), config={"f": object()}, code_version="v")


def test_resumable_build_keeps_its_work_folder_until_complete(tmp_path):
    store = ArtifactStore(tmp_path)
    seen = []

    def build(out: Path, work: Path):
        seen.append(work)
        progress = work / "progress.txt"
        done = int(progress.read_text()) if progress.exists() else 0
        progress.write_text(str(done + 1))
        if done == 0:
            raise KeyboardInterrupt  # first attempt dies after saving progress
        (out / "result.txt").write_text(f"resumed after {done}")

    with pytest.raises(KeyboardInterrupt):
        store.ensure("train", build, config={"x": 1}, code_version="v1", resumable=True)
    art = store.ensure("train", build, config={"x": 1}, code_version="v1", resumable=True)
    assert (art.path / "result.txt").read_text() == "resumed after 1"
    assert seen[0] == seen[1] and not seen[0].exists()


def test_code_hash_ignores_comments_and_docstrings_but_not_code(tmp_path):
    import importlib.util
    import sys

    from sp_prm_lib.core.artifacts import code_hash

    def load(name, text):
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    base = load("m1", '"""Doc."""\n\ndef f(x):\n    """Adds one."""\n    return x + 1\n')
    prose = load(
        "m2", '"""Other doc."""\n# a comment\n\ndef f(x):\n    """Adds 1 to x."""\n\n    return x + 1  # note\n'
    )
    change = load("m3", '"""Doc."""\n\ndef f(x):\n    """Adds one."""\n    return x + 2\n')
    assert code_hash(base) == code_hash(prose)
    assert code_hash(base) != code_hash(change)


def _entry_with_file(store, payload: bytes, calls: list):
    def build(out):
        calls.append(1)
        (out / "model.safetensors").write_bytes(payload)
        return {}

    return store.ensure("weights", build, config={"a": 1}, code_version="v1")


@pytest.mark.parametrize("damage", ["flip", "cut", "remove"])
def test_a_damaged_entry_is_rebuilt_not_served(tmp_path, capsys, damage):
    store, calls = ArtifactStore(tmp_path), []
    art = _entry_with_file(store, bytes(range(256)) * 8, calls)
    target = art.path / "model.safetensors"
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[100] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "cut":
        target.write_bytes(bytes(data[: len(data) // 2]))
    else:
        target.unlink()
    artifacts_module._VERIFIED.clear()  # a new process
    again = _entry_with_file(ArtifactStore(tmp_path), bytes(range(256)) * 8, calls)
    assert len(calls) == 2 and (again.path / "model.safetensors").read_bytes() == bytes(range(256)) * 8
    assert "rebuilding the entry" in capsys.readouterr().err


def test_manifest_records_size_and_sha256_of_every_file(tmp_path):
    art = _entry_with_file(ArtifactStore(tmp_path), b"abc", [])
    entry = art.manifest["files"]["model.safetensors"]
    assert entry == {"size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}


def test_code_modules_follow_imports_transitively():
    from sp_prm_lib.experiments import reward_models

    names = code_modules(reward_models)
    # the data loaders and the reward-model inputs are reached only through other modules
    assert {"sp_prm_lib.data.hh_rlhf", "sp_prm_lib.scoring.inputs", "sp_prm_lib.training.truncation"} <= set(names)
    assert "sp_prm_lib.report.plots" not in names
