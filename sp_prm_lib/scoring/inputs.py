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

The three parts are tokenized apart (context and closing from the rendered
template around a placeholder, the response on its own with no special
tokens), so a response has the same ids after any prompt and ``response[:t]``
is a prefix of ids, which one-pass prefix scoring, training on prefixes and
the decoders' RM cache need. Where a BPE merge would cross a boundary of the
rendered text (e.g. a response starting with ``"\n\n"`` after the template's
``"assistant\n"``), these ids differ from tokenizing the whole rendered text
at once; the reward then differs slightly from a render-once pipeline (measured
once: 6.9e-3 on a 0.07 spread). Training, scoring and decoding all use these
ids, so a trained RM is scored as it was trained.

The empty response: a text-pair tokenizer renders ``tokenizer(prompt, "")``
as ``[CLS] prompt [SEP]`` (no second segment, no second ``[SEP]``), so in the
``closed`` convention the empty prefix is the context alone
(``Encoded.closing_at(0)``); chat templates close an empty assistant turn
with the same closing tokens as any other.

Length rule, the window (stated once, applied everywhere: training rows,
scoring, the probe, the cross-tokenizer and RM-cache decoding paths). A
prefix's input depends only on the prompt and the prefix itself, never on the
unseen rest of its response:

- the context keeps at most ``max_length - len(closing) - response_budget``
  tokens, cut from the left (oldest turns go first; a text-pair context keeps
  its leading special tokens, e.g. ``[CLS]``). This depends on the prompt
  only, so every response and every prefix of a prompt sees the same context,
  and the two sides of a pair see the same context;
- the response keeps its first ``max_length - len(closing) - len(context)``
  tokens (at least ``response_budget``; more when the prompt is short).
  Prefix lengths beyond the kept response are scored as the kept response
  (``Encoded.kept`` says how many response tokens were kept).

``response_budget`` defaults to ``max_length // 2`` (profile key
``reward.response_budget``). The rule replaced one that cut the context by
``max_length - len(full response)`` (down to 32 tokens), under which a
prefix's context depended on how long its whole response was; ``WINDOW_RULE``
names the rule in every cache key that depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import dialogue_to_messages
from sp_prm_lib.models.chat import has_chat_template, render_chat

CONVENTIONS = ("closed", "open")
#: the window rule of ``RewardFormatter.fit`` (module docstring); part of every cache key that depends on it
WINDOW_RULE = "response-budget-v1"
_SENTINEL = "\u2063SPPRM\u2063"  # invisible separator: never produced by real text


def default_response_budget(max_length: int) -> int:
    """The response budget when none is given: half the window."""
    return max_length // 2


