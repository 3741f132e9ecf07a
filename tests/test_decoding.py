"""Decoders on tiny random models: fast paths equal naive loops, call counts, stopping, errors."""

from __future__ import annotations

import math

import pytest
import torch

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.decoding import (
    METHODS,
    ArgsConfig,
    BeamConfig,
    BoNConfig,
    CardsConfig,
    FunctionScorer,
    GreedyConfig,
    Policy,
    RewardScorer,
    SampleConfig,
    TBSConfig,
    args_greedy,
    beam_search,
    best_of_n,
    cards,
    decode,
    greedy,
    make_config,
    sample,
    tbs,
)
from sp_prm_lib.decoding.naive import naive_args, naive_beam_search, naive_cards, rescore
from sp_prm_lib.decoding.scorers import RMSession
from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel, RewardNaNError

PROMPTS = [
    "\n\nHuman: hi\n\nAssistant:",
    "\n\nHuman: a much longer question, about several things at once?\n\nAssistant: ok\n\nHuman: go on\n\nAssistant:",
    "\n\nHuman: why?\n\nAssistant:",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models():
    tok = byte_tokenizer()
    policy_model, _ = tiny_model("llama-causal-lm", tok, seed=1)
    rm_model, _ = tiny_model("llama-reward", tok, seed=2)
    return Policy(policy_model, tok), rm_model, tok


def reward_model(models, convention):
    _, rm_model, tok = models
    return RewardModel(rm_model, tok, convention=convention)


SMALL = dict(max_new_tokens=8)


# -- fast paths equal the naive loops ------------------------------------------------
@pytest.mark.parametrize("convention", ["closed", "open"])
def test_args_cached_equals_naive_loop(models, convention):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, convention))
    cfg = ArgsConfig(k=8, w=1.5, max_new_tokens=16)
    fast = args_greedy(policy, scorer, PROMPTS, cfg)
    ref = naive_args(policy, scorer, PROMPTS, cfg, rescore_mode="tokens")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(math.isclose(a.reward, b.reward, abs_tol=1e-5) for a, b in zip(fast, ref))


def test_args_text_path_equals_naive_text_loop(models):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, "closed"), kv_cache=False)
    cfg = ArgsConfig(k=4, **SMALL)
    fast = args_greedy(policy, scorer, PROMPTS[:2], cfg)
    ref = naive_args(policy, scorer, PROMPTS[:2], cfg, rescore_mode="text", policy_cache=True)
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]


@pytest.mark.parametrize(
    "convention,cfg",
    [
        ("closed", BeamConfig(width=2, successors=3, chunk_length=3, max_new_tokens=10)),
        ("open", BeamConfig(width=3, successors=2, chunk_length=4, max_new_tokens=10, top_k=0, temperature=0.8)),
        ("closed", TBSConfig(width=2, successors=3, max_new_tokens=8)),
        ("open", BoNConfig(n=4, max_new_tokens=8)),
    ],
)
def test_beam_driver_equals_naive_loop(models, convention, cfg):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, convention))
    fast = beam_search(policy, scorer, PROMPTS, cfg.beam())
    ref = naive_beam_search(policy, scorer, PROMPTS, cfg, rescore_mode="tokens")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert [g.finish for g in fast] == [g.finish for g in ref]
    assert all(math.isclose(a.reward, b.reward, abs_tol=1e-5) for a, b in zip(fast, ref))


def test_beam_driver_text_path_equals_naive_text_loop(models):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, "closed"), kv_cache=False)
    cfg = BeamConfig(width=2, successors=2, chunk_length=2, max_new_tokens=5)
    fast = beam_search(policy, scorer, PROMPTS[:2], cfg)
    ref = naive_beam_search(policy, scorer, PROMPTS[:2], cfg, rescore_mode="text")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]


@pytest.mark.parametrize("convention,threshold", [("closed", "schedule"), ("open", "prefix")])
def test_cards_equals_naive_loop_with_rejections_and_forced_accepts(models, convention, threshold):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, convention))
    cfg = CardsConfig(
        max_new_tokens=16,
        tau_u=5.0,
        max_segment=6,
        reward_threshold=0.05,
        beta=0.01,
        max_rejections=2,
        threshold=threshold,
    )
    fast = cards(policy, scorer, PROMPTS, cfg)
    ref = naive_cards(policy, scorer, PROMPTS, cfg, rescore_mode="tokens")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert [g.stats for g in fast] == [g.stats for g in ref]
    assert sum(g.stats["rejected"] for g in fast) > 0  # the rejection path ran


