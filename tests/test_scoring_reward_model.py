"""RewardModel (``scoring/reward_model.py``): one-pass prefix scoring equals per-prefix scoring;
padding, batching, errors."""

import pytest
import torch

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel, RewardNaNError

PROMPTS = [
    "\n\nHuman: hi there\n\nAssistant:",
    "\n\nHuman: what is 2+2?\n\nAssistant: four\n\nHuman: are you sure?\n\nAssistant:",
    "Plain prompt without dialogue markers",
]
RESPONSES = ["hello, how can I help you today?", "yes, 4.", "ok"]
CAUSAL = ["llama-reward", "gemma-reward"]


def _max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("arch", CAUSAL)
@pytest.mark.parametrize("convention", ["open", "closed"])
def test_one_pass_equals_per_prefix(arch, convention):
    model, tok = tiny_model(arch, seed=3)
    reference = RewardModel(model, tok, convention=convention, strategy="per-prefix")
    fast = RewardModel(model, tok, convention=convention)
    assert fast.one_pass and not reference.one_pass
    expected = reference.score_prefixes(PROMPTS, RESPONSES)
    got = fast.score_prefixes(PROMPTS, RESPONSES)
    assert [len(x) for x in got] == [len(r) + 1 for r in RESPONSES]  # prefixes 0..L (byte tokens)
    assert _max_diff(got, expected) <= 1e-4


