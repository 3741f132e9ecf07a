"""Named data sets: where each split lives (mirror files, hub) and how rows map."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sp_prm_lib.core.errors import DataError
from sp_prm_lib.data import advbench, gsm8k, hh_rlhf, rlhflow, tldr
from sp_prm_lib.data.readers import iter_csv, iter_jsonl

Reader = Callable[[Path], Iterator[tuple[int, Any]]]


@dataclass(frozen=True)
class HubSpec:
    """A hub set: id, our split name -> hub split, row mapper, and the
    config, data_dir or revision that ``datasets.load_dataset`` needs."""

    hub_id: str
    splits: dict[str, str]
    mapper: Callable[[Any], Any]
    config: str | None = None
    data_dir: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One named data set of kind ``pairs`` or ``prompts``."""

    name: str
    kind: str
    description: str
    default_split: str
    mirror: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reader: Reader | None = None
    mapper: Callable[[Any], Any] | None = None
    hub: HubSpec | None = None
    columns: tuple[str, ...] = ()

    def splits(self) -> list[str]:
        hub = self.hub.splits if self.hub else {}
        return sorted(set(self.mirror) | set(hub))


def _advbench_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    return iter_csv(path, advbench.CSV_COLUMNS)


def _hh_subset(subset: str) -> DatasetSpec:
    return DatasetSpec(
        name=f"hh-{subset}",
        kind="pairs",
        description=f"Anthropic HH-RLHF {subset} (mirror: test split)",
        default_split="test",
        mirror={"test": (hh_rlhf.mirror_file(subset),)},
        reader=iter_jsonl,
        mapper=hh_rlhf.map_hh_row,
        hub=HubSpec("Anthropic/hh-rlhf", {"train": "train", "test": "test"}, hh_rlhf.map_hh_row, data_dir=subset),
    )


_SPECS = [
    DatasetSpec(
        name="hh-rlhf",
        kind="pairs",
        description="Anthropic HH-RLHF, all four preference subsets (mirror: test split)",
        default_split="test",
        mirror={"test": tuple(hh_rlhf.mirror_file(s) for s in hh_rlhf.SUBSETS)},
        reader=iter_jsonl,
        mapper=hh_rlhf.map_hh_row,
        hub=HubSpec("Anthropic/hh-rlhf", {"train": "train", "test": "test"}, hh_rlhf.map_hh_row),
    ),
    *(_hh_subset(s) for s in hh_rlhf.SUBSETS),
    DatasetSpec(
        name="gsm8k-pairs",
        kind="pairs",
        description="GSM8K test questions: a correct vs an incorrect GPT-3 solution",
        default_split="test",
        mirror={"test": ("gsm8k/example_model_solutions.jsonl",)},
        reader=iter_jsonl,
        mapper=gsm8k.map_solutions_row,
    ),
    DatasetSpec(
        name="tldr",
        kind="pairs",
        description="TL;DR summary comparisons (hub only)",
        default_split="train",
        # The main revision is a loading script, which datasets>=4 refuses;
        # the hub's parquet export keeps config "comparisons" as a folder.
        hub=HubSpec(
            "openai/summarize_from_feedback",
            {"train": "train", "validation": "validation"},
            tldr.map_tldr_row,
            data_dir="comparisons",
            revision="refs/convert/parquet",
        ),
    ),
    DatasetSpec(
        name="pairwise-math",
        kind="pairs",
        description="Pairwise-Math: Deepseek ORM solution pairs (hub only)",
        default_split="train",
        hub=HubSpec("RLHFlow/Deepseek-ORM-Data-Pairwise", {"train": "train"}, rlhflow.map_messages_pair_row),
    ),
    DatasetSpec(
        name="harmless-redteam",
        kind="pairs",
        description="HH-RLHF Harmless and Red-Team pairs (hub only)",
        default_split="train",
        hub=HubSpec("RLHFlow/HH-RLHF-Harmless-and-RedTeam-standard", {"train": "train"}, rlhflow.map_messages_pair_row),
    ),
    DatasetSpec(
        name="advbench",
        kind="prompts",
        description="AdvBench harmful behaviours (goal, target)",
        default_split="train",
        mirror={"train": ("advbench/harmful_behaviors.csv",)},
        reader=_advbench_csv,
        mapper=advbench.map_advbench_csv_row,
        hub=HubSpec("walledai/AdvBench", {"train": "train"}, advbench.map_advbench_hub_row),
        columns=("target",),
    ),
    DatasetSpec(
        name="gsm8k",
        kind="prompts",
        description="GSM8K questions with worked answers and final numbers",
        default_split="test",
        mirror={"train": ("gsm8k/train.jsonl",), "test": ("gsm8k/test.jsonl",)},
        reader=iter_jsonl,
        mapper=gsm8k.map_gsm8k_row,
        hub=HubSpec("openai/gsm8k", {"train": "train", "test": "test"}, gsm8k.map_gsm8k_row, config="main"),
        columns=("final_answer",),
    ),
]

REGISTRY: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def known_datasets(kind: str | None = None) -> list[str]:
    """Names of the registered data sets, optionally of one kind (pairs/prompts)."""
    return sorted(name for name, spec in REGISTRY.items() if kind in (None, spec.kind))


def get_spec(name: str, kind: str | None = None) -> DatasetSpec:
    """The spec of ``name``; DataError listing the known names if unknown."""
    spec = REGISTRY.get(name)
    known = ", ".join(known_datasets(kind))
    if spec is None:
        raise DataError(f"unknown data set {name!r}; known: {known}")
    if kind is not None and spec.kind != kind:
        raise DataError(f"{name!r} is a {spec.kind} data set (load_{spec.kind}), not {kind}; known {kind}: {known}")
    return spec