def test_cards_forced_accept_of_an_earlier_candidate(models):
    """Everything is rejected (hard threshold out of reach): every segment is forced."""
    policy = models[0]
    scorer = RewardScorer(reward_model(models, "open"))
    cfg = CardsConfig(
        max_new_tokens=12, tau_u=5.0, max_segment=4, reward_threshold=100.0, acceptance="hard", max_rejections=2
    )
    fast = cards(policy, scorer, PROMPTS[:2], cfg)
    ref = naive_cards(policy, scorer, PROMPTS[:2], cfg, rescore_mode="tokens")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(g.stats["forced"] >= 1 and g.stats["rejected"] == 2 * g.stats["forced"] for g in fast)
    for g in fast:  # the reward reported is the reward of the response it returns
        again = rescore(scorer, policy, g.prompt, [g.token_ids], "tokens")[0]
        assert math.isclose(g.reward, float(again), abs_tol=1e-5)


def test_greedy_equals_transformers_generate(models):
    policy = models[0]
    out = greedy(policy, None, PROMPTS[:2], GreedyConfig(max_new_tokens=6))
    for g, prompt in zip(out, PROMPTS[:2]):
        ids = torch.tensor([policy.prompt_ids(prompt)])
        ref = policy.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=policy.pad_id,
        )
        assert g.token_ids == ref[0, ids.shape[1] :].tolist()
        assert g.reward is None


def test_rm_session_matches_reward_model_scores(models):
    """Cached scoring (with reordering and holes) equals RewardModel scoring of the same tokens."""
    policy = models[0]
    for convention in ("closed", "open"):
        rm = reward_model(models, convention)
        scorer = RewardScorer(rm)
        session = scorer.token_session(policy, PROMPTS[:2], 10)
        assert isinstance(session, RMSession)
        session.advance([1, 0, 0], torch.tensor([[70, 71, 72], [80, 81, 0], [90, 91, 92]]), torch.tensor([3, 2, 3]))
        blocks = torch.tensor([[[5, 6], [7, 0]], [[8, 9], [0, 0]], [[10, 11], [12, 13]]])
        lengths = torch.tensor([[2, 1], [2, 0], [1, 2]])
        got = session.score(blocks, lengths)
        prefixes = [[70, 71, 72], [80, 81], [90, 91, 92]]
        owners = [1, 0, 0]
        for r in range(3):
            rows = [prefixes[r] + blocks[r, j, : int(lengths[r, j])].tolist() for j in range(2)]
            want = rescore(scorer, policy, PROMPTS[owners[r]], rows, "tokens")
            assert torch.allclose(got[r], want, atol=1e-5), (convention, r)


# -- presets, counts, determinism ------------------------------------------------------
def test_cbs_with_chunk_length_one_equals_tbs(models):
    policy = models[0]
    rm = reward_model(models, "closed")
    a = beam_search(policy, rm, PROMPTS, BeamConfig(width=2, successors=3, chunk_length=1, max_new_tokens=5))
    b = tbs(policy, rm, PROMPTS, TBSConfig(width=2, successors=3, max_new_tokens=5))
    assert [g.token_ids for g in a] == [g.token_ids for g in b]


class Recording:
    """A text scorer that records what it was asked to score."""

    def __init__(self, inner):
        self.inner, self.name, self.stats = inner, "recording", inner.stats
        self.seen = []

    def score_texts(self, prompts, responses):
        self.seen.append((list(prompts), list(responses)))
        return self.inner.score_texts(prompts, responses)


def test_bon_is_best_of_the_same_n_samples_scored_once(models):
    policy = models[0]
    rm = reward_model(models, "closed")
    scorer = Recording(RewardScorer(rm, kv_cache=False))
    cfg = BoNConfig(n=5, max_new_tokens=6)
    out = best_of_n(policy, scorer, PROMPTS, cfg)
    assert scorer.stats.calls == 1 and scorer.stats.scored == 5 * len(PROMPTS)
    prompts, texts = scorer.seen[0]
    rewards = rm.score(prompts, texts)
    for b, g in enumerate(out):
        mine = rewards[5 * b : 5 * b + 5]
        assert g.response == texts[5 * b + int(mine.argmax())]
        assert math.isclose(g.reward, float(mine.max()), abs_tol=1e-5)
    # the N candidates are the N samples of the naive sampler with the same seed
    naive = Recording(RewardScorer(rm, kv_cache=False))
    naive_beam_search(policy, naive, PROMPTS, cfg, rescore_mode="text")
    assert [t for _, ts in naive.seen for t in ts] == texts
    # the cached path also scores the N candidates once, in one call
    cached = RewardScorer(rm)
    best_of_n(policy, cached, PROMPTS, cfg)
    assert cached.stats.calls == 1 and cached.stats.scored == 5 * len(PROMPTS)


