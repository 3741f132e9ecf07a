"""Preference pairs and prompt sets in one schema, from the mirror or the hub.

Entry points: :func:`load_pairs` (HH-RLHF, GSM8K solution pairs, TL;DR,
Pairwise-Math, Harmless-and-RedTeam) and :func:`load_prompts` (AdvBench,
GSM8K); :func:`known_datasets` lists the names. :func:`split_train_eval`
makes prompt-disjoint train/eval subsets; :func:`ensure_local_copy` copies
the mirror's files (or, with no mirror, downloads them from their public
sources) and verifies them against the sha256 list kept in the repository.
"""

from sp_prm_lib.data.dialogue import dialogue_to_messages, messages_to_dialogue, split_last_turn
from sp_prm_lib.data.gsm8k import final_number
from sp_prm_lib.data.loaders import load_pairs, load_prompts
from sp_prm_lib.data.mirror import ensure_local_copy, read_checksums
from sp_prm_lib.data.registry import REGISTRY, known_datasets
from sp_prm_lib.data.schema import PairSet, PromptSet, pairs_digest
from sp_prm_lib.data.splits import split_train_eval

__all__ = [
    "REGISTRY",
    "PairSet",
    "PromptSet",
    "dialogue_to_messages",
    "ensure_local_copy",
    "final_number",
    "known_datasets",
    "load_pairs",
    "pairs_digest",
    "load_prompts",
    "messages_to_dialogue",
    "read_checksums",
    "split_last_turn",
    "split_train_eval",
]
