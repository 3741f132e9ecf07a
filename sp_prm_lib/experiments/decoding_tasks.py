"""The decoding benchmarks of the paper's Tables 1-4: one ``Task`` per benchmark, keyed by name.

Each task says which entry of ``paper_values.yaml`` holds the paper's table, which
``DecodingSpec`` fields give its response limit and BoN sizes, what it measures and where its
prompts come from (``task_prompts``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.errors import ConfigError, DataError


@dataclass(frozen=True, kw_only=True)
class Task:
    """A decoding benchmark: where its prompts come from and what it measures."""

    name: str
    label: str  # the benchmark's name in captions
    unit: str = "prompts"  # what its prompts are, in words
    table: str  # entry of paper_values.yaml
    paper_model: str  # the paper's policy our column is compared with
    description: str
    paper_bon: tuple[int, int] = (16, 64)  # the paper's BoN sizes in that table
    metric: str | None = None  # asr / accuracy / rouge_l
    win_tie: bool = False  # judged against the base output (Table 1)
    length_field: str = "max_new_tokens"  # DecodingSpec field with the response limit
    bon_field: str = "bon"  # DecodingSpec field with the two BoN sizes


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            name="hh-rlhf",
            label="HH-RLHF",
            table="table1",
            paper_model="Llama-3.2-3B-Instruct",
            description="HH-RLHF eval prompts (dialogue up to the last Assistant turn)",
            win_tie=True,
        ),
        Task(
            name="tldr",
            label="TL;DR",
            table="table2",
            paper_model="Llama-3.2-1B-Instruct",
            description="TL;DR posts (summarize_from_feedback comparisons, validation split; hub only)",
            metric="rouge_l",
            length_field="summary_max_new_tokens",
        ),
        Task(
            name="advbench",
            label="AdvBench",
            table="table3",
            paper_model="Llama-3.2-1B",
            description="AdvBench harmful behaviours with the profile's suffix (paper: \"Sure here's\")",
            metric="asr",
        ),
        Task(
            name="gsm8k",
            label="GSM8K",
            table="table4",
            paper_model="Llama-3.2-1B",
            description="GSM8K test questions",
            unit="questions",
            paper_bon=(8, 16),
            metric="accuracy",
            bon_field="gsm8k_bon",
        ),
    ]
}

TLDR_SPLIT = "validation"


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown decoding task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


def task_available(profile: Profile, task: str) -> str | None:
    """None when the profile's data source can serve ``task``, else the reason it cannot."""
    from sp_prm_lib.data import REGISTRY

    t = get_task(task)
    if t.name != "tldr":
        return None
    spec = REGISTRY["tldr"]
    if profile.data.source == "mirror" or not spec.hub:
        return (
            f"TL;DR is on the Hugging Face hub only ({spec.hub.hub_id}) and profile {profile.name!r} "
            f"reads data.source = {profile.data.source!r}; its DeBERTa reward model is hub-only too"
        )
    return None


def task_prompts(profile: Profile, task: str, data_files=None) -> pd.DataFrame:
    """The first ``decoding.prompts`` prompts of ``task``: columns ``prompt``, ``reference``
    (HH-RLHF: the chosen response; TL;DR: the preferred summary; GSM8K: the final number;
    AdvBench: the target string) and ``instruction`` (the prompt before any suffix)."""
    from sp_prm_lib.data import load_pairs
    from sp_prm_lib.experiments.pairs import preference_splits, prompt_sets

    t = get_task(task)
    n = profile.decoding.prompts
    if t.name == "hh-rlhf":
        frame = preference_splits(profile)["eval"].frame.drop_duplicates("prompt")
        out = pd.DataFrame({"instruction": frame.prompt, "prompt": frame.prompt, "reference": frame.chosen})
        where = "data.eval_pairs"
    elif t.name == "tldr":
        if data_files is None:
            reason = task_available(profile, task)
            if reason:
                raise DataError(reason)
        pairs = load_pairs("tldr", split=TLDR_SPLIT, source=profile.data.source, data_files=data_files)
        frame = pairs.frame.drop_duplicates("prompt")
        out = pd.DataFrame({"instruction": frame.prompt, "prompt": frame.prompt, "reference": frame.chosen})
        where = "the TL;DR split"
    elif t.name == "advbench":
        frame = prompt_sets(profile)["advbench"].frame
        out = pd.DataFrame(
            {
                "instruction": frame.prompt,
                "prompt": frame.prompt + profile.decoding.advbench_suffix,
                "reference": frame.target,
            }
        )
        where = "data.advbench_prompts"
    else:
        frame = prompt_sets(profile)["gsm8k"].frame
        out = pd.DataFrame(
            {"instruction": frame.prompt, "prompt": frame.prompt, "reference": frame.final_answer.astype(str)}
        )
        where = "data.gsm8k_questions"
    limit = profile.decoding.max_prompt_tokens
    if limit is not None:
        from sp_prm_lib.models.loading import load_tokenizer

        tok = load_tokenizer(profile.policy)
        lengths = [len(ids) for ids in tok(out.prompt.tolist(), add_special_tokens=False)["input_ids"]]
        out = out[[n_tok <= limit for n_tok in lengths]]
        where += f", at most decoding.max_prompt_tokens = {limit} tokens"
    if len(out) < n:
        raise ConfigError(
            f"{profile.path}: decoding.prompts = {n} is more than the {len(out)} {task} prompts ({where})"
        )
    return out.head(n).reset_index(drop=True)