def test_scorer_call_counts(models):
    policy = models[0]
    rm = reward_model(models, "closed")
    for kv in (True, False):
        s = RewardScorer(rm, kv_cache=kv)
        out = args_greedy(policy, s, PROMPTS, ArgsConfig(k=4, max_new_tokens=5))
        steps = max(g.tokens + (g.finish == "eos") for g in out)
        assert s.stats.calls == steps
        assert s.stats.scored == 4 * sum(min(g.tokens + 1, 5) for g in out)
        s = RewardScorer(rm, kv_cache=kv)
        cfg = BeamConfig(width=2, successors=3, chunk_length=2, max_new_tokens=6, min_new_tokens=6)
        beam_search(policy, s, PROMPTS, cfg)
        assert s.stats.calls == 3  # one call per chunk round
        assert s.stats.scored == len(PROMPTS) * (6 + 6 + 6)  # W*K at the root, then W beams x K
    s = RewardScorer(rm)
    greedy(policy, s, PROMPTS, GreedyConfig(max_new_tokens=4))
    assert (s.stats.calls, s.stats.scored) == (1, len(PROMPTS))
    s = RewardScorer(rm)
    sample(policy, s, PROMPTS, SampleConfig(max_new_tokens=4))
    assert (s.stats.calls, s.stats.scored) == (1, len(PROMPTS))
    s = RewardScorer(rm)
    out = cards(policy, s, PROMPTS, CardsConfig(max_new_tokens=10, tau_u=5.0, max_segment=4, reward_threshold=0.0))
    rounds = s.stats.calls - 1  # one call for the empty-response rewards, then one per round
    assert rounds >= max(g.stats["segments"] for g in out)
    assert s.stats.scored == len(PROMPTS) + sum(g.stats["segments"] for g in out)


@pytest.mark.parametrize("method", ["sample", "bon", "cbs", "args", "cards"])
def test_determinism_per_seed_and_batching_independence(models, method):
    policy = models[0]
    rm = reward_model(models, "open")
    overrides = {"max_new_tokens": 6, "seed": 3}
    if method == "bon":
        overrides["n"] = 3
    if method == "cbs":
        overrides.update(width=2, successors=2, chunk_length=2)
    if method == "cards":
        overrides.update(tau_u=5.0, min_segment=2, max_segment=3, reward_threshold=0.0)
    first = decode(method, policy, rm, PROMPTS, **overrides)
    again = decode(method, policy, rm, PROMPTS, **overrides)
    assert [g.token_ids for g in first] == [g.token_ids for g in again]
    # prompts of different lengths in one batch == each alone (seed + prompt index)
    alone = [decode(method, policy, rm, [p], indices=[i], **overrides)[0] for i, p in enumerate(PROMPTS)]
    assert [g.token_ids for g in first] == [g.token_ids for g in alone]
    if method != "args":  # args is deterministic; sampling methods change with the seed
        other = decode(method, policy, rm, PROMPTS, **{**overrides, "seed": 4})
        assert [g.token_ids for g in other] != [g.token_ids for g in first]


