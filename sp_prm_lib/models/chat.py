"""Chat-template rendering: the one place where messages become a model's prompt text.

Every user of a chat template (the policy's prompts, the reward models'
inputs, the local LM judge) renders through ``render_chat``, so all of them
get the same fallback for templates without a system role (Gemma): the system
text is folded into the first user turn.
"""

from __future__ import annotations

from sp_prm_lib.core.errors import ConfigError


def has_chat_template(tokenizer) -> bool:
    """Whether the tokenizer carries a chat template."""
    return getattr(tokenizer, "chat_template", None) is not None


def render_chat(tokenizer, messages: list[dict[str, str]], *, add_generation_prompt: bool = True) -> str:
    """``messages`` rendered as text with the tokenizer's chat template (the assistant turn opened
    when ``add_generation_prompt``)."""
    if not messages:
        raise ConfigError("render_chat: empty message list")
    if not has_chat_template(tokenizer):
        raise ConfigError(f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} has no chat template")
    try:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False)
    except Exception:  # jinja raises its own errors; a template without a system role is the common one
        if not any(m["role"] == "system" for m in messages):
            raise
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if rest:
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    else:
        rest = [{"role": "user", "content": system}]
    return tokenizer.apply_chat_template(rest, add_generation_prompt=add_generation_prompt, tokenize=False)


def chat_prompt_ids(tokenizer, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of ``messages`` rendered with the chat template, ending with the opening of the
    assistant turn (the template holds the special tokens: none are added)."""
    return list(tokenizer(render_chat(tokenizer, messages), add_special_tokens=False).input_ids)