@dataclass(frozen=True)
class Encoded:
    """Token ids of one (prompt, response) pair, already fitted to ``max_length``.

    ``kept`` is the number of response tokens kept; ``length`` the number
    the response has in full. ``empty_closing``: the closing tokens of the empty
    response when they differ from ``closing`` (a text pair: none); None: the same.
    """

    context: list[int]
    response: list[int]
    closing: list[int]
    length: int
    empty_closing: list[int] | None = None

    @property
    def kept(self) -> int:
        return len(self.response)

    def closing_at(self, t: int) -> list[int]:
        """The closing tokens of the prefix of ``t`` (kept) response tokens."""
        return self.empty_closing if t == 0 and self.empty_closing is not None else self.closing


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
    """Renders prompts and responses into token ids for one reward tokenizer.

    ``response_budget``: response tokens the window always has room for (None:
    ``max_length // 2``); the context is cut to the rest (see the module docstring).
    """

    def __init__(
        self,
        tokenizer,
        convention: str = "closed",
        max_length: int = 1024,
        response_budget: int | None = None,
    ):
        if convention not in CONVENTIONS:
            raise ConfigError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
        if max_length < 8:
            raise ConfigError(f"max_length must be >= 8, got {max_length}")
        budget = default_response_budget(max_length) if response_budget is None else response_budget
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ConfigError(f"response_budget must be an int >= 1, got {response_budget!r}")
        self.tokenizer = tokenizer
        self.convention = convention
        self.max_length = max_length
        self.response_budget = budget
        self.uses_chat_template = has_chat_template(tokenizer)
        self._closing = self._closing_ids()
        self._empty_closing = None if self.uses_chat_template else self._text_pair_empty_closing()
        self.context_limit = max_length - len(self.closing) - budget
        if self.context_limit < 1:
            raise ConfigError(
                f"response_budget {budget} leaves no room for the prompt in a window of {max_length} tokens "
                f"({len(self.closing)} closing tokens): it must be at most {max_length - len(self.closing) - 1}"
            )
        specials = set(getattr(tokenizer, "all_special_ids", []) or [])
        # a text pair keeps its leading special tokens ([CLS]) when its context is cut
        self._head = 0 if self.uses_chat_template else self._leading(self._split_at_sentinel("Hello")[0], specials)

    @property
    def window(self) -> dict:
        """The window as a cache key sees it: the rule, ``max_length`` and the response budget."""
        return {"rule": WINDOW_RULE, "max_length": self.max_length, "response_budget": self.response_budget}

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

    def _text_pair_empty_closing(self) -> list[int] | None:
        """What follows the context in the tokenizer's own ``tokenizer(prompt, "")`` when that is
        not the usual closing (None: the usual closing, or the tokenizer does not say)."""
        context, _ = self._text_pair_parts("Hello")
        try:
            ids = list(self.tokenizer("Hello", "", add_special_tokens=True)["input_ids"])
        except (TypeError, ValueError):
            return None
        if ids[: len(context)] != context:
            return None
        rest = ids[len(context) :]
        return None if rest == self._closing else rest

    @staticmethod
    def _leading(ids: list[int], specials: set[int]) -> int:
        n = 0
        while n < len(ids) and ids[n] in specials:
            n += 1
        return n

    def _closing_ids(self) -> list[int]:
        return self._split_at_sentinel("Hello")[1]

    def rendered_context(self, prompt: str) -> list[int]:
        """The prompt rendered up to the start of the response, before the window cuts it."""
        return self._split_at_sentinel(prompt)[0]

    def context_ids(self, prompt: str) -> list[int]:
        """The prompt's context as the reward model reads it: rendered up to the start of the
        response and cut to the window's ``context_limit`` (the same for every response)."""
        return self.cut_context(self.rendered_context(prompt))

    def cut_context(self, context: list[int]) -> list[int]:
        """``context`` cut from the left to ``context_limit`` tokens (leading special tokens of a
        text pair kept)."""
        limit = self.context_limit
        if len(context) <= limit:
            return list(context)
        head = min(self._head, limit - 1, len(context))
        return list(context[:head]) + list(context[len(context) - (limit - head) :])

    @property
    def closing(self) -> list[int]:
        """Closing ids appended in the ``closed`` convention (empty for ``open``)."""
        return list(self._closing) if self.convention == "closed" else []

    @property
    def empty_closing(self) -> list[int] | None:
        """Closing ids of the empty response when they differ from ``closing`` (``closed`` text
        pairs: none, as ``tokenizer(prompt, "")`` renders it); None: the same as ``closing``."""
        if self.convention != "closed" or self._empty_closing is None:
            return None
        return list(self._empty_closing)

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
        contexts: dict[str, list[int]] = {}
        out = []
        for prompt, resp in zip(prompts, self.response_ids(responses), strict=True):
            if prompt not in contexts:
                contexts[prompt] = self.context_ids(prompt)
            out.append(self.fit(contexts[prompt], resp, closing))
        return out

    def fit(self, context: list[int], response: list[int], closing: list[int]) -> Encoded:
        """The window: cut the context (left) to ``context_limit`` whatever the response, then keep
        the response's first tokens that fit beside it (at least ``response_budget``)."""
        context = self.cut_context(context)
        room = self.max_length - len(closing) - len(context)
        empty = self.empty_closing if list(closing) == self.closing else None
        return Encoded(list(context), list(response[: max(room, 0)]), list(closing), len(response), empty)