# -- stopping ---------------------------------------------------------------------------
def test_stops_at_max_length_and_at_eos(models):
    policy, _, tok = models
    rm = reward_model(models, "closed")
    long = sample(policy, rm, PROMPTS, SampleConfig(max_new_tokens=7, seed=5))
    assert all(g.tokens == 7 and g.finish == "length" for g in long)
    # make the 4th sampled token of prompt 0 the end-of-sequence token: sampling stops there
    stop = long[0].token_ids[3]
    eos_policy = Policy(policy.model, tok, eos_ids=frozenset({stop}))
    short = sample(eos_policy, rm, PROMPTS[:1], SampleConfig(max_new_tokens=7, seed=5))[0]
    first = long[0].token_ids.index(stop)
    assert short.finish == "eos" and short.token_ids == long[0].token_ids[:first]
    assert short.response == tok.decode(long[0].token_ids[:first], skip_special_tokens=True)
    # greedy: EOS as the very first token gives an empty response
    g = greedy(policy, None, PROMPTS[:1], GreedyConfig(max_new_tokens=5))[0]
    eos_first = Policy(policy.model, tok, eos_ids=frozenset({g.token_ids[0]}))
    assert greedy(eos_first, None, PROMPTS[:1], GreedyConfig(max_new_tokens=5))[0].token_ids == []
    # min_new_tokens suppresses EOS
    forced = greedy(eos_first, None, PROMPTS[:1], GreedyConfig(max_new_tokens=5, min_new_tokens=3))[0]
    assert forced.tokens >= 3


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_registered_method_runs_and_respects_the_length_limit(models, method):
    policy = models[0]
    rm = reward_model(models, "closed")
    overrides = {"max_new_tokens": 5}
    if method in ("cbs", "beam"):
        overrides.update(width=2, successors=2, chunk_length=2)
    if method == "tbs":
        overrides.update(width=2, successors=2)
    if method == "bon":
        overrides["n"] = 2
    if method == "cards":
        overrides.update(tau_u=5.0, min_segment=2, max_segment=3)
    if method == "args":
        overrides["k"] = 3
    out = decode(method, policy, rm, PROMPTS[:2], **overrides)
    assert [g.index for g in out] == [0, 1]
    assert all(g.tokens <= 5 and g.finish in ("eos", "length") and isinstance(g.response, str) for g in out)
    assert all(isinstance(g.reward, float) for g in out)


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: BeamConfig(width=0),
        lambda: BeamConfig(successors=0),
        lambda: BeamConfig(chunk_length=0),
        lambda: BoNConfig(n=0),
        lambda: ArgsConfig(k=0),
        lambda: ArgsConfig(w=float("nan")),
        lambda: ArgsConfig(w=float("inf")),
        lambda: SampleConfig(temperature=0),
        lambda: GreedyConfig(max_new_tokens=0),
        lambda: GreedyConfig(max_new_tokens=3, min_new_tokens=4),
        lambda: CardsConfig(min_segment=8, max_segment=4),
        lambda: CardsConfig(threshold="nope"),
        lambda: BeamConfig(width=1.5),
        lambda: make_config("args", {"kk": 3}),
        lambda: make_config("nope"),
    ],
)
def test_bad_arguments_are_clear_config_errors(make):
    with pytest.raises(ConfigError):
        make()


def test_error_messages_name_the_field():
    with pytest.raises(ConfigError, match="width"):
        BeamConfig(width=0)
    with pytest.raises(ConfigError, match="chunk_length"):
        BeamConfig(chunk_length=-1)
    with pytest.raises(ConfigError, match="w must be a finite number"):
        ArgsConfig(w=float("nan"))
    with pytest.raises(ConfigError, match="unknown key.*kk"):
        make_config("args", {"kk": 3})


def test_bad_prompts(models):
    policy = models[0]
    rm = reward_model(models, "closed")
    with pytest.raises(ConfigError, match="empty prompt list"):
        greedy(policy, None, [], GreedyConfig())
    with pytest.raises(ConfigError, match="needs a scorer"):
        args_greedy(policy, None, PROMPTS, ArgsConfig())
    with pytest.raises(ConfigError, match="prompt 1 is empty"):
        greedy(policy, None, [PROMPTS[0], "  "], GreedyConfig())
    too_long = "\n\nHuman: " + "x" * 600 + "\n\nAssistant:"  # the tiny policy's context is 512
    with pytest.raises(ConfigError, match=r"prompt 7 is \d+ policy tokens.*context of 512"):
        args_greedy(policy, rm, [too_long], ArgsConfig(max_new_tokens=4), indices=[7])


