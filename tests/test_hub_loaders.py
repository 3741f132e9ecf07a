"""Hub loaders, tested on small local files written in each hub set's schema
(read through the same ``datasets.load_dataset`` path) and on a stubbed hub."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sp_prm_lib.core.errors import DataError
from sp_prm_lib.data import REGISTRY, load_pairs, load_prompts

from data_fixtures import data_env, go_offline, hh, jsonl  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def write(folder: Path, name: str, records: list[dict]) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jsonl(records))
    return path


def tldr_row(post: str | None, texts: tuple[str, str], choice: int, article: str | None = None) -> dict:
    return {
        "info": {
            "id": "t3_x",
            "post": post,
            "title": "My title",
            "subreddit": "relationships",
            "site": None,
            "article": article,
        },
        "summaries": [{"text": t, "policy": "sup2", "note": None} for t in texts],
        "choice": choice,
        "worker": "w1",
        "batch": "batch3",
        "split": "train",
        "extra": {"confidence": 7},
    }


def msgs(*turns: str) -> list[dict[str, str]]:
    return [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(turns)]


# --- local files in the hub schema ----------------------------------------------------


def test_tldr_comparisons(data_env):
    path = write(
        data_env["home"],
        "tldr.jsonl",
        [
            tldr_row("I met someone.", (" short one ", "long one"), 1),
            tldr_row("Second post.", ("picked", "not picked"), 0),
            tldr_row(None, ("a", "b"), 0, article="A CNN/DM article."),
        ],
    )
    pairs = load_pairs("tldr", data_files=path)
    assert pairs.origin == "files" and pairs.files == (str(path),)
    assert pairs.dropped == {"not_reddit_post": 1}
    assert pairs.frame[["chosen", "rejected"]].values.tolist() == [["long one", "short one"], ["picked", "not picked"]]
    assert pairs.frame.row.tolist() == [1, 2]
    assert (
        pairs.frame.prompt[0]
        == "\n\nHuman: SUBREDDIT: r/relationships\nTITLE: My title\nPOST: I met someone.\nTL;DR:\n\nAssistant:"
    )


@pytest.mark.parametrize("name", ["harmless-redteam", "pairwise-math"])
def test_rlhflow_message_pairs(data_env, name):
    path = write(
        data_env["home"],
        f"{name}.jsonl",
        [
            {"chosen": msgs("hi", "hello", "help me", " sure "), "rejected": msgs("hi", "hello", "help me", "no")},
            {"chosen": msgs("q1", "a"), "rejected": msgs("q2", "b")},
            {"chosen": msgs("q", "same"), "rejected": msgs("q", "same")},
        ],
    )
    pairs = load_pairs(name, data_files=[path])
    assert len(pairs) == 1 and pairs.dropped == {"equal_responses": 1, "prompt_mismatch": 1}
    row = pairs.frame.iloc[0]
    assert row.prompt == hh("hi", "hello", "help me") + "\n\nAssistant:"
    assert (row.chosen, row.rejected, row.row) == ("sure", "no", 1)


def test_hh_rlhf_train_split_from_hub_schema(data_env):
    path = write(
        data_env["home"],
        "hh-train.jsonl",
        [
            {"chosen": hh("a", "b"), "rejected": hh("a", "c")},
            {"chosen": hh("x", ""), "rejected": hh("x", "z")},
        ],
    )
    pairs = load_pairs("hh-rlhf", split="train", data_files=path)
    assert pairs.split == "train" and len(pairs) == 1 and pairs.dropped == {"empty_response": 1}
    with pytest.raises(DataError, match=r"hh-train.jsonl row 2: field 'chosen': empty response"):
        load_pairs("hh-harmless-base", split="train", data_files=path, strict=True)


def test_data_files_rewritten_with_the_same_mtime_give_the_new_rows(data_env):
    # issue #12: the datasets cache keys local files on path and mtime, so it handed back the old rows
    path = write(data_env["home"], "pairs.jsonl", [{"chosen": hh("a", "old"), "rejected": hh("a", "c")}])
    stamp = path.stat()
    assert load_pairs("hh-rlhf", split="train", data_files=path).frame.chosen.tolist() == ["old"]
    write(data_env["home"], "pairs.jsonl", [{"chosen": hh("a", "new"), "rejected": hh("a", "c")}])  # same size
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert path.stat().st_mtime_ns == stamp.st_mtime_ns and path.stat().st_size == stamp.st_size
    assert load_pairs("hh-rlhf", split="train", data_files=path).frame.chosen.tolist() == ["new"]
    write(data_env["home"], "pairs.jsonl", [{"chosen": hh("a", "old"), "rejected": hh("a", "c")}])
    assert load_pairs("hh-rlhf", split="train", data_files=path).frame.chosen.tolist() == ["old"]


def test_gsm8k_and_advbench_hub_schemas(data_env):
    gsm = write(data_env["home"], "gsm8k.jsonl", [{"question": "How much?", "answer": "2*9=18\n#### 18"}])
    assert load_prompts("gsm8k", data_files=gsm).frame.final_answer.tolist() == ["18"]
    adv = write(data_env["home"], "advbench.jsonl", [{"prompt": "Do harm", "target": "Sure, here is harm"}])
    frame = load_prompts("advbench", data_files=adv).frame
    assert frame[["prompt", "target"]].values.tolist() == [["Do harm", "Sure, here is harm"]]


@pytest.mark.parametrize(
    "name, record, field",
    [
        ("tldr", tldr_row("post", ("a", "b"), 2), "choice"),
        (
            "tldr",
            {**tldr_row("post", ("a", "b"), 0), "summaries": [{"text": "only one", "policy": "p", "note": None}]},
            "summaries",
        ),
        ("harmless-redteam", {"chosen": msgs("q"), "rejected": msgs("q", "a")}, "chosen[0].role"),
        (
            "harmless-redteam",
            {"chosen": [{"role": "robot", "content": "x"}], "rejected": msgs("q", "a")},
            "chosen[0].role",
        ),
        ("pairwise-math", {"chosen": msgs("q", "a"), "rejected": "not a list"}, "rejected"),
    ],
)
def test_bad_hub_rows_name_file_row_and_field(data_env, name, record, field):
    path = write(data_env["home"], "bad.jsonl", [record])
    with pytest.raises(DataError) as excinfo:
        load_pairs(name, data_files=path)
    message = str(excinfo.value)
    assert "\n" not in message and f"{path} row 1: field '{field}'" in message


# --- the hub call itself (stubbed) ----------------------------------------------------------

SAMPLES = {
    "Anthropic/hh-rlhf": {"chosen": hh("a", "b"), "rejected": hh("a", "c")},
    "openai/summarize_from_feedback": tldr_row("post", ("a", "b"), 0),
    "RLHFlow/Deepseek-ORM-Data-Pairwise": {"chosen": msgs("q", "a"), "rejected": msgs("q", "b")},
    "RLHFlow/HH-RLHF-Harmless-and-RedTeam-standard": {"chosen": msgs("q", "a"), "rejected": msgs("q", "b")},
    "openai/gsm8k": {"question": "q", "answer": "#### 3"},
    "walledai/AdvBench": {"prompt": "p", "target": "t"},
}
HUB_CASES = [(name, split) for name, spec in REGISTRY.items() if spec.hub for split in spec.hub.splits]


@pytest.fixture
def fake_hub(monkeypatch):
    import datasets

    calls = []

    def load_dataset(path, name=None, *, split=None, **kwargs):
        calls.append((path, name, split, kwargs))
        return [SAMPLES[path]] * 2

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


@pytest.mark.parametrize("name, split", HUB_CASES)
def test_every_hub_set_calls_load_dataset_and_maps(data_env, fake_hub, name, split):
    spec = REGISTRY[name]
    loader = load_pairs if spec.kind == "pairs" else load_prompts
    result = loader(name, split=split, source="hub")
    assert result.origin == "hub" and len(result) == 2
    kwargs = {k: v for k, v in (("data_dir", spec.hub.data_dir), ("revision", spec.hub.revision)) if v}
    assert fake_hub == [(spec.hub.hub_id, spec.hub.config, spec.hub.splits[split], kwargs)]
    assert result.frame.source[0].startswith(spec.hub.hub_id) and result.frame.row.tolist() == [1, 2]


def test_auto_falls_back_to_hub_when_mirror_is_absent(data_env, fake_hub, monkeypatch):
    monkeypatch.setenv("SP_PRM_DATA_MIRROR", str(data_env["mirror"] / "absent"))
    pairs = load_pairs("hh-harmless-base")
    assert pairs.origin == "hub" and pairs.frame.source[0] == "Anthropic/hh-rlhf[harmless-base]:test"
    assert fake_hub[0][3] == {"data_dir": "harmless-base"}
    assert load_pairs("tldr").origin == "hub"  # hub-only set, even with a mirror


# --- offline ------------------------------------------------------------------------------


def test_hub_only_set_offline_names_the_hub_id(data_env, monkeypatch):
    go_offline(monkeypatch)
    with pytest.raises(DataError) as excinfo:
        load_pairs("tldr", split="validation")
    message = str(excinfo.value)
    assert "\n" not in message and "openai/summarize_from_feedback" in message and "validation" in message


def test_offline_without_mirror_fails_fast_in_a_fresh_process(tmp_path):
    code = (
        "from sp_prm_lib.data import load_prompts\n"
        "from sp_prm_lib.core.errors import DataError\n"
        "try:\n    load_prompts('gsm8k')\nexcept DataError as err:\n    print('ERR', err)\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "SP_PRM_DATA_MIRROR": str(tmp_path / "no-mirror"),
        "SP_PRM_HOME": str(tmp_path / "home"),
    }
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 30
    lines = [line for line in done.stdout.splitlines() if line.startswith("ERR")]
    assert len(lines) == 1, done.stdout + done.stderr
    assert str(tmp_path / "no-mirror") in lines[0] and "openai/gsm8k" in lines[0]
    assert not (tmp_path / "home").exists()