@pytest.mark.parametrize("arch", CAUSAL)
@pytest.mark.parametrize("convention", ["open", "closed"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_batch_equals_single_under_either_padding(arch, convention, side):
    model, _ = tiny_model(arch, seed=4)
    rm = RewardModel(model, byte_tokenizer(padding_side=side), convention=convention, batch_size=3)
    assert rm.padding_side == side
    batch = rm.score_prefixes(PROMPTS, RESPONSES)
    single = [rm.score_prefixes([p], [r])[0] for p, r in zip(PROMPTS, RESPONSES)]
    assert _max_diff(batch, single) <= 1e-5


@pytest.mark.parametrize("arch", CAUSAL)
@pytest.mark.parametrize("convention", ["open", "closed"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_texts_that_nest_are_scored_as_if_each_ran_alone(arch, convention, side):
    # the prefix texts of each response (as a judge is asked about them), duplicates, an empty
    # text, texts that share a start but do not nest, and another prompt's identical text:
    # each must get the score it gets when it is the only input (the per-prefix reference)
    model, _ = tiny_model(arch, seed=8)
    tok = byte_tokenizer(padding_side=side)
    fast = RewardModel(model, tok, convention=convention, batch_size=4)
    slow = RewardModel(model, tok, convention=convention, strategy="per-prefix", batch_size=4)
    prompts, texts = [], []
    for p, r in zip(PROMPTS, RESPONSES, strict=True):
        for cut in (0, 1, 3, len(r) // 2, len(r), len(r)):
            prompts.append(p)
            texts.append(r[:cut])
    prompts += [PROMPTS[0], PROMPTS[0], PROMPTS[1]]
    texts += ["hello, who are you?", "hello, how can I help you today?!", "ok"]
    got = fast.score(prompts, texts)
    alone = torch.stack([slow.score([p], [t])[0] for p, t in zip(prompts, texts, strict=True)])
    assert got.shape == (len(texts),)
    assert (got - alone).abs().max().item() <= 1e-4
    # identical inputs are read from one place: exactly equal
    assert got[4] == got[5]


def test_nesting_shares_rows_only_between_inputs_that_nest():
    from sp_prm_lib.scoring.inputs import Encoded
    from sp_prm_lib.scoring.reward_model import nest_inputs

    enc = [
        Encoded([1, 2], [5, 6], [9], 2),  # a prefix of the next one
        Encoded([1, 2], [5, 6, 7], [9], 3),
        Encoded([1, 3], [5, 6], [9], 2),  # another context: its own row
        Encoded([1, 2], [5, 8], [9], 2),  # shares 5 but does not nest
        Encoded([1, 2], [5, 6, 7], [9], 3),  # the same as input 1
        Encoded([1, 2], [], [9], 0),  # the empty response nests in every row of its context
        Encoded([1, 2], [5, 6], [4], 2),  # another closing: its own row
    ]
    carriers, reads, where = nest_inputs(enc)
    assert sorted(carriers) == [1, 2, 3, 6]
    for i, (slot, j) in enumerate(where):
        carrier = enc[carriers[slot]]
        t = reads[slot][j]
        assert t == enc[i].kept
        assert carrier.context == enc[i].context and carrier.closing == enc[i].closing
        assert carrier.response[:t] == enc[i].response
    assert where[1] == where[4]
    assert nest_inputs([]) == ([], [], [])


@pytest.mark.parametrize("arch", CAUSAL + ["deberta-v2-reward"])
def test_full_score_is_the_last_prefix_score(arch):
    model, tok = tiny_model(arch, seed=5)
    rm = RewardModel(model, tok, convention="closed")
    full = rm.score(PROMPTS, RESPONSES)
    prefixes = rm.score_prefixes(PROMPTS, RESPONSES)
    assert torch.allclose(full, torch.stack([p[-1] for p in prefixes]), atol=1e-5)


def test_conventions_differ_and_closed_matches_chat_template_rendering():
    model, tok = tiny_model("llama-reward", seed=6)
    closed = RewardModel(model, tok, convention="closed")
    opened = RewardModel(model, tok, convention="open")
    assert not torch.allclose(closed.score(PROMPTS, RESPONSES), opened.score(PROMPTS, RESPONSES))
    enc = closed.formatter.encode(PROMPTS[:1], RESPONSES[:1])[0]
    text = tok.decode(enc.context + enc.response + enc.closing)
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": RESPONSES[0]}], tokenize=False
    )
    assert text == rendered


def test_selected_prefix_lengths_and_text_interface_agree():
    model, tok = tiny_model("gemma-reward", seed=7)
    rm = RewardModel(model, tok, convention="open")
    picked = rm.score_prefixes(PROMPTS[:1], RESPONSES[:1], [[3, 10]])[0]
    as_text = rm.score(PROMPTS[:1] * 2, [RESPONSES[0][:3], RESPONSES[0][:10]])  # byte tokens = characters
    assert torch.allclose(picked, as_text, atol=1e-5)


def test_cross_tokenizer_scoring_is_text_in():
    """The policy's tokenizer never reaches the RM: it re-tokenizes the text."""
    model, tok = tiny_model("llama-reward", seed=8)
    rm = RewardModel(model, tok)
    text = "ünïcödé ✓ 漢字 mixed text"
    assert rm.response_lengths([text]) == [len(text.encode())]
    assert torch.isfinite(rm.score(PROMPTS[:1], [text])).all()


def test_bidirectional_model_refuses_one_pass():
    model, tok = tiny_model("deberta-v2-reward")
    with pytest.raises(ConfigError, match="one-pass"):
        RewardModel(model, tok, strategy="one-pass")


def test_missing_pad_token_is_set_not_an_error():
    model, tok = tiny_model("llama-reward")
    tok.pad_token = None
    rm = RewardModel(model, tok)
    assert tok.pad_token == tok.eos_token and model.config.pad_token_id == tok.pad_token_id
    assert rm.score(PROMPTS, RESPONSES).shape == (3,)


def test_prefix_length_beyond_response_is_an_error():
    model, tok = tiny_model("llama-reward")
    rm = RewardModel(model, tok)
    with pytest.raises(ConfigError, match="prefix length 99 is beyond the response's 2 tokens"):
        rm.score_prefixes(["p"], ["ok"], [[1, 99]])
    with pytest.raises(ConfigError, match="non-negative"):
        rm.score_prefixes(["p"], ["ok"], [[-1]])


def test_mismatched_prompts_and_responses():
    model, tok = tiny_model("llama-reward")
    with pytest.raises(ConfigError, match="2 prompts but 1 responses"):
        RewardModel(model, tok).score(["a", "b"], ["x"])


def test_responses_longer_than_max_length_are_truncated_by_the_stated_rule():
    model, tok = tiny_model("llama-reward", seed=9)
    rm = RewardModel(model, tok, convention="closed", max_length=64)
    long_prompt = "\n\nHuman: " + "context " * 40 + "\n\nAssistant:"
    long_response = "word " * 40  # 200 byte tokens
    enc = rm.formatter.encode([long_prompt], [long_response])[0]
    assert len(enc.context) + enc.kept + len(enc.closing) == 64
    # the context keeps max_length - closing - response_budget tokens (its last ones), the response the rest
    f = rm.formatter
    assert f.response_budget == 32 and len(enc.context) == 64 - len(enc.closing) - 32 and enc.length == 200
    assert enc.context == f.rendered_context(long_prompt)[-len(enc.context) :] and enc.kept == 32
    scores = rm.score_prefixes([long_prompt], [long_response], [[enc.kept, 150, 200]])[0]
    assert torch.allclose(scores, scores[:1].expand(3))  # beyond the kept part: the kept response's score
    assert torch.allclose(rm.score([long_prompt], [long_response]), scores[:1])


def test_nan_scores_are_a_clear_error():
    model, tok = tiny_model("llama-reward")
    with torch.no_grad():
        model.score.weight.fill_(float("nan"))
    with pytest.raises(RewardNaNError, match="non-finite score for response 0"):
        RewardModel(model, tok).score(PROMPTS, RESPONSES)


def test_bad_arguments():
    model, tok = tiny_model("llama-reward")
    with pytest.raises(ConfigError, match="convention"):
        RewardModel(model, tok, convention="half-open")
    with pytest.raises(ConfigError, match="strategy"):
        RewardModel(model, tok, strategy="fast")
    with pytest.raises(ConfigError, match="batch_size"):
        RewardModel(model, tok, batch_size=0)


# --- issue #12 ---------------------------------------------------------------
def _deberta(padding_side="right", seed=11):
    from sp_prm_lib.models.tiny import deberta_tokenizer

    model, tok = tiny_model("deberta-v2-reward", deberta_tokenizer(padding_side=padding_side), seed=seed)
    return model, tok


def test_text_pair_rm_without_chat_template_is_rendered_by_its_tokenizer():
    """The paper's TL;DR RM is a DeBERTa without a chat template: [CLS] prompt [SEP] response [SEP]."""
    model, tok = _deberta()
    assert tok.chat_template is None
    rm = RewardModel(model, tok, convention="closed")
    for prompt, response in zip(PROMPTS, RESPONSES):
        enc = rm.formatter.encode([prompt], [response])[0]
        assert enc.context + enc.response + enc.closing == tok(prompt, response).input_ids
        assert enc.context[0] == tok.cls_token_id and enc.closing == [tok.sep_token_id]
    full = rm.score(PROMPTS, RESPONSES)
    prefixes = rm.score_prefixes(PROMPTS, RESPONSES)
    assert torch.isfinite(full).all()
    assert torch.allclose(full, torch.stack([p[-1] for p in prefixes]), atol=1e-5)
    direct = model(**tok(PROMPTS[0], RESPONSES[0], return_tensors="pt")).logits[0, 0]
    assert full[0].item() == pytest.approx(direct.item(), abs=1e-5)


def test_bidirectional_rm_is_padded_on_the_right():
    """Its pooler reads position 0: under left padding that is a pad token."""
    byte_model, _ = tiny_model("deberta-v2-reward", seed=2)
    byte_rm = RewardModel(byte_model, byte_tokenizer(padding_side="left"), batch_size=3)
    full = byte_rm.score(PROMPTS, RESPONSES)
    assert torch.allclose(full, torch.cat([byte_rm.score([p], [r]) for p, r in zip(PROMPTS, RESPONSES)]), atol=1e-5)
    assert byte_rm.padding_side == "right"
    model, tok = _deberta(padding_side="left")
    rm = RewardModel(model, tok, batch_size=3)
    assert rm.padding_side == "right"
    batch = rm.score_prefixes(PROMPTS, RESPONSES, [[1, 2], [3, 7], [2]])
    single = [rm.score_prefixes([p], [r], [ts])[0] for p, r, ts in zip(PROMPTS, RESPONSES, [[1, 2], [3, 7], [2]])]
    assert _max_diff(batch, single) <= 1e-5
    with pytest.raises(ConfigError, match="must be padded on the right"):
        RewardModel(model, tok, padding_side="left")


def test_identical_prefixes_are_the_same_token_sequence():
    model, tok = tiny_model("llama-reward", seed=1)
    rm = RewardModel(model, tok, convention="closed")
    prompts = ["p", "p", "q"]
    chosen, rejected = ["abcdef", "same", "x"], ["abcxyz", "same", "xy"]
    out = rm.identical_prefixes(prompts, chosen, rejected, [[1, 3, 4, None], [1, 2, 4, None], [1, 2, 3, None]])
    assert out.dtype == bool and out.shape == (3, 4)
    assert out.tolist() == [[True, True, False, False], [True, True, True, True], [True, False, False, False]]
    pairs = rm.identical_prefixes(prompts[:1], chosen[:1], rejected[:1], [[(3, 3), (3, 2), (0, 0)]])
    assert pairs.tolist() == [[True, False, True]]
    # beyond max_length the kept parts are what is scored: same kept tokens -> identical
    short = RewardModel(model, tok, convention="closed", max_length=48)
    long_w, long_l = "w" * 100 + "tail one", "w" * 100 + "other tail"
    assert short.identical_prefixes(["p"], [long_w], [long_l], [[None, 50]]).tolist() == [[True, True]]
    assert not rm.identical_prefixes(["p"], [long_w], [long_l], [[None]]).any()
    with pytest.raises(ConfigError, match="same number of lengths"):
        rm.identical_prefixes(prompts[:2], chosen[:2], rejected[:2], [[1], [1, 2]])
    with pytest.raises(ConfigError, match=r"pair 0: chosen prefix length 9 is not in 0..6"):
        rm.identical_prefixes(prompts[:1], chosen[:1], rejected[:1], [[(9, 1)]])


def test_identical_prefixes_score_within_noise_of_each_other():
    """Why they are ties: the one-pass packing scores them apart by rounding only."""
    model, tok = tiny_model("gemma-reward", seed=3)
    rm = RewardModel(model, tok, convention="closed")
    chosen, rejected = "shared start, then good", "shared start, then bad"
    same = rm.identical_prefixes(["p"], [chosen], [rejected], [list(range(1, 21))])[0]
    assert same[: len("shared start, then ")].all() and not same[-1]
    a = rm.score_prefixes(["p"], [chosen], [list(range(1, 15))])[0]
    b = rm.score_prefixes(["p"], [rejected], [list(range(1, 15))])[0]
    assert (a - b).abs().max().item() < 1e-4


@pytest.mark.parametrize("strategy", ["one-pass", "per-prefix"])
def test_long_scoring_shows_a_terminal_bar_and_short_scoring_none(monkeypatch, strategy):
    import io
    import sys

    from sp_prm_lib.scoring import reward_model as module

    model, tok = tiny_model("llama-reward", seed=3)
    rm = RewardModel(model, tok, convention="closed", batch_size=1, name="models/my-rm", strategy=strategy)
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", terminal)
    monkeypatch.delenv("SP_PRM_PROGRESS", raising=False)
    rm.score(PROMPTS, RESPONSES)  # 3 batches: too short for a bar
    assert terminal.getvalue() == ""
    n = module.SHOWN_BATCHES
    texts = [f"{i}: {RESPONSES[0]}" for i in range(n)]  # n inputs that do not nest: n batches
    got = rm.score(PROMPTS[:1] * n, texts)
    assert "scoring (my-rm)" in terminal.getvalue()
    alone = torch.cat([rm.score(PROMPTS[:1], [t]) for t in texts])
    assert torch.allclose(got, alone, atol=1e-5)
