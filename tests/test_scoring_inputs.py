"""The window of ``scoring/inputs.py``: a prefix's score depends only on the prompt and the
prefix itself, never on the unseen rest of its response; and the text-pair empty response.

Checked on the tiny models the other scoring tests use: a causal Llama RM on the byte
tokenizer (one-pass prefix scoring) and a DeBERTa-v2 RM on a text-pair tokenizer (scored
prefix by prefix), both conventions, windows small enough that long prompts are cut.
"""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.models.tiny import deberta_tokenizer, tiny_model
from sp_prm_lib.scoring.inputs import WINDOW_RULE, RewardFormatter
from sp_prm_lib.scoring.reward_model import RewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WINDOW = 48
KINDS = ("causal", "text-pair")
CONVENTIONS = ("closed", "open")
# ASCII only: the tiny DeBERTa vocabulary holds printable ASCII and a few whole words
ALPHABET = "abcdefghinorstu .,?!\n"
texts = functools.partial(st.text, alphabet=ALPHABET)
words = st.sampled_from(["the ", "good ", "bad ", "answer ", "you ", "help "])


@functools.cache
def reward_model(kind: str, convention: str, max_length: int = WINDOW) -> RewardModel:
    if kind == "causal":
        model, tok = tiny_model("llama-reward", seed=3)
    else:
        model, tok = tiny_model("deberta-v2-reward", deberta_tokenizer(), seed=3)
    return RewardModel(model, tok, convention=convention, max_length=max_length)


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def dialogue(turns: list[tuple[str, str]], last: str) -> str:
    return "".join(f"\n\nHuman: {q}\n\nAssistant: {a}" for q, a in turns) + f"\n\nHuman: {last}\n\nAssistant:"


prompts = st.builds(
    dialogue,
    st.lists(st.tuples(texts(min_size=1, max_size=50), texts(min_size=1, max_size=30)), max_size=3),
    texts(min_size=1, max_size=60),
)
responses = st.builds(lambda ws, tail: "".join(ws) + tail, st.lists(words, max_size=8), texts(max_size=30))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("convention", CONVENTIONS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=prompts, shared=responses, tail_a=responses, tail_b=responses, data=st.data())
def test_identical_prefixes_get_identical_scores_whatever_follows(
    kind, convention, prompt, shared, tail_a, tail_b, data
):
    """Two responses sharing their first tokens: every shared prefix length gets the same score on
    both sides of the pair (chosen and rejected, scored together or each alone), and the two sides
    are the same token sequence there, however long the rest of each response is."""
    rm = reward_model(kind, convention)
    a, b = shared + tail_a, shared + " " + tail_b + tail_a  # rests of different lengths
    ids_a, ids_b = rm.response_ids([a, b])
    n = common_prefix(ids_a, ids_b)
    ts = sorted({0, n, data.draw(st.integers(0, n), label="t")})
    together = rm.score_prefixes([prompt, prompt], [a, b], [ts, ts])
    alone_a = rm.score_prefixes([prompt], [a], [ts])[0]
    alone_b = rm.score_prefixes([prompt], [b], [ts])[0]
    for got in (together[1], alone_a, alone_b):
        assert torch.allclose(together[0], got, atol=1e-5), (ts, together[0], got)
    same = rm.identical_prefixes([prompt], [a], [b], [[(t, t) for t in ts]])[0]
    assert same.all()
    # the two sides see one context: the prompt's, cut by the window whatever the response
    enc_a, enc_b = rm.formatter.encode([prompt, prompt], [a, b])
    assert enc_a.context == enc_b.context == rm.formatter.context_ids(prompt)


