"""Build a local Hugging Face cache that holds the `paper` profile's hub ids, in miniature.

    python scripts/rehearsal/hub_cache.py --hf-home DIR [--profile paper-rehearsal]

Writes the standard ``HF_HOME`` layout, read by ``from_pretrained`` and
``datasets.load_dataset`` under ``HF_HUB_OFFLINE=1``:

- ``DIR/hub/models--<org>--<name>/{refs/main, snapshots/<commit>/}``: tiny random
  models of the paper's architecture classes under the paper's ids: a Llama causal
  LM for the policy (SmolLM2's BPE tokenizer and chat template), Gemma sequence
  classifiers for the two reward models (the MiniLM WordPiece tokenizer with a
  Gemma-style chat template: policy and RMs tokenize differently, as in the paper),
  a BERT encoder with a pooler for SimCSE (MiniLM tokenizer).
- ``DIR/datasets/<org>___<name>/<config>/0.0.0/<hash>/``: the data sets under their
  hub ids and config names (the cache ``datasets`` falls back to offline),
  converted from the verified mirror: HH-RLHF (default config and one per subset;
  the mirror's test rows are cut by prompt into "train" and "test"), GSM8K
  (``main``), AdvBench, and TL;DR comparisons in the hub's schema built from
  HH-RLHF first turns (no TL;DR text ships offline).

The weights are random: every number computed from them means nothing. Only
the code paths are real. Nothing here is imported by the library.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

# The ids of the paper profile this cache serves, with each model's architecture.
POLICY = "meta-llama/Meta-Llama-3-8B-Instruct"
RMS = {"weqweasdas/RM-Gemma-2B": 2, "weqweasdas/RM-Gemma-7B": 3}  # id -> layers (the 7B is the larger)
SIMCSE = "princeton-nlp/sup-simcse-bert-base-uncased"

# Gemma's template (no system role: the library folds the system text into the first turn).
GEMMA_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{{ bos_token if bos_token else '' }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


def _commit(repo_id: str) -> str:
    return hashlib.sha1(f"rehearsal:{repo_id}".encode()).hexdigest()


def snapshot_dir(hf_home: Path, repo_id: str, kind: str = "models") -> Path:
    """The snapshot folder of ``repo_id`` in the hub cache, with ``refs/main`` pointing at it."""
    root = hf_home / "hub" / f"{kind}--{repo_id.replace('/', '--')}"
    commit = _commit(repo_id)
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    out = root / "snapshots" / commit
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return out


def _tokenizers():
    from sp_prm_lib.config.profile import ModelSpec
    from sp_prm_lib.models.loading import load_tokenizer, package_path

    bpe = load_tokenizer(ModelSpec(id="HuggingFaceTB/SmolLM2-135M-Instruct", source="package"))
    from transformers import AutoTokenizer

    wordpiece = AutoTokenizer.from_pretrained(str(package_path("sentence-transformers/all-MiniLM-L6-v2")))
    return bpe, wordpiece


def build_models(hf_home: Path, seed: int = 0) -> dict[str, str]:
    import torch
    from transformers import (
        BertConfig,
        BertModel,
        GemmaConfig,
        GemmaForSequenceClassification,
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
    )

    bpe, wordpiece = _tokenizers()
    made = {}
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(bpe),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=bpe.bos_token_id,
        eos_token_id=bpe.eos_token_id,
        pad_token_id=bpe.pad_token_id,
        tie_word_embeddings=False,
    )
    policy = LlamaForCausalLM(cfg)
    policy.generation_config = GenerationConfig(
        bos_token_id=bpe.bos_token_id, eos_token_id=bpe.eos_token_id, do_sample=False
    )
    out = snapshot_dir(hf_home, POLICY)
    policy.save_pretrained(out)
    bpe.save_pretrained(out)
    made[POLICY] = str(out)

    rm_tok = wordpiece.__class__.from_pretrained(str(_minilm_dir()))
    rm_tok.chat_template = GEMMA_TEMPLATE
    for repo_id, layers in RMS.items():
        torch.manual_seed(seed + layers)
        cfg = GemmaConfig(
            vocab_size=len(rm_tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            max_position_embeddings=4096,
            pad_token_id=rm_tok.pad_token_id,
            num_labels=1,
        )
        model = GemmaForSequenceClassification(cfg)
        out = snapshot_dir(hf_home, repo_id)
        model.save_pretrained(out)
        rm_tok.save_pretrained(out)
        made[repo_id] = str(out)

    torch.manual_seed(seed + 10)
    cfg = BertConfig(
        vocab_size=len(wordpiece),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=512,
    )
    out = snapshot_dir(hf_home, SIMCSE)
    BertModel(cfg, add_pooling_layer=True).save_pretrained(out)
    wordpiece.save_pretrained(out)
    made[SIMCSE] = str(out)
    return made


def _minilm_dir() -> Path:
    from sp_prm_lib.models.loading import package_path

    return package_path("sentence-transformers/all-MiniLM-L6-v2")


# -- data sets ----------------------------------------------------------------------------
def put_dataset(
    hf_home: Path,
    repo_id: str,
    splits: dict[str, list[dict]],
    *,
    config: str | None = None,
    data_dir: str | None = None,
) -> Path:
    """Write ``splits`` as the prepared cache ``datasets.load_dataset(repo_id, config, data_dir=...)``
    reads offline."""
    import datasets
    from datasets.arrow_writer import ArrowWriter

    kwargs = {"data_dir": data_dir} if data_dir else {}
    config_id = (
        datasets.BuilderConfig(config or "default").create_config_id(config_kwargs=kwargs)
        if (config or kwargs)
        else "default"
    )
    from datasets.packaged_modules.cache.cache import Cache

    features = datasets.Dataset.from_list(next(iter(splits.values()))).features
    digest = hashlib.sha1(json.dumps([repo_id, config_id]).encode()).hexdigest()[:16]
    info = datasets.DatasetInfo(features=features, config_name=config_id)
    # the builder that reads the cache names its folder and files (snake_case names, ___ for /)
    builder = Cache(
        cache_dir=str(hf_home / "datasets"),
        dataset_name=repo_id.split("/")[-1],
        repo_id=repo_id,
        config_name=config_id,
        version="0.0.0",
        hash=digest,
        info=info,
    )
    out, name = Path(builder.cache_dir), builder.dataset_name
    if out.parent.exists():
        shutil.rmtree(out.parent)
    out.mkdir(parents=True)
    info.dataset_name = name
    split_dict = datasets.SplitDict(dataset_name=name)
    for split, rows in splits.items():
        ds = datasets.Dataset.from_list(rows, features=features)
        with ArrowWriter(features=features, path=str(out / f"{name}-{split}.arrow")) as writer:
            writer.write_table(ds.data.table)
            n, nbytes = writer.finalize()
        split_dict.add(datasets.SplitInfo(name=split, num_examples=n, num_bytes=nbytes, dataset_name=name))
    info.splits = split_dict
    info.write_to_directory(str(out))
    return out


def _jsonl(path: Path) -> list[dict]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _half(text: str) -> str:
    """'train' or 'test' by a hash of the first human turn (a prompt never lands in both)."""
    first = text.split("\n\nAssistant:")[0]
    return "train" if int(hashlib.sha256(first.encode()).hexdigest(), 16) % 2 == 0 else "test"


def build_datasets(hf_home: Path) -> dict[str, int]:
    from sp_prm_lib.data import ensure_local_copy
    from sp_prm_lib.data.hh_rlhf import SUBSETS, mirror_file
    from sp_prm_lib.data.mirror import local_root

    ensure_local_copy()
    root = local_root()
    counts = {}
    everything: dict[str, list[dict]] = {"train": [], "test": []}
    for subset in SUBSETS:
        parts: dict[str, list[dict]] = {"train": [], "test": []}
        for row in _jsonl(root / mirror_file(subset)):
            row = {"chosen": row["chosen"], "rejected": row["rejected"]}
            parts[_half(row["chosen"])].append(row)
        put_dataset(hf_home, "Anthropic/hh-rlhf", parts, data_dir=subset)
        for k in parts:
            everything[k] += parts[k]
    put_dataset(hf_home, "Anthropic/hh-rlhf", everything)
    counts["Anthropic/hh-rlhf"] = sum(map(len, everything.values()))

    gsm = {s: _jsonl(root / f"gsm8k/{s}.jsonl") for s in ("train", "test")}
    gsm = {s: [{"question": r["question"], "answer": r["answer"]} for r in rows] for s, rows in gsm.items()}
    put_dataset(hf_home, "openai/gsm8k", gsm, config="main")
    counts["openai/gsm8k"] = sum(map(len, gsm.values()))

    import csv

    with open(root / "advbench/harmful_behaviors.csv", newline="", encoding="utf-8") as f:
        adv = [{"prompt": r["goal"], "target": r["target"]} for r in csv.DictReader(f)]
    put_dataset(hf_home, "walledai/AdvBench", {"train": adv})
    counts["walledai/AdvBench"] = len(adv)

    tldr = {"train": [], "validation": []}
    for i, row in enumerate(everything["train"][:600]):
        human = row["chosen"].split("\n\nAssistant:")[0].replace("\n\nHuman:", "").strip()
        a = row["chosen"].split("\n\nAssistant:")[-1].strip()
        b = row["rejected"].split("\n\nAssistant:")[-1].strip()
        record = {
            "info": {
                "id": f"t{i}",
                "post": human,
                "title": human[:40],
                "subreddit": "rehearsal",
                "site": None,
                "article": None,
            },
            "summaries": [{"text": a, "policy": "x", "note": None}, {"text": b, "policy": "y", "note": None}],
            "choice": 0,
            "worker": "w",
            "batch": "b",
            "split": "train",
            "extra": {"confidence": 5},
        }
        tldr["train" if i % 3 else "validation"].append(record)
    put_dataset(hf_home, "openai/summarize_from_feedback", tldr, data_dir="comparisons")
    counts["openai/summarize_from_feedback"] = sum(map(len, tldr.values()))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hf-home", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.time()
    hf_home = args.hf_home.resolve()
    made = build_models(hf_home)
    counts = build_datasets(hf_home)
    for repo_id, where in made.items():
        print(f"hub-cache: model {repo_id} -> {where}")
    for repo_id, n in counts.items():
        print(f"hub-cache: data set {repo_id}: {n} rows")
    print(f"hub-cache: {hf_home} built in {time.time() - started:.1f}s (random tiny weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
