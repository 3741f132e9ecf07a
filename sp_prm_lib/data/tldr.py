"""TL;DR comparisons (``openai/summarize_from_feedback``, config ``comparisons``,
read from the hub's parquet export ``refs/convert/parquet``).

Hub schema (the features of the set's loading script)::

    {"info": {"id", "post", "title", "subreddit", "site", "article"},
     "summaries": [{"text", "policy", "note"}, {"text", "policy", "note"}],
     "choice": 0 | 1, "worker", "batch", "split", "extra": {"confidence"}}

``choice`` is the index of the preferred summary. Rows without a Reddit
post (the CNN/DM articles of the validation split) are dropped as
``not_reddit_post``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sp_prm_lib.data.dialogue import messages_to_dialogue
from sp_prm_lib.data.rows import Pair, RowError, Skip, text_field, type_name

NOT_REDDIT_POST = "not_reddit_post"


def tldr_prompt(subreddit: str, title: str, post: str) -> str:
    """The usual TL;DR query text of a Reddit post."""
    return f"SUBREDDIT: r/{subreddit.strip()}\nTITLE: {title.strip()}\nPOST: {post.strip()}\nTL;DR:"


def map_tldr_row(record: Mapping[str, Any]) -> Pair | Skip:
    """One comparison record to a pair (pure)."""
    info = record.get("info") if isinstance(record, Mapping) else None
    if not isinstance(info, Mapping):
        raise RowError("info", "missing" if info is None else f"expected an object, got {type_name(info)}")
    if info.get("post") is None and isinstance(info.get("article"), str):
        return Skip(NOT_REDDIT_POST)
    post = text_field(info, "post", label="info.post")
    title = text_field(info, "title", label="info.title") if info.get("title") is not None else ""
    subreddit = text_field(info, "subreddit", label="info.subreddit") if info.get("subreddit") is not None else ""
    summaries = record.get("summaries")
    if not isinstance(summaries, list) or len(summaries) != 2:
        got = f"{len(summaries)} items" if isinstance(summaries, list) else type_name(summaries)
        raise RowError("summaries", f"expected a list of 2 summaries, got {got}")
    texts = [text_field(s, "text", label=f"summaries[{i}].text").strip() for i, s in enumerate(summaries)]
    choice = record.get("choice")
    if isinstance(choice, bool) or choice not in (0, 1):
        raise RowError("choice", f"expected 0 or 1, got {choice!r}")
    prompt = messages_to_dialogue([{"role": "user", "content": tldr_prompt(subreddit, title, post)}])
    return Pair(prompt, texts[choice], texts[1 - choice])
