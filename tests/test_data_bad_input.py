"""Bad inputs to the data loaders: each gives a one-line error naming the
file, row and field where they apply, and leaves what was written intact."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.data import (
    ensure_local_copy,
    load_pairs,
    load_prompts,
    read_checksums,
    split_train_eval,
)

from data_fixtures import (  # noqa: F401
    SOLUTIONS,
    data_env,
    go_offline,
    hh,
    jsonl,
    snapshot,
    tiny_files,
    tiny_mirror,
    write_mirror,
)

HARMLESS = "hh-rlhf/harmless-base-test.jsonl.gz"


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture
def prepared(tiny_mirror):
    """The tiny mirror with good local copies made, and their snapshot."""
    ensure_local_copy()
    tiny_mirror["before"] = snapshot(tiny_mirror["local"])
    return tiny_mirror


def rewrite(env, rel: str, content: str | bytes, **kwargs) -> None:
    files = tiny_files()
    files[rel] = content
    write_mirror(env["mirror"], files, **kwargs)


def hh_error(env, records_or_text, **kwargs) -> str:
    text = records_or_text if isinstance(records_or_text, str) else jsonl(records_or_text)
    rewrite(env, HARMLESS, text)
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-harmless-base", **kwargs)
    return one_line(excinfo)


def unchanged_except(env, rel: str) -> None:
    """Every local copy but ``rel`` (re-copied on purpose) is as before."""
    after = snapshot(env["local"])
    assert {k: v for k, v in after.items() if k != rel} == {k: v for k, v in env["before"].items() if k != rel}
    assert not list(env["local"].rglob("*.part"))


# --- files and checksums -------------------------------------------------------


def test_missing_mirror_file(prepared):
    (prepared["mirror"] / "gsm8k/train.jsonl").unlink()
    (prepared["local"] / "gsm8k/train.jsonl").unlink()
    with pytest.raises(DataError) as excinfo:
        load_prompts("gsm8k", split="train")
    message = one_line(excinfo)
    assert "gsm8k/train.jsonl" in message and "not found" in message
    assert not (prepared["local"] / "gsm8k/train.jsonl").exists()


def test_bad_checksum_in_mirror_leaves_good_copy(prepared):
    target = prepared["local"] / "gsm8k/test.jsonl"
    target.write_text("stale")  # forces a re-copy from the (now corrupt) mirror
    good = prepared["before"]["gsm8k/test.jsonl"]
    rewrite(
        prepared,
        "gsm8k/test.jsonl",
        jsonl([{"question": "tampered", "answer": "#### 1"}]),
        checksums={"gsm8k/test.jsonl": good},
    )
    with pytest.raises(DataError) as excinfo:
        load_prompts("gsm8k", split="test")
    message = one_line(excinfo)
    assert "gsm8k/test.jsonl" in message and good in message and "checksum mismatch" in message
    assert target.read_text() == "stale"  # not replaced by the corrupt file
    unchanged_except(prepared, "gsm8k/test.jsonl")


def test_bad_checksum_never_leaves_a_partial_copy(tiny_mirror):
    rewrite(
        tiny_mirror,
        "advbench/harmful_behaviors.csv",
        "goal,target\na,b\n",
        checksums={"advbench/harmful_behaviors.csv": "0" * 64},
    )
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy()
    assert "advbench/harmful_behaviors.csv" in one_line(excinfo) and "0" * 64 in str(excinfo.value)
    assert not (tiny_mirror["local"] / "advbench/harmful_behaviors.csv").exists()
    assert not list(tiny_mirror["local"].rglob("*.part"))


def test_repo_list_is_authoritative_and_the_readme_optional(tiny_mirror):
    readme = tiny_mirror["mirror"] / "README.md"
    readme.write_text("# Data mirror\n\nno checksums here\n")
    assert len(load_pairs("hh-rlhf")) == 8  # the repository's list is enough
    readme.unlink()
    assert len(load_prompts("gsm8k")) == 1
    repo_list = tiny_mirror["repo_list"]
    repo_list.write_text("# no checksums here\n")
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf")
    assert str(repo_list) in one_line(excinfo) and "no checksum" in str(excinfo.value)
    repo_list.unlink()
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy()
    assert str(repo_list) in one_line(excinfo) and "not found" in str(excinfo.value)


def test_readme_that_disagrees_with_the_repo_list(tiny_mirror):
    readme = tiny_mirror["mirror"] / "README.md"
    ours = read_checksums()["gsm8k/test.jsonl"]
    readme.write_text(readme.read_text().replace(ours, "f" * 64))
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy()
    message = one_line(excinfo)
    assert "README.md" in message and "gsm8k/test.jsonl" in message and "f" * 64 in message and ours in message
    assert not tiny_mirror["local"].exists()


def test_file_only_the_readme_lists_is_verified_against_it(tiny_mirror):
    extra = tiny_mirror["mirror"] / "extra" / "notes.txt"
    extra.parent.mkdir()
    extra.write_text("more data\n")
    readme = tiny_mirror["mirror"] / "README.md"
    digest = hashlib.sha256(b"more data\n").hexdigest()
    readme.write_text(readme.read_text() + f"\n{digest}  ./extra/notes.txt\n")  # listed only here
    paths = ensure_local_copy()
    assert tiny_mirror["local"] / "extra/notes.txt" in paths
    assert (tiny_mirror["local"] / "extra/notes.txt").read_text() == "more data\n"


def test_unsafe_path_in_checksum_block(tiny_mirror):
    readme = tiny_mirror["mirror"] / "README.md"
    readme.write_text(readme.read_text().replace("./gsm8k/test.jsonl", "../../etc/passwd"))
    with pytest.raises(DataError) as excinfo:
        ensure_local_copy()
    assert "README.md line" in one_line(excinfo) and "unsafe path" in str(excinfo.value)


def test_not_gzip_data(prepared):
    rewrite(prepared, HARMLESS, b"plain text, not gzip\n")
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-harmless-base")
    assert HARMLESS in one_line(excinfo) and "row 1" in str(excinfo.value)
    unchanged_except(prepared, HARMLESS)


def test_zero_byte_gz_file(prepared):
    # issue #12: a 0-byte .jsonl.gz loaded as 0 rows without an error
    rewrite(prepared, HARMLESS, b"")
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-harmless-base")
    message = one_line(excinfo)
    assert HARMLESS in message and "empty file (0 bytes)" in message
    unchanged_except(prepared, HARMLESS)


def test_files_without_a_single_row(prepared):
    rewrite(prepared, HARMLESS, "\n\n")  # gzip of two blank lines
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-harmless-base")
    assert HARMLESS in one_line(excinfo) and "no rows" in str(excinfo.value)
    rewrite(prepared, "advbench/harmful_behaviors.csv", "goal,target\n")
    with pytest.raises(DataError) as excinfo:
        load_prompts("advbench")
    assert "harmful_behaviors.csv" in one_line(excinfo) and "no rows" in str(excinfo.value)


def test_bom_at_the_start_of_csv_and_jsonl_files(prepared):
    # issue #12: "missing column 'goal' (found \ufeffgoal, target)"
    rewrite(prepared, "advbench/harmful_behaviors.csv", '\ufeffgoal,target\nDo a bad thing,"Sure, here"\n')
    assert load_prompts("advbench").frame[["prompt", "target"]].values.tolist() == [["Do a bad thing", "Sure, here"]]
    rewrite(prepared, "gsm8k/test.jsonl", "\ufeff" + jsonl([{"question": "Ducks?", "answer": "#### 9"}]))
    assert load_prompts("gsm8k").frame.final_answer.tolist() == ["9"]


# --- rows and fields -------------------------------------------------------------


def test_malformed_json_line(prepared):
    good = jsonl([{"chosen": hh("a", "b"), "rejected": hh("a", "c")}])
    message = hh_error(prepared, good + '{"chosen": "oops\n')
    assert HARMLESS in message and "row 2" in message and "not valid JSON" in message
    unchanged_except(prepared, HARMLESS)


def test_lone_surrogate_names_file_row_and_field(prepared):
    # issue #12: "\ud800" parsed into text that later crashed pyarrow; a valid pair is fine
    good = jsonl([{"chosen": hh("a", "b \U0001f600"), "rejected": hh("a", "c")}])
    bad = '{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b", "rejected": "\\n\\nHuman: a\\n\\nAssistant: \\ud800!"}\n'
    message = hh_error(prepared, good + bad)
    assert HARMLESS in message and "row 2" in message and "field 'rejected'" in message
    assert "lone surrogate U+D800" in message
    rewrite(prepared, HARMLESS, good)
    assert load_pairs("hh-harmless-base").frame.chosen.tolist() == ["b \U0001f600"]


def test_json_line_that_is_not_an_object(prepared):
    message = hh_error(prepared, '["chosen", "rejected"]\n')
    assert HARMLESS in message and "row 1" in message and "expected a JSON object, got list" in message


def test_missing_field(prepared):
    message = hh_error(prepared, [{"chosen": hh("a", "b"), "rejected": hh("a", "c")}, {"chosen": hh("a", "b")}])
    assert HARMLESS in message and "row 2" in message and "field 'rejected': missing" in message
    unchanged_except(prepared, HARMLESS)


def test_non_string_field(prepared):
    message = hh_error(prepared, [{"chosen": 5, "rejected": hh("a", "c")}])
    assert "row 1" in message and "field 'chosen': expected a string, got int" in message


def test_dialogue_without_assistant_turn(prepared):
    message = hh_error(prepared, [{"chosen": hh("a", "b"), "rejected": "\n\nHuman: only a question"}])
    assert "row 1" in message and "field 'rejected'" in message and "Assistant" in message


def test_empty_response_strict_error_and_default_drop(prepared):
    records = [
        {"chosen": hh("a", "b"), "rejected": hh("a", "c")},
        {"chosen": hh("q", "fine"), "rejected": hh("q", "   ")},
    ]
    message = hh_error(prepared, records, strict=True)
    assert HARMLESS in message and "row 2" in message and "field 'rejected': empty response" in message
    lenient = load_pairs("hh-harmless-base")
    assert len(lenient) == 1 and lenient.dropped == {"empty_response": 1}
    unchanged_except(prepared, HARMLESS)


def test_gsm8k_answer_without_final_number(prepared):
    rewrite(
        prepared,
        "gsm8k/test.jsonl",
        jsonl([{"question": "q", "answer": "#### 9"}, {"question": "q2", "answer": "no marker"}]),
    )
    with pytest.raises(DataError) as excinfo:
        load_prompts("gsm8k")
    message = one_line(excinfo)
    assert "gsm8k/test.jsonl row 2" in message and "field 'answer'" in message and "####" in message


def test_gsm8k_solution_flag_not_boolean(prepared):
    bad = dict(SOLUTIONS[0])
    bad["175b_finetuning"] = {"is_correct": "yes", "solution": "A: 2"}
    rewrite(prepared, "gsm8k/example_model_solutions.jsonl", jsonl([bad]))
    with pytest.raises(DataError) as excinfo:
        load_pairs("gsm8k-pairs")
    message = one_line(excinfo)
    assert "example_model_solutions.jsonl row 1" in message and "field '175b_finetuning.is_correct'" in message


def test_advbench_missing_column_and_empty_goal(prepared):
    rewrite(prepared, "advbench/harmful_behaviors.csv", "goal,tgt\nx,y\n")
    with pytest.raises(DataError) as excinfo:
        load_prompts("advbench")
    assert "harmful_behaviors.csv" in one_line(excinfo) and "missing column 'target'" in str(excinfo.value)
    rewrite(prepared, "advbench/harmful_behaviors.csv", 'goal,target\nok,"Sure"\n  ,"Sure"\n')
    with pytest.raises(DataError) as excinfo:
        load_prompts("advbench")
    assert "harmful_behaviors.csv row 2" in one_line(excinfo) and "field 'goal': empty" in str(excinfo.value)


# --- names, arguments and sources -------------------------------------------------


def test_unknown_data_set_name(tiny_mirror):
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlfh")
    message = one_line(excinfo)
    assert "'hh-rlfh'" in message and "hh-rlhf" in message and "tldr" in message
    with pytest.raises(DataError) as excinfo:
        load_prompts("hh-rlhf")  # a pair set, not a prompt set
    assert "advbench" in one_line(excinfo)


def test_unknown_split_and_bad_arguments(tiny_mirror):
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf", split="dev")
    assert "'dev'" in one_line(excinfo) and "test" in str(excinfo.value)
    with pytest.raises(ConfigError, match="limit"):
        load_pairs("hh-rlhf", limit=-1)
    with pytest.raises(ConfigError, match="source"):
        load_pairs("hh-rlhf", source="web")


def test_split_sizes_name_the_argument():
    import pandas as pd

    frame = pd.DataFrame({"prompt": list("abcd"), "chosen": "c", "rejected": "r"})
    with pytest.raises(ConfigError, match="n_train"):
        split_train_eval(frame, -1, 1, 0)
    with pytest.raises(ConfigError, match="n_eval=9"):
        split_train_eval(frame, 0, 9, 0)
    with pytest.raises(ConfigError, match="n_train=4"):
        split_train_eval(frame, 4, 1, 0)


def test_mirror_folder_absent_and_hub_unreachable(data_env, monkeypatch):
    missing = data_env["mirror"] / "gone"
    monkeypatch.setenv("SP_PRM_DATA_MIRROR", str(missing))
    go_offline(monkeypatch)
    start = time.monotonic()
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf")
    message = one_line(excinfo)
    assert time.monotonic() - start < 10
    assert str(missing) in message and "Anthropic/hh-rlhf" in message and "failed" in message
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf", source="mirror")
    assert str(missing) in one_line(excinfo)
    with pytest.raises(DataError) as excinfo:
        load_pairs("gsm8k-pairs")  # mirror-only set
    assert str(missing) in one_line(excinfo) and "no hub source" in str(excinfo.value)
    assert not data_env["home"].exists()  # nothing was written


def write_bytes(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_data_files_zero_bytes_and_no_rows(data_env):
    home = data_env["home"]
    for name, data, problem in [
        ("empty.jsonl.gz", b"", "empty file (0 bytes)"),
        ("empty.jsonl", b"", "empty file (0 bytes)"),
        ("empty-array.json", b"[]\n", "no rows"),
    ]:
        path = write_bytes(home, name, data)
        with pytest.raises(DataError) as excinfo:
            load_pairs("hh-rlhf", split="train", data_files=path)
        assert str(path) in one_line(excinfo) and problem in str(excinfo.value), name


def test_data_files_bad_line_names_file_and_line(data_env):
    # issue #12: "DatasetGenerationError: An error occurred while generating the dataset", no row
    good = jsonl([{"chosen": hh("a", "b"), "rejected": hh("a", "c")}] * 2)
    path = write_bytes(data_env["home"], "pairs.jsonl", (good + '{"chosen": "oops\n').encode())
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf", split="train", data_files=path)
    assert f"{path} row 3: not valid JSON" in one_line(excinfo)
    path.write_text(good + '["a list"]\n')
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf", split="train", data_files=path)
    assert f"{path} row 3" in one_line(excinfo)


def test_data_files_lone_surrogate(data_env):
    good = {"chosen": hh("a", "b"), "rejected": hh("a", "c")}
    line = '{"chosen": "\\n\\nHuman: a\\n\\nAssistant: \\udc00", "rejected": "\\n\\nHuman: a\\n\\nAssistant: c"}\n'
    path = write_bytes(data_env["home"], "pairs.jsonl", (jsonl([good]) + line).encode())
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf", split="train", data_files=path)
    assert f"{path} row 2: field 'chosen': lone surrogate U+DC00" in one_line(excinfo)
    array = write_bytes(data_env["home"], "pairs.json", f"[{jsonl([good]).strip()},\n{line.strip()}]".encode())
    with pytest.raises(DataError) as excinfo:
        load_pairs("hh-rlhf", split="train", data_files=array)
    assert f"{array} row 2: field 'chosen': lone surrogate" in one_line(excinfo)
    array.write_text(json.dumps([good, good], indent=2))  # a JSON array file still loads
    assert len(load_pairs("hh-rlhf", split="train", data_files=array)) == 2


def test_missing_data_file(data_env):
    absent = data_env["home"] / "nope.jsonl"
    with pytest.raises(DataError) as excinfo:
        load_pairs("tldr", data_files=absent)
    assert str(absent) in one_line(excinfo) and "not found" in str(excinfo.value)