@pytest.mark.parametrize("convention", CONVENTIONS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=prompts, response=responses, data=st.data())
def test_one_pass_prefix_scores_equal_scoring_each_prefix_text_alone(convention, prompt, response, data):
    """The naive reference: score the text of each prefix as if it were the whole response. Under
    the window rule this equals the one-pass score of that prefix inside the whole response (past
    the kept tokens: the kept response's score), and the per-prefix packing gives the same."""
    rm = reward_model("causal", convention)
    per_prefix = RewardModel(rm.model, rm.tokenizer, convention=convention, max_length=WINDOW, strategy="per-prefix")
    length = len(response.encode())  # byte tokens
    ts = sorted(set(data.draw(st.lists(st.integers(0, length), min_size=1, max_size=5), label="ts")))
    if convention == "open" and not rm.formatter.context_ids(prompt):
        ts = [t for t in ts if t] or [length]
    one_pass = rm.score_prefixes([prompt], [response], [ts])[0]
    naive = rm.score([prompt] * len(ts), [response[:t] for t in ts])
    assert torch.allclose(one_pass, naive, atol=1e-5)
    assert torch.allclose(per_prefix.score_prefixes([prompt], [response], [ts])[0], naive, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_the_window_cuts_the_context_by_the_prompt_only(kind, convention):
    rm = reward_model(kind, convention)
    f = rm.formatter
    prompt = "\n\nHuman: " + "tell me about the good answer you help with, " * 6 + "\n\nAssistant:"
    short, long = "the answer", "the answer is good, " * 10
    enc_s, enc_l = f.encode([prompt, prompt], [short, long])
    assert f.response_budget == WINDOW // 2 and f.context_limit == WINDOW - len(f.closing) - WINDOW // 2
    assert enc_s.context == enc_l.context and len(enc_s.context) == f.context_limit
    assert enc_l.kept == WINDOW - len(f.closing) - f.context_limit < enc_l.length
    assert len(enc_l.context) + enc_l.kept + len(enc_l.closing) == WINDOW
    rendered = f.rendered_context(prompt)
    if kind == "text-pair":  # [CLS] stays, then the last tokens of the prompt and its [SEP]
        tok = rm.tokenizer
        assert enc_s.context[0] == rendered[0] == tok.cls_token_id and enc_s.context[-1] == tok.sep_token_id
        assert enc_s.context[1:] == rendered[len(rendered) - f.context_limit + 1 :]
    else:
        assert enc_s.context == rendered[-f.context_limit :]
    # a short prompt is not cut, and its responses get the room it leaves (more than the budget)
    enc = f.encode(["Hi"], [long])[0]
    assert enc.context == f.rendered_context("Hi") and enc.kept == WINDOW - len(f.closing) - len(enc.context)
    assert enc.kept > f.response_budget
    assert f.window == {"rule": WINDOW_RULE, "max_length": WINDOW, "response_budget": WINDOW // 2}


def test_response_budget_is_checked_and_sets_the_context_limit():
    _, tok = tiny_model("llama-reward", seed=3)
    f = RewardFormatter(tok, "closed", max_length=64, response_budget=10)
    assert f.context_limit == 64 - len(f.closing) - 10
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="response_budget must be an int >= 1"):
            RewardFormatter(tok, "closed", max_length=64, response_budget=bad)
    with pytest.raises(ConfigError, match="leaves no room for the prompt in a window of 64 tokens"):
        RewardFormatter(tok, "closed", max_length=64, response_budget=64 - len(f.closing))


# -- the text-pair empty response (issue 24) ----------------------------------------------
def test_a_text_pair_empty_response_is_rendered_as_the_tokenizer_renders_it():
    """``tokenizer(x, "")`` is ``[CLS] x [SEP]``: no second segment and no second ``[SEP]``."""
    rm = reward_model("text-pair", "closed", 512)
    tok, model = rm.tokenizer, rm.model
    prompts = ["the answer is good", "\n\nHuman: you help?\n\nAssistant:"]
    for prompt in prompts:
        enc = rm.formatter.encode([prompt], [""])[0]
        assert enc.context + enc.response + enc.closing_at(0) == tok(prompt, "").input_ids
        assert enc.context + enc.response + enc.closing_at(1) != tok(prompt, "").input_ids  # the closing [SEP]
        with torch.no_grad():
            direct = model(**tok(prompt, "", return_tensors="pt")).logits[0, 0].item()
        assert rm.score([prompt], [""])[0].item() == pytest.approx(direct, abs=1e-5)
        assert rm.score_prefixes([prompt], ["good answer"], [[0]])[0][0].item() == pytest.approx(direct, abs=1e-5)
    # a non-empty response keeps the closing [SEP]; the empty prefixes of two responses are one sequence
    assert rm.identical_prefixes(prompts[:1], ["good"], ["bad"], [[(0, 0), (1, 1)]]).tolist() == [[True, False]]
    # the open convention reads the empty response at the context's [SEP] already: no closing to drop
    assert reward_model("text-pair", "open", 512).formatter.empty_closing is None


def test_chat_templates_close_an_empty_response_like_any_other():
    rm = reward_model("causal", "closed", 512)
    assert rm.formatter.empty_closing is None
    enc = rm.formatter.encode(["Hi"], [""])[0]
    text = rm.tokenizer.decode(enc.context + enc.closing_at(0))
    rendered = rm.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}], tokenize=False
    )
    assert text == rendered


def test_context_and_response_are_tokenized_apart_as_documented():
    """The closed convention's ids are context + tokenizer(response) + closing, each tokenized on its own."""
    rm = reward_model("causal", "closed", 512)
    f = rm.formatter
    for response in ["\n\nstarts with new lines", "plain"]:
        enc = f.encode(["Hi"], [response])[0]
        assert enc.response == rm.tokenizer(response, add_special_tokens=False).input_ids
        assert enc.context == f.rendered_context("Hi") and enc.closing == f.closing


# -- the decoders' RM cache under the window --------------------------------------------
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_the_decoders_rm_cache_scores_as_the_window_does(float64_decoding_models, convention):
    """A prompt longer than the window's context limit: the RM-cache session (policy tokens) holds
    the cut context, and its candidate rewards equal scoring the decoded texts directly."""
    from sp_prm_lib.decoding import RewardScorer
    from sp_prm_lib.decoding.scorers import candidate_scorer

    policy, rm_model, tok = float64_decoding_models
    rm = RewardModel(rm_model, tok, convention=convention, max_length=64)
    long = "\n\nHuman: " + "a long question about many things, " * 4 + "\n\nAssistant:"
    prompts = [long, "\n\nHuman: hi\n\nAssistant:"]
    assert len(rm.formatter.rendered_context(prompts[0])) > rm.formatter.context_limit
    cached = candidate_scorer(RewardScorer(rm), policy, prompts, 10)
    assert cached.kind == "rm-cache"
    ids = tok("good answer", add_special_tokens=False).input_ids
    blocks = torch.tensor([[ids[:3], ids[3:6]], [ids[:2] + [0], [0, 0, 0]]])
    lengths = torch.tensor([[3, 3], [2, 0]])
    cached.advance([0, 1], torch.tensor([ids[6:8], ids[6:8]]))
    got = cached.score([ids[6:8], ids[6:8]], blocks, lengths)
    texts = [tok.decode(ids[6:8] + blocks[r, j, : int(lengths[r, j])].tolist()) for r in range(2) for j in range(2)]
    want = rm.score([prompts[0]] * 2 + [prompts[1]] * 2, texts).reshape(2, 2)
    assert torch.allclose(got.to(want.dtype), want, atol=1e-6)
