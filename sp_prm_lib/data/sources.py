"""Where each data file comes from, and the sha256 it must have.

:data:`PUBLIC_URLS` maps each file of the data mirror (its path there) to
its public source: the authors' own copies. The sha256 of every file is in
``checksums.txt`` beside this module (``sha256sum -c`` format); that list,
kept in the repository, is authoritative for the mirror and for downloads.
``SP_PRM_DATA_BASE_URL`` replaces the public sources by one web server
holding a copy of the mirror: ``<base>/<path in the mirror>``.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path, PurePosixPath

from sp_prm_lib.core import settings
from sp_prm_lib.core.errors import ConfigError, DataError

CHECKSUMS_FILE = Path(__file__).with_name("checksums.txt")

PUBLIC_URLS: dict[str, str] = {
    "hh-rlhf/harmless-base-test.jsonl.gz": (
        "https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main/harmless-base/test.jsonl.gz"
    ),
    "hh-rlhf/helpful-base-test.jsonl.gz": (
        "https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main/helpful-base/test.jsonl.gz"
    ),
    "hh-rlhf/helpful-online-test.jsonl.gz": (
        "https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main/helpful-online/test.jsonl.gz"
    ),
    "hh-rlhf/helpful-rejection-sampled-test.jsonl.gz": (
        "https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main/helpful-rejection-sampled/test.jsonl.gz"
    ),
    "hh-rlhf/LICENSE": "https://raw.githubusercontent.com/anthropics/hh-rlhf/HEAD/LICENSE",
    "advbench/harmful_behaviors.csv": (
        "https://raw.githubusercontent.com/llm-attacks/llm-attacks/main/data/advbench/harmful_behaviors.csv"
    ),
    "advbench/harmful_strings.csv": (
        "https://raw.githubusercontent.com/llm-attacks/llm-attacks/main/data/advbench/harmful_strings.csv"
    ),
    "advbench/LICENSE": "https://raw.githubusercontent.com/llm-attacks/llm-attacks/main/LICENSE",
    "gsm8k/train.jsonl": (
        "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/train.jsonl"
    ),
    "gsm8k/test.jsonl": (
        "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl"
    ),
    "gsm8k/example_model_solutions.jsonl": (
        "https://raw.githubusercontent.com/openai/grade-school-math/master/"
        "grade_school_math/data/example_model_solutions.jsonl"
    ),
    "gsm8k/LICENSE": "https://raw.githubusercontent.com/openai/grade-school-math/master/LICENSE",
}

_CHECKSUM_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(\S.*?)\s*$")


def _safe_relpath(text: str, where: str) -> str:
    rel = PurePosixPath(text)
    parts = [p for p in rel.parts if p != "."]
    if rel.is_absolute() or not parts or ".." in parts:
        raise DataError(f"{where}: unsafe path {text!r} in the checksum list")
    return "/".join(parts)


def parse_checksums(path: Path, *, required: bool = True) -> dict[str, str]:
    """{relative path: sha256} of the ``<sha256>  ./<relpath>`` lines of ``path``
    (other lines are ignored). DataError when the file is missing or, if
    ``required``, has no such line."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (it should hold the data files' sha256 list)")
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _CHECKSUM_LINE.match(line.strip())
        if match:
            sums[_safe_relpath(match.group(2), f"{path} line {number}")] = match.group(1).lower()
    if required and not sums:
        raise DataError(f"{path}: no checksum lines ('<sha256>  ./<path>') found")
    return sums


def repo_checksums() -> dict[str, str]:
    """{relative path: sha256} of the list kept in the repository."""
    return parse_checksums(CHECKSUMS_FILE)


def url_for(relpath: str) -> str:
    """The URL to download the mirror file ``relpath`` from."""
    base = settings.data_base_url()
    if base is not None:
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            raise ConfigError(f"SP_PRM_DATA_BASE_URL must be an http:// or https:// URL, got {base!r}")
        return f"{base}/{urllib.parse.quote(relpath)}"
    if relpath not in PUBLIC_URLS:
        raise DataError(f"{relpath}: no public source known; set SP_PRM_DATA_MIRROR or SP_PRM_DATA_BASE_URL")
    return PUBLIC_URLS[relpath]


def describe_origin() -> str:
    """Where missing local copies are taken from, in words."""
    root = settings.data_mirror()
    if root is not None:
        return f"the data mirror {root}"
    base = settings.data_base_url()
    return f"{base} (SP_PRM_DATA_BASE_URL)" if base else "the public sources (Hugging Face hub, GitHub)"
