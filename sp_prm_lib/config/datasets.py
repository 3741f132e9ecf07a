"""The names a profile may give to data sets, with their kind and splits.

``sp_prm_lib.data.REGISTRY`` says how each is read; this table lets a
profile be checked without importing the data layer (a test keeps the two equal).
"""

from __future__ import annotations

#: data set name -> (kind, splits)
DATASET_SPLITS: dict[str, tuple[str, tuple[str, ...]]] = {
    "advbench": ("prompts", ("train",)),
    "gsm8k": ("prompts", ("test", "train")),
    "gsm8k-pairs": ("pairs", ("test",)),
    "harmless-redteam": ("pairs", ("train",)),
    "hh-harmless-base": ("pairs", ("test", "train")),
    "hh-helpful-base": ("pairs", ("test", "train")),
    "hh-helpful-online": ("pairs", ("test", "train")),
    "hh-helpful-rejection-sampled": ("pairs", ("test", "train")),
    "hh-rlhf": ("pairs", ("test", "train")),
    "pairwise-math": ("pairs", ("train",)),
    "tldr": ("pairs", ("train", "validation")),
}
