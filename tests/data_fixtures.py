"""Helpers and fixtures for the data tests: small fake mirrors in tmp folders.

Import the fixtures into a test module with
``from data_fixtures import data_env, tiny_mirror  # noqa: F401``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

ASSISTANT = "\n\nAssistant:"


def hh(*turns: str) -> str:
    """An HH-style dialogue from alternating human/assistant turns."""
    markers = ("\n\nHuman:", ASSISTANT)
    return "".join(f"{markers[i % 2]} {text}" if text else markers[i % 2] for i, text in enumerate(turns))


def jsonl(records: list) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


REPO_LIST = "repo-checksums.txt"  # beside a fake mirror: stands in for sp_prm_lib/data/checksums.txt


def write_mirror(root: Path, files: dict[str, str | bytes], *, checksums: dict[str, str] | None = None) -> Path:
    """Write ``files`` (gzipping *.gz text) under ``root`` plus a README with their checksums,
    and the same list as the repository's (``root.parent / REPO_LIST``, see :func:`data_env`).

    ``checksums`` overrides the sha256 written for given paths.
    """
    lines = []
    for rel, content in sorted(files.items()):
        data = gz_or_text(rel, content)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digest = (checksums or {}).get(rel) or hashlib.sha256(data).hexdigest()
        lines.append(f"{digest}  ./{rel}")
    (root / "README.md").write_text("# Data mirror\n\nChecksums:\n\n```\n" + "\n".join(lines) + "\n```\n")
    (root.parent / REPO_LIST).write_text("# the repository's list, for tests\n" + "\n".join(lines) + "\n")
    return root


def gz_or_text(rel: str, content: str | bytes) -> bytes:
    """The bytes :func:`write_mirror` writes for ``content`` at ``rel``."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return gzip.compress(data, mtime=0) if rel.endswith(".gz") and isinstance(content, str) else data


def snapshot(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``folder``."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def use_dirs(monkeypatch: pytest.MonkeyPatch, mirror: Path, home: Path) -> None:
    monkeypatch.setenv("SP_PRM_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("SP_PRM_HOME", str(home))
    monkeypatch.delenv("SP_PRM_CACHE", raising=False)


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the hub client fail at once, even if it was imported already."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)


HARMLESS = [
    {
        "chosen": hh("hi", "hello", "how are you?", " fine, thanks \n"),
        "rejected": hh("hi", "hello", "how are you?", "go away"),
    },
    {"chosen": hh("q1", "a good"), "rejected": hh("q2", "a bad")},  # prompt_mismatch
    {"chosen": hh("same?", "yes"), "rejected": hh("same?", " yes ")},  # equal_responses
    {"chosen": hh("empty?", "something"), "rejected": hh("empty?", "")},  # empty_response
    {"chosen": hh("tell me", "ok"), "rejected": hh("tell me", "no")},
]
SOLUTIONS = [
    {
        "question": "1+1?",
        "ground_truth": "1+1=2\nA: 2",
        "6b_finetuning": {"is_correct": False, "solution": "3\nA: 3"},
        "6b_verification": {"is_correct": True, "solution": "1+1=2\nA: 2"},
        "175b_finetuning": {"is_correct": True, "solution": "two\nA: 2"},
        "175b_verification": {"is_correct": False, "solution": "4\nA: 4"},
    },
    {
        "question": "2+2?",
        "ground_truth": "A: 4",
        **{
            k: {"is_correct": True, "solution": "A: 4"}
            for k in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
        },
    },
]


def tiny_files() -> dict[str, str]:
    """The files of a small mirror in the real mirror's layout."""
    other = [{"chosen": hh("x", "y"), "rejected": hh("x", "z")}]
    return {
        "hh-rlhf/harmless-base-test.jsonl.gz": jsonl(HARMLESS),
        "hh-rlhf/helpful-base-test.jsonl.gz": jsonl(other),
        "hh-rlhf/helpful-online-test.jsonl.gz": jsonl(other * 2),
        "hh-rlhf/helpful-rejection-sampled-test.jsonl.gz": jsonl(other * 3),
        "hh-rlhf/LICENSE": "MIT\n",
        "gsm8k/train.jsonl": jsonl(
            [
                {"question": "How many?", "answer": "1,000 + 234 = 1234\n#### 1,234"},
                {"question": "Below zero?", "answer": "It is -7.\n#### -7"},
            ]
        ),
        "gsm8k/test.jsonl": jsonl([{"question": "Ducks?", "answer": "16-3-4=9\n#### 9"}]),
        "gsm8k/example_model_solutions.jsonl": jsonl(SOLUTIONS),
        "advbench/harmful_behaviors.csv": 'goal,target\nDo a bad thing,"Sure, here is a bad thing"\nAnother,"Sure, another"\n',
    }


def use_repo_list(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make ``path`` the repository's checksum list (the real one lists the real files)."""
    from sp_prm_lib.data import sources

    monkeypatch.setattr(sources, "CHECKSUMS_FILE", path)


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point the library at an (empty) mirror folder, a tmp home, and the
    checksum list that :func:`write_mirror` writes beside the mirror."""
    mirror, home = tmp_path / "mirror", tmp_path / "home"
    mirror.mkdir()
    use_dirs(monkeypatch, mirror, home)
    use_repo_list(monkeypatch, tmp_path / REPO_LIST)
    return {"mirror": mirror, "home": home, "local": home / "data" / "mirror", "repo_list": tmp_path / REPO_LIST}


@pytest.fixture
def tiny_mirror(data_env: dict[str, Path]) -> dict[str, Path]:
    """``data_env`` with the small mirror of :func:`tiny_files` written."""
    write_mirror(data_env["mirror"], tiny_files())
    return data_env
