"""Judge backend: a local Hugging Face causal LM, read through log-probabilities.

The template's conversation is rendered with the model's chat template, the
assistant turn is opened with ``{"Verdict":`` and every allowed verdict
("1", "2", "-1"; or "1", "0") is scored as a continuation: the sum of its
tokens' log-probabilities. The verdict is the most probable candidate; no
sampling, so runs are deterministic. Departure from the template (stated in
the book): the model gives its verdict first, without the explanation the
template asks for.

All prompts of a batch share one forward pass (left padding); candidates of
several tokens ("-1") continue from the prompt's KV cache, which is then
cropped back, so a batch costs one prompt pass plus a few tokens.
"""

from __future__ import annotations

import torch

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.judge.base import TemplateJudge, Verdict
from sp_prm_lib.models.chat import has_chat_template, render_chat

ANSWER_PREFIX = '{"Verdict":'


def _render(tokenizer, messages: list[dict[str, str]]) -> str:
    if not has_chat_template(tokenizer):
        raise ConfigError(f"tokenizer {tokenizer.name_or_path!r} has no chat template: the local-lm judge needs one")
    return render_chat(tokenizer, messages)


class LocalLMJudge(TemplateJudge):
    """Verdicts from a causal LM's next-token log-probabilities."""

    def __init__(self, model, tokenizer, *, batch_size: int = 4, name: str | None = None):
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.name = name or f"local-lm:{getattr(model, 'name_or_path', '') or type(model).__name__}"

    @classmethod
    def from_spec(cls, spec, **kwargs) -> LocalLMJudge:
        """Load the causal LM of a ``ModelSpec`` (e.g. the packaged SmolLM2-135M-Instruct)."""
        from sp_prm_lib.models.loading import load_policy

        model, tokenizer = load_policy(spec)
        kwargs.setdefault("name", f"local-lm:{spec.id}")
        return cls(model, tokenizer, **kwargs)

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the rendered conversation plus the opened verdict."""
        text = _render(self.tokenizer, messages) + ANSWER_PREFIX
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def candidate_ids(self, allowed: tuple[int, ...]) -> list[list[int]]:
        ids = [self.tokenizer(str(v), add_special_tokens=False).input_ids for v in allowed]
        if any(not c for c in ids):
            raise ConfigError(f"the tokenizer gives no token for a verdict among {allowed}")
        return ids

    @torch.inference_mode()
    def candidate_logprobs(self, prompts: list[list[int]], candidates: list[list[int]]) -> torch.Tensor:
        """(len(prompts), len(candidates)) log-probabilities of each candidate after each prompt."""
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p) :] = torch.tensor(p)
            mask[row, width - len(p) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        multi = any(len(c) > 1 for c in candidates)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=multi)
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        scores = first[:, [c[0] for c in candidates]].clone()
        for j, cand in enumerate(candidates):
            if len(cand) == 1:
                continue
            feed = torch.tensor(cand[:-1], device=device).expand(len(prompts), -1)
            cont_mask = torch.cat([mask, torch.ones_like(feed)], dim=1)
            cont_pos = mask.sum(-1, keepdim=True) + torch.arange(feed.shape[1], device=device)
            cont = self.model(
                input_ids=feed,
                attention_mask=cont_mask,
                position_ids=cont_pos,
                past_key_values=out.past_key_values,
                use_cache=True,
            )
            logp = torch.log_softmax(cont.logits.float(), dim=-1)
            nxt = torch.tensor(cand[1:], device=device)
            scores[:, j] += logp[:, torch.arange(len(nxt)), nxt].sum(-1)
            out.past_key_values.crop(-feed.shape[1])  # back to the prompt for the next candidate
        return scores.cpu()

    def answer(self, conversations: list[list[dict[str, str]]], allowed: tuple[int, ...]) -> list[Verdict]:
        if not conversations:
            return []
        candidates = self.candidate_ids(allowed)
        prompts = [self.prompt_ids(m) for m in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # less padding
        verdicts: list[Verdict | None] = [None] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            scores = self.candidate_logprobs([prompts[i] for i in chunk], candidates)
            for row, i in enumerate(chunk):
                best = int(scores[row].argmax())
                verdicts[i] = Verdict(
                    allowed[best],
                    f"{ANSWER_PREFIX}{allowed[best]}",
                    {v: float(s) for v, s in zip(allowed, scores[row])},
                )
        return verdicts