def test_reward_nan_mid_decode_names_the_prompt(models):
    policy = models[0]
    rm = reward_model(models, "closed")

    class NaNAfter:
        name, calls = "nan-after", 0

        def __init__(self):
            from sp_prm_lib.decoding import ScorerStats

            self.stats = ScorerStats()

        def score_texts(self, prompts, responses):
            self.calls += 1
            out = rm.score(prompts, responses)
            if self.calls > 2:
                out[[i for i, p in enumerate(prompts) if "why" in p]] = float("nan")
            return out

    with pytest.raises(RewardNaNError, match=r"prompt 12 \('\\n\\nHuman: why"):
        args_greedy(policy, NaNAfter(), PROMPTS, ArgsConfig(k=3, max_new_tokens=6), indices=[10, 11, 12])

    # a reward model whose head returns NaN: the text path names the prompt too
    bad = RewardModel(tiny_model("llama-reward", models[2], seed=2)[0], models[2])
    with torch.no_grad():
        bad.model.score.weight.fill_(float("nan"))
    with pytest.raises(RewardNaNError, match="prompt 0"):
        best_of_n(policy, RewardScorer(bad, kv_cache=False), PROMPTS[:1], BoNConfig(n=2, max_new_tokens=3))
    with pytest.raises(RewardNaNError, match="prompt 0"):
        best_of_n(policy, RewardScorer(bad), PROMPTS[:1], BoNConfig(n=2, max_new_tokens=3))


def test_function_scorer_and_unknown_scorer():
    s = FunctionScorer(lambda p, r: len(r))
    assert s.score_texts(["p", "q"], ["ab", "c"]).tolist() == [2.0, 1.0]
    assert s.stats.calls == 1 and s.stats.scored == 2
    from sp_prm_lib.decoding import as_scorer

    with pytest.raises(ConfigError, match="score_texts"):
        as_scorer(object())


def test_cached_path_only_when_valid_else_batched_text_scoring(models):
    policy, rm_model, tok = models
    rm = reward_model(models, "closed")
    assert RewardScorer(rm).session_reason(policy, PROMPTS, 8) is None
    # a second tokenizer object with the same vocabulary still shares the cache path
    assert RewardScorer(RewardModel(rm_model, byte_tokenizer())).session_reason(policy, PROMPTS, 8) is None
    assert RewardScorer(rm, kv_cache=False).session_reason(policy, PROMPTS, 8) == "disabled"
    assert "max_length" in RewardScorer(rm).session_reason(policy, PROMPTS, 600)
    deberta, dtok = tiny_model("deberta-v2-reward", byte_tokenizer(), seed=3)
    bidirectional = RewardScorer(RewardModel(deberta, dtok))
    assert bidirectional.session_reason(policy, PROMPTS, 8) == "the reward model is not causal"
    out = args_greedy(policy, bidirectional, PROMPTS[:2], ArgsConfig(k=3, max_new_tokens=4))
    ref = naive_args(policy, bidirectional, PROMPTS[:2], ArgsConfig(k=3, max_new_tokens=4))
    assert [g.token_ids for g in out] == [g.token_ids for g in ref]
    assert bidirectional.stats.calls > 0

    class OtherVocab:
        def __len__(self):
            return len(tok)

        def get_vocab(self):
            return {**tok.get_vocab(), "zz": -1}

    from sp_prm_lib.decoding.scorers import same_vocabulary

    assert not same_vocabulary(tok, OtherVocab())


@pytest.mark.slow
def test_real_smollm2_args_cached_equals_released_style_loop():
    """The real policy tokenizer and chat template (2-layer slices keep it fast):
    cached ARGS gives the tokens of the loop that re-scores k decoded texts per step."""
    from sp_prm_lib.config.profile import ModelSpec
    from sp_prm_lib.models.loading import load_policy

    spec = "HuggingFaceTB/SmolLM2-135M-Instruct"
    try:
        model, tok = load_policy(ModelSpec(id=spec, source="package", num_layers=2))
    except Exception as exc:  # the offline package is not installed
        pytest.skip(f"SmolLM2 not available: {exc}")
    torch.manual_seed(0)
    rm = RewardModel.from_spec(ModelSpec(id=spec, source="package", num_layers=2), convention="closed")
    policy = Policy(model, tok)
    prompts = ["\n\nHuman: Is it illegal to eat horse meat in the US?\n\nAssistant:", PROMPTS[1]]
    cached = RewardScorer(rm)
    assert cached.session_reason(policy, prompts, 6) is None
    cfg = ArgsConfig(k=10, max_new_tokens=6)
    fast = args_greedy(policy, cached, prompts, cfg)
    ref = naive_args(policy, RewardScorer(rm, kv_cache=False), prompts, cfg, rescore_mode="text", policy_cache=True)
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(math.isclose(a.reward, b.reward, abs_tol=1e-4) for a, b in zip(fast, ref))
