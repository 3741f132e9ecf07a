"""Chat formatting of dialogue prompts for a policy, and a plain greedy answer."""

from __future__ import annotations

import torch


def chat_input_ids(tokenizer, messages: list[dict[str, str]]) -> torch.Tensor:
    """Token ids (1 x n) of ``messages`` rendered with the tokenizer's chat template,
    ending with the opening of the assistant turn."""
    if not messages:
        raise ValueError("chat_input_ids: empty message list")
    if tokenizer.chat_template is None:
        raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no chat template")
    return tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]


@torch.no_grad()
def greedy_answer(model, tokenizer, messages: list[dict[str, str]], max_new_tokens: int) -> str:
    """The policy's greedy answer to a conversation, special tokens removed."""
    ids = chat_input_ids(tokenizer, messages)
    out = model.generate(
        input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
        do_sample=False, pad_token_id=tokenizer.pad_token_id,
    )
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
