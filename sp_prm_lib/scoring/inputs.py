"""How a reward model sees (prompt, partial response): token ids in three parts.

Every scored sequence is ``context + response[:t] (+ closing)``:

- ``context``: the prompt rendered with the reward model's chat template up to
  the opening of the assistant turn (or, for tokenizers without a chat
  template, the first segment of a text pair as the tokenizer itself renders
  ``tokenizer(prompt, response)``: ``[CLS] prompt [SEP]``);
- ``response[:t]``: the first ``t`` tokens of the response in the reward
  model's own tokenizer (text in, so policy and RM tokenizers may differ);
- ``closing``: the tokens that end an assistant turn (``<|im_end|>\\n`` or
  ``[SEP]``), present only in the ``closed`` convention.

Conventions (used identically by training and decoding):

- ``closed``: the prefix is scored as if it were a finished answer (the
  released code's choice); the score is read at the last closing token.
- ``open``: the score is read at the last prefix token, with no closing
  tokens; for causal RMs every prefix of a response is then a position of one
  forward pass.

Length rule (stated once, applied everywhere): when context + response +
closing exceeds ``max_length``, the context is cut from the left (oldest
turns go first) down to ``min_context`` tokens; if that is still too long,
the response keeps only its first tokens that fit. Prefix lengths beyond the
kept response are scored as the kept response (``Encoded.kept`` says how
many response tokens were kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import dialogue_to_messages
from sp_prm_lib.models.chat import has_chat_template, render_chat

CONVENTIONS = ("closed", "open")
_SENTINEL = "\u2063SPPRM\u2063"  # invisible separator: never produced by real text


@dataclass(frozen=True)
class Encoded:
    """Token ids of one (prompt, response) pair, already fitted to ``max_length``.

    ``kept`` is the number of response tokens kept; ``length`` the number
    the response has in full.
    """

    context: list[int]
    response: list[int]
    closing: list[int]
    length: int

    @property
    def kept(self) -> int:
        return len(self.response)


def _second_sequence(enc, ids: list[int], placeholder: list[int]) -> list[int]:
    """Positions of the second text of a rendered pair: from the tokenizer's sequence ids
    (fast tokenizers), else the last occurrence of the placeholder's own ids."""
    try:
        sequence = enc.sequence_ids(0)
    except (AttributeError, ValueError, TypeError):
        sequence = None
    if sequence is not None:
        return [i for i, s in enumerate(sequence) if s == 1]
    n = len(placeholder)
    for start in range(len(ids) - n, -1, -1):
        if n and ids[start : start + n] == placeholder:
            return list(range(start, start + n))
    return []


class RewardFormatter:
    """Renders prompts and responses into token ids for one reward tokenizer."""

    def __init__(self, tokenizer, convention: str = "closed", max_length: int = 1024, min_context: int = 32):
        if convention not in CONVENTIONS:
            raise ConfigError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
        if max_length < 8:
            raise ConfigError(f"max_length must be >= 8, got {max_length}")
        self.tokenizer = tokenizer
        self.convention = convention
        self.max_length = max_length
        self.min_context = min_context
        self.uses_chat_template = has_chat_template(tokenizer)
        self._closing = self._closing_ids()

    # -- rendering ----------------------------------------------------------
    def _split_at_sentinel(self, prompt: str) -> tuple[list[int], list[int]]:
        """(context ids, closing ids) around a sentinel response."""
        tok = self.tokenizer
        if self.uses_chat_template:
            messages = dialogue_to_messages(prompt) + [{"role": "assistant", "content": _SENTINEL}]
            text = render_chat(tok, messages, add_generation_prompt=False)
            before, sep, after = text.partition(_SENTINEL)
            if not sep:
                raise ConfigError(f"the chat template of {tok.name_or_path!r} drops the assistant content")
            return (tok(before, add_special_tokens=False).input_ids, tok(after, add_special_tokens=False).input_ids)
        return self._text_pair_parts(prompt)

    def _text_pair_parts(self, prompt: str) -> tuple[list[int], list[int]]:
        """(context, closing) of a text-pair model (DeBERTa, BERT): ``[CLS] prompt [SEP] response [SEP]``.

        The pair is rendered by the tokenizer itself, ``tokenizer(prompt, placeholder)``, so
        its own special tokens and template are used; the placeholder's tokens (the second
        sequence) mark where the response goes.
        """
        tok = self.tokenizer
        placeholder = "x"
        enc = tok(prompt, placeholder, add_special_tokens=True)
        ids = list(enc["input_ids"])
        second = _second_sequence(enc, ids, tok(placeholder, add_special_tokens=False)["input_ids"])
        if not second:
            raise ConfigError(
                f"tokenizer {tok.name_or_path!r} has no chat template and does not render a text pair "
                "(prompt, response): cannot tell where the response starts"
            )
        return ids[: second[0]], ids[second[-1] + 1 :]

    def _closing_ids(self) -> list[int]:
        return self._split_at_sentinel("Hello")[1]

    def context_ids(self, prompt: str) -> list[int]:
        """The prompt rendered up to the start of the response."""
        return self._split_at_sentinel(prompt)[0]

    @property
    def closing(self) -> list[int]:
        """Closing ids appended in the ``closed`` convention (empty for ``open``)."""
        return list(self._closing) if self.convention == "closed" else []

    def response_ids(self, texts: list[str]) -> list[list[int]]:
        """Response token ids (no special tokens), one batched tokenizer call."""
        if not texts:
            return []
        return self.tokenizer(list(texts), add_special_tokens=False).input_ids

    # -- fitting ------------------------------------------------------------
    def encode(self, prompts: list[str], responses: list[str]) -> list[Encoded]:
        """Encode pairs and apply the length rule of the module docstring."""
        if len(prompts) != len(responses):
            raise ConfigError(f"{len(prompts)} prompts but {len(responses)} responses")
        closing = self.closing
        out = []
        for prompt, resp in zip(prompts, self.response_ids(responses), strict=True):
            out.append(self.fit(self.context_ids(prompt), resp, closing))
        return out

    def fit(self, context: list[int], response: list[int], closing: list[int]) -> Encoded:
        """Cut context (left) then response (right) so the whole fits ``max_length``."""
        budget = self.max_length - len(closing)
        keep_context = min(len(context), self.min_context)
        length = len(response)
        response = response[: max(budget - keep_context, 0)]
        room = budget - len(response)
        if len(context) > room:
            context = context[len(context) - room :] if room > 0 else []
        return Encoded(context, response, closing, length)
