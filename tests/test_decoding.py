"""Decoders on tiny random models: fast paths equal naive loops, call counts, stopping, errors."""

from __future__ import annotations

import dataclasses
import hashlib
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
    ScorerStats,
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
from sp_prm_lib.decoding.cards import calibrate_cards, calibration_samples
from sp_prm_lib.decoding.naive import naive_args, naive_beam_search, naive_cards, rescore
from sp_prm_lib.decoding.policy import entropy, make_generators
from sp_prm_lib.decoding.scorers import RMSession, ScorerError, candidate_scorer
from sp_prm_lib.models.tiny import byte_tokenizer, tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel, RewardNaNError

PROMPTS = [
    "\n\nHuman: hi\n\nAssistant:",
    "\n\nHuman: a much longer question, about several things at once?\n\nAssistant: ok\n\nHuman: go on\n\nAssistant:",
    "\n\nHuman: why?\n\nAssistant:",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(float64_decoding_models):
    return float64_decoding_models


def reward_model(models, convention):
    _, rm_model, tok = models
    return RewardModel(rm_model, tok, convention=convention)


SMALL = dict(max_new_tokens=8)
#: guidance of the fast decoders -> how the naive loop re-scores to compute the same rewards
GUIDANCE = [("token", "tokens"), ("text", "text")]


def same_stats(a: dict, b: dict) -> bool:
    """Stats equal, floats (e.g. ``guide_reward``) to 1e-5."""
    if a.keys() != b.keys():
        return False
    return all(
        math.isclose(a[k], b[k], abs_tol=1e-5) if isinstance(a[k], float) and isinstance(b[k], float) else a[k] == b[k]
        for k in a
    )


def round_trips(tok, g) -> bool:
    return tok(g.response, add_special_tokens=False).input_ids == g.token_ids


# -- fast paths equal the naive loops ------------------------------------------------
@pytest.mark.parametrize("guidance,mode", GUIDANCE)
@pytest.mark.parametrize("convention", ["closed", "open"])
def test_args_cached_equals_naive_loop(models, convention, guidance, mode):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, convention))
    cfg = ArgsConfig(k=8, w=1.5, max_new_tokens=16, guidance=guidance)
    fast = args_greedy(policy, scorer, PROMPTS, cfg)
    ref = naive_args(policy, scorer, PROMPTS, cfg, rescore_mode=mode)
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(math.isclose(a.reward, b.reward, abs_tol=1e-5) for a, b in zip(fast, ref))


def test_args_text_path_equals_naive_text_loop(models):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, "closed"), kv_cache=False)
    cfg = ArgsConfig(k=4, **SMALL)
    fast = args_greedy(policy, scorer, PROMPTS[:2], cfg)
    ref = naive_args(policy, scorer, PROMPTS[:2], cfg, rescore_mode="text", policy_cache=True)
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]


@pytest.mark.parametrize("guidance,mode", GUIDANCE)
@pytest.mark.parametrize(
    "convention,cfg",
    [
        ("closed", BeamConfig(width=2, successors=3, chunk_length=3, max_new_tokens=10)),
        ("open", BeamConfig(width=3, successors=2, chunk_length=4, max_new_tokens=10, top_k=0, temperature=0.8)),
        ("closed", TBSConfig(width=2, successors=3, max_new_tokens=8)),
        ("open", BoNConfig(n=4, max_new_tokens=8)),
    ],
)
def test_beam_driver_equals_naive_loop(models, convention, cfg, guidance, mode):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, convention))
    cfg = dataclasses.replace(cfg, guidance=guidance)
    fast = beam_search(policy, scorer, PROMPTS, cfg.beam())
    ref = naive_beam_search(policy, scorer, PROMPTS, cfg, rescore_mode=mode)
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert [g.finish for g in fast] == [g.finish for g in ref]
    assert all(math.isclose(a.reward, b.reward, abs_tol=1e-5) for a, b in zip(fast, ref))
    assert all(same_stats(a.stats, b.stats) for a, b in zip(fast, ref))


def test_beam_driver_text_path_equals_naive_text_loop(models):
    policy = models[0]
    scorer = RewardScorer(reward_model(models, "closed"), kv_cache=False)
    cfg = BeamConfig(width=2, successors=2, chunk_length=2, max_new_tokens=5)
    fast = beam_search(policy, scorer, PROMPTS[:2], cfg)
    ref = naive_beam_search(policy, scorer, PROMPTS[:2], cfg, rescore_mode="text")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]


@pytest.mark.parametrize("guidance,mode", GUIDANCE)
@pytest.mark.parametrize("convention,threshold", [("closed", "schedule"), ("open", "prefix")])
def test_cards_equals_naive_loop_with_rejections_and_forced_accepts(models, convention, threshold, guidance, mode):
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
        guidance=guidance,
    )
    fast = cards(policy, scorer, PROMPTS, cfg)
    ref = naive_cards(policy, scorer, PROMPTS, cfg, rescore_mode=mode)
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(same_stats(a.stats, b.stats) for a, b in zip(fast, ref))
    assert sum(g.stats["rejected"] for g in fast) > 0  # the rejection path ran


def test_cards_forced_accept_of_an_earlier_candidate(models):
    """Everything is rejected (hard threshold out of reach): every segment is forced."""
    policy = models[0]
    scorer = RewardScorer(reward_model(models, "open"))
    cfg = CardsConfig(
        max_new_tokens=12,
        tau_u=5.0,
        max_segment=4,
        reward_threshold=100.0,
        acceptance="hard",
        max_rejections=2,
        guidance="token",
    )
    fast = cards(policy, scorer, PROMPTS[:2], cfg)
    ref = naive_cards(policy, scorer, PROMPTS[:2], cfg, rescore_mode="tokens")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(g.stats["forced"] >= 1 and g.stats["rejected"] == 2 * g.stats["forced"] for g in fast)
    assert all(g.stats["accepted"] == 0 and g.stats["acceptance"] == 0.0 for g in fast)
    for g in fast:  # the reward the forced candidate was chosen by is the reward of its tokens
        again = rescore(scorer, policy, g.prompt, [g.token_ids], "tokens")[0]
        assert math.isclose(g.stats["guide_reward"], float(again), abs_tol=1e-5)


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
    # the cached path also scores the N candidates once, in one call; guidance="text"
    # adds one call for the candidates whose ids do not round-trip, "token" one call
    # re-scoring the returned texts
    cached = RewardScorer(rm)
    assert best_of_n(policy, cached, PROMPTS, cfg)[0].response == out[0].response
    fallback = cached.stats.fallback
    assert fallback > 0  # random bytes split multi-byte characters
    assert (cached.stats.calls, cached.stats.scored) == (2, 5 * len(PROMPTS) + fallback)
    cached = RewardScorer(rm)
    best_of_n(policy, cached, PROMPTS, dataclasses.replace(cfg, guidance="token"))
    assert (cached.stats.calls, cached.stats.scored) == (2, 5 * len(PROMPTS) + len(PROMPTS))


def test_scorer_call_counts(models):
    """Text path: one call per step / round. Cached path: the same, plus (guidance="text")
    one call in the steps where candidates do not round-trip, or (guidance="token") one
    call re-scoring the returned texts."""
    policy = models[0]
    rm = reward_model(models, "closed")
    n = len(PROMPTS)
    for kv, guidance in ((False, "text"), (True, "text"), (True, "token")):
        s = RewardScorer(rm, kv_cache=kv)
        out = args_greedy(policy, s, PROMPTS, ArgsConfig(k=4, max_new_tokens=5, guidance=guidance))
        steps = max(g.tokens + (g.finish == "eos") for g in out)
        candidates = 4 * sum(min(g.tokens + 1, 5) for g in out)
        if not kv:
            assert (s.stats.calls, s.stats.scored, s.stats.fallback) == (steps, candidates, 0)
        elif guidance == "text":
            assert s.stats.fallback > 0 and steps < s.stats.calls <= 2 * steps
            assert s.stats.scored == candidates + s.stats.fallback
        else:
            assert (s.stats.calls, s.stats.scored, s.stats.fallback) == (steps + 1, candidates + n, 0)
        s = RewardScorer(rm, kv_cache=kv)
        cfg = BeamConfig(width=2, successors=3, chunk_length=2, max_new_tokens=6, min_new_tokens=6, guidance=guidance)
        beam_search(policy, s, PROMPTS, cfg)
        rounds, candidates = 3, n * (6 + 6 + 6)  # W*K at the root, then W beams x K
        if not kv:
            assert (s.stats.calls, s.stats.scored) == (rounds, candidates)
        elif guidance == "text":
            assert rounds <= s.stats.calls <= 2 * rounds and s.stats.scored == candidates + s.stats.fallback
        else:
            assert (s.stats.calls, s.stats.scored) == (rounds + 1, candidates + n)
    s = RewardScorer(rm)
    greedy(policy, s, PROMPTS, GreedyConfig(max_new_tokens=4))
    assert (s.stats.calls, s.stats.scored) == (1, n)
    s = RewardScorer(rm, kv_cache=False)
    sample(policy, s, PROMPTS, SampleConfig(max_new_tokens=4))
    assert (s.stats.calls, s.stats.scored) == (1, n)
    s = RewardScorer(rm)
    cfg = CardsConfig(max_new_tokens=10, tau_u=5.0, max_segment=4, reward_threshold=0.0, guidance="token")
    out = cards(policy, s, PROMPTS, cfg)
    rounds = s.stats.calls - 2  # one call for the empty-response rewards, one per round, one for the texts
    assert rounds >= max(g.stats["segments"] for g in out)
    assert s.stats.scored == n + sum(g.stats["segments"] for g in out) + n


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
        lambda: CardsConfig(tau_u="high"),
        lambda: CardsConfig(reward_threshold="calibrated"),
        lambda: CardsConfig(tau_quantile=1.5),
        lambda: CardsConfig(reward_quantile=-0.1),
        lambda: CardsConfig(calibration_prompts=0),
        lambda: ArgsConfig(guidance="bytes"),
        lambda: BoNConfig(guidance=None),
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
    with pytest.raises(ConfigError, match="w: must be a finite number"):
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


# -- reported reward = reward of the returned text; token vs text guidance -------------
def test_text_guidance_rescores_a_split_multibyte_character_from_its_text(models):
    """Byte-level tokens of "é" are two ids; a candidate ending after the first one
    decodes to U+FFFD, which encodes to other ids: the cached path sees ids that are
    not the text's. guidance="text" gives r(x, text) for it; "token" the ids' reward."""
    policy, _, tok = models
    rm = reward_model(models, "closed")
    prompts = PROMPTS[:1]
    e1, e2 = tok("é", add_special_tokens=False).input_ids
    (a,) = tok("a", add_special_tokens=False).input_ids
    prefix = tok("caf", add_special_tokens=False).input_ids
    blocks = torch.tensor([[[e1, e2], [e1, a], [a, e1]]])
    lengths = torch.tensor([[2, 2, 2]])
    texts = policy.decode_many([prefix + blocks[0, j].tolist() for j in range(3)])
    assert texts == ["café", "caf\ufffda", "cafa\ufffd"]
    want = rm.score(prompts * 3, texts)
    by = {}
    for guidance in ("text", "token"):
        scorer = RewardScorer(rm)
        cands = candidate_scorer(scorer, policy, prompts, 8, guidance=guidance)
        assert cands.kind == "rm-cache"
        cands.advance([0], torch.tensor([prefix]))
        by[guidance] = cands.score([prefix], blocks, lengths)[0]
        assert scorer.stats.fallback == (2 if guidance == "text" else 0)
    assert torch.allclose(by["text"], want, atol=1e-5)
    assert torch.allclose(by["token"][:1], want[:1], atol=1e-5)  # "café" round-trips
    assert not torch.allclose(by["token"][1:], want[1:], atol=1e-4)  # split characters do not


@pytest.mark.parametrize("guidance", ["text", "token"])
@pytest.mark.parametrize(
    "method,overrides",
    [
        ("args", {"k": 6}),
        ("cbs", {"width": 2, "successors": 3, "chunk_length": 3}),
        ("tbs", {"width": 2, "successors": 2}),
        ("bon", {"n": 4}),
        ("cards", {"tau_u": 5.0, "max_segment": 4, "reward_threshold": 0.0}),
    ],
)
def test_reported_reward_is_the_reward_of_the_returned_text(models, method, overrides, guidance):
    """Random byte-level policies split multi-byte characters: returned ids whose text
    encodes to other ids. The reported reward is still rm.score(prompt, response)."""
    policy, _, tok = models
    rm = reward_model(models, "closed")
    out = decode(method, policy, RewardScorer(rm), PROMPTS, max_new_tokens=10, guidance=guidance, **overrides)
    if method != "args":  # greedy-like ARGS on this policy emits newlines only
        assert not all(round_trips(tok, g) for g in out)
    for g in out:
        assert math.isclose(g.reward, float(rm.score([g.prompt], [g.response])[0]), abs_tol=1e-5)
        if guidance == "token":  # the reward the method chose by, of the token ids
            again = rescore(RewardScorer(rm), policy, g.prompt, [g.token_ids], "tokens")[0]
            assert math.isclose(g.stats["guide_reward"], float(again), abs_tol=1e-5)
        else:
            assert "guide_reward" not in g.stats


def test_text_guidance_on_the_cached_path_equals_the_text_path(models):
    """guidance="text": the RM cache plus text re-scoring of the candidates that do not
    round-trip picks what batched text scoring picks (the paper's r(x, text))."""
    policy = models[0]
    rm = reward_model(models, "open")
    for method, overrides in [
        ("cbs", {"width": 2, "successors": 3, "chunk_length": 2}),
        ("args", {"k": 5, "temperature": 3.0}),
    ]:
        cached, text = RewardScorer(rm), RewardScorer(rm, kv_cache=False)
        fast = decode(method, policy, cached, PROMPTS, max_new_tokens=8, guidance="text", **overrides)
        ref = decode(method, policy, text, PROMPTS, max_new_tokens=8, guidance="text", **overrides)
        assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
        assert all(math.isclose(a.reward, b.reward, abs_tol=1e-5) for a, b in zip(fast, ref))
        assert cached.stats.fallback > 0 and text.stats.fallback == 0


# -- random streams ----------------------------------------------------------------------
def test_per_prompt_streams_are_independent_of_the_neighbouring_seed(models):
    """Seed s+1 prompt i is not seed s prompt i+1 (as seed + index made it)."""
    for s, i in [(0, 0), (3, 1), (7, 5)]:
        (a,) = make_generators(s + 1, [i])
        (b,) = make_generators(s, [i + 1])
        assert not torch.equal(a.get_state(), b.get_state())
        (c,) = make_generators(s + 1, [i])
        assert torch.equal(a.get_state(), c.get_state())  # reproducible
    (cal,) = make_generators(0, [0], stream=1)  # CARDS calibration: a stream of its own
    assert not torch.equal(cal.get_state(), make_generators(0, [0])[0].get_state())
    # a decoded prompt: the same text at index 1 under seed 3 and at index 0 under seed 4
    policy = models[0]
    cfg = dict(max_new_tokens=8, top_k=0)
    x = sample(policy, None, PROMPTS[:1], SampleConfig(seed=3, **cfg), indices=[1])[0]
    y = sample(policy, None, PROMPTS[:1], SampleConfig(seed=4, **cfg), indices=[0])[0]
    assert x.token_ids != y.token_ids


# -- scorers that return the wrong number of rewards -----------------------------------
class Miscounting:
    """A scorer that returns one reward too few (or a wrong shape)."""

    name = "short"

    def __init__(self, rm, shape="short"):
        from sp_prm_lib.decoding import ScorerStats

        self.rm, self.shape, self.stats = rm, shape, ScorerStats()

    def score_texts(self, prompts, responses):
        out = self.rm.score(prompts, responses)
        if self.shape == "short":
            return out[:-1]
        if self.shape == "wide":
            return torch.stack([out, out], dim=1)
        return "not rewards"


@pytest.mark.parametrize(
    "method,overrides",
    [
        ("args", {"k": 3}),
        ("bon", {"n": 2}),
        ("cbs", {"width": 1, "successors": 2, "chunk_length": 2}),
        ("greedy", {}),
        ("cards", {"tau_u": 5.0, "min_segment": 2, "max_segment": 3}),  # its calibration scores first
    ],
)
def test_a_scorer_returning_the_wrong_number_of_rewards_is_a_one_line_error(models, method, overrides):
    policy = models[0]
    rm = reward_model(models, "closed")
    with pytest.raises(ScorerError, match=r"^scorer 'short' returned \d+ rewards .* for \d+ responses; expected one"):
        decode(method, policy, Miscounting(rm), PROMPTS[:2], max_new_tokens=4, **overrides)
    with pytest.raises(ScorerError, match=r"returned 12 rewards \(shape \(6, 2\)\) for 6 responses"):
        decode("args", policy, Miscounting(rm, "wide"), PROMPTS[:2], max_new_tokens=4, k=3)
    with pytest.raises(ScorerError, match=r"^scorer 'short' returned str for 6 responses, not 6 numbers"):
        decode("args", policy, Miscounting(rm, "text"), PROMPTS[:2], max_new_tokens=4, k=3)


# -- CARDS: calibration, acceptance, segment length -------------------------------------
def _kept_segments(g) -> int:
    return g.stats["accepted"] + g.stats["forced"]


def test_cards_released_thresholds_are_degenerate_and_auto_calibrates_them(models):
    """tau_u = 7 nats is above the tiny policy's largest entropy (ln 260 = 5.56): every
    segment runs to max_segment; 8.5 is off this RM's scale: nothing passes the hard test.
    "auto" takes both from the policy's entropies and the RM's rewards."""
    policy, _, tok = models
    rm = reward_model(models, "closed")
    common = dict(
        max_new_tokens=24, min_new_tokens=24, max_segment=8, min_segment=2, acceptance="hard", max_rejections=3
    )
    released = cards(policy, rm, PROMPTS, CardsConfig(tau_u=7.0, reward_threshold=8.5, **common))
    assert math.log(len(tok)) < 7.0
    for g in released:
        assert g.stats["accepted"] == 0 and g.stats["acceptance"] == 0.0  # best-of-(max_rejections + 1)
        assert g.stats["segment_tokens"] == 8.0  # every segment ran to max_segment
    auto = cards(policy, rm, PROMPTS, CardsConfig(**common))
    assert sum(g.stats["accepted"] for g in auto) > 0
    assert sum(g.tokens for g in auto) / sum(_kept_segments(g) for g in auto) < 8.0
    tau = auto[0].stats["tau_u"]
    assert 0 < tau < math.log(len(tok)) and all(g.stats["tau_u"] == tau for g in auto)


def test_cards_calibration_is_the_quantiles_it_documents(models):
    policy = models[0]
    rm = reward_model(models, "open")
    cfg = CardsConfig(max_new_tokens=12, max_segment=6, calibration_prompts=2, tau_quantile=0.8, reward_quantile=0.25)
    resolved = calibrate_cards(policy, rm, PROMPTS, cfg)
    tokens, entropies = calibration_samples(policy, PROMPTS[:2], cfg)
    assert len(tokens) == 2 and len(entropies) >= sum(len(t) for t in tokens)
    assert resolved.tau_u == pytest.approx(float(torch.tensor(entropies).double().quantile(0.8)), abs=1e-4)
    rewards = rm.score(PROMPTS[:2], policy.decode_many(tokens)).double()
    assert resolved.reward_threshold == pytest.approx(float(rewards.quantile(0.25)), abs=1e-4)
    # the entropies are the policy's own (raw logits) at every step of the sampled response
    (one,), ents = calibration_samples(policy, PROMPTS[:1], cfg)
    assert one == tokens[0]
    context = policy.prompt_ids(PROMPTS[0])
    with torch.no_grad():
        logits = policy.model(input_ids=torch.tensor([context + one])).logits[0].float()
    steps = logits[len(context) - 1 : len(context) - 1 + len(ents)]
    assert len(ents) in (len(one), len(one) + 1)  # + the step that sampled EOS
    assert torch.allclose(entropy(steps), torch.tensor(ents, dtype=torch.float64), atol=1e-4)
    # a number stays as given; the reward threshold is calibrated only when the schedule uses it
    assert calibrate_cards(policy, rm, PROMPTS, dataclasses.replace(cfg, tau_u=3.0)).tau_u == 3.0
    prefix = calibrate_cards(policy, rm, PROMPTS, dataclasses.replace(cfg, threshold="prefix"))
    assert prefix.reward_threshold == "auto" and isinstance(prefix.tau_u, float)
    assert not prefix.needs_calibration
    # fast CARDS and the naive loop calibrate the same way
    fast = cards(policy, rm, PROMPTS, cfg)
    ref = naive_cards(policy, RewardScorer(rm), PROMPTS, cfg, rescore_mode="text")
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(same_stats(a.stats, b.stats) for a, b in zip(fast, ref))
    for g in fast:
        assert g.stats["tau_u"] == resolved.tau_u and g.stats["reward_threshold"] == resolved.reward_threshold
        assert g.stats["accepted"] == g.stats["segments"] - g.stats["rejected"] - g.stats["forced"]
        assert g.stats["acceptance"] == round(g.stats["accepted"] / g.stats["segments"], 4)
        assert g.stats["segment_tokens"] == round(g.tokens / _kept_segments(g), 4)


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


# -- exact ties: one reward per distinct text, whatever the batch ---------------------
class BatchNoise:
    """r(x, y): a hash of (x, y) in [0, 10), plus 20 per U+FFFD in y (so that equal texts made of
    different lone bytes compete for the top), plus "float noise" below 1e-5 that depends on
    where the response sits in the call, how many responses the call has and which call
    it is, as the rounding of batched (padded, cached or re-scored) rewards does. Distinct
    texts are far apart; equal texts tie up to the noise."""

    name = "batch-noise"

    def __init__(self):
        self.stats = ScorerStats()
        self.texts: dict[tuple[str, str], int] = {}

    def score_texts(self, prompts, responses):
        n = len(responses)
        out = []
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            self.texts[(p, r)] = self.texts.get((p, r), 0) + 1
            h = int.from_bytes(hashlib.sha256(f"{p}\0{r}".encode()).digest()[:6], "big") / 2**48
            noise = int.from_bytes(hashlib.sha256(f"{i} {n} {self.stats.calls}".encode()).digest()[:6], "big")
            out.append(10 * h + 20 * r.count("\ufffd") + 1e-5 * noise / 2**48)
        self.stats.calls += 1
        return torch.tensor(out, dtype=torch.float64)


def lone_byte_ids(tok):
    """(id of a lone continuation byte, ids of U+FFFD's three bytes): both decode to U+FFFD."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    lone = tok.convert_tokens_to_ids(bytes_to_unicode()[0x80])
    return lone, tok("\ufffd", add_special_tokens=False).input_ids


def test_two_ids_with_the_same_text_get_one_reward_in_a_round_and_after(models):
    policy, _, tok = models
    lone, three = lone_byte_ids(tok)
    assert policy.decode([lone]) == policy.decode(three) == "\ufffd"
    (a,) = tok("a", add_special_tokens=False).input_ids
    noisy = BatchNoise()
    cands = candidate_scorer(noisy, policy, PROMPTS[:2], 8)
    blocks = torch.tensor([[[lone, 0, 0], three, [a, 0, 0]], [[a, 0, 0], three, [lone, 0, 0]]])
    lengths = torch.tensor([[1, 3, 1], [1, 3, 1]])
    first = cands.score([[], []], blocks, lengths)
    assert first[0, 0] == first[0, 1] and first[1, 1] == first[1, 2]  # exact, in one call
    assert first[0, 0] != first[1, 1]  # per prompt: the other prompt's text is another text
    # a later round (another call, other noise) gives a seen text its first reward
    again = cands.score([[], []], blocks[:, [2, 0]], lengths[:, [2, 0]])
    assert torch.equal(again, torch.stack([first[0, [2, 0]], first[1, [2, 0]]]))
    # the RM cache: the round-tripping ids get the cached reward, the lone byte a text
    # re-score; the same text gets one reward, that of r(x, text)
    rm = reward_model(models, "closed")
    for guidance in ("text", "token"):
        cached = candidate_scorer(RewardScorer(rm), policy, PROMPTS[:1], 8, guidance=guidance)
        assert cached.kind == "rm-cache"
        got = cached.score([[]], blocks[:1, :2], lengths[:1, :2])[0]
        if guidance == "text":
            assert got[0] == got[1]
            assert math.isclose(float(got[0]), float(rm.score(PROMPTS[:1], ["\ufffd"])[0]), abs_tol=1e-6)
        else:  # token guidance: the ids' rewards, which differ
            assert got[0] != got[1]


@pytest.mark.parametrize(
    "method,overrides",
    [
        ("args", {"k": 24, "temperature": 1e5}),
        ("tbs", {"width": 3, "successors": 4, "top_k": 0}),
        ("cbs", {"width": 2, "successors": 4, "chunk_length": 2, "top_k": 0}),
        ("bon", {"n": 12, "top_k": 0, "max_new_tokens": 1}),
        (
            "cards",
            {
                "tau_u": 50.0,
                "min_segment": 1,
                "max_segment": 1,
                "reward_threshold": 1e3,
                "acceptance": "hard",
                "max_rejections": 5,
                "top_k": 0,
            },
        ),
    ],
)
def test_alone_and_batched_give_the_same_output_when_equal_texts_tie(models, method, overrides):
    """Random byte-level policies emit lone bytes that all decode to U+FFFD: equal texts from
    different ids, whose rewards differ only by the batch's noise. Decoding each prompt
    alone and all in one batch gives the same tokens (the tie goes to the earlier candidate)."""
    policy = models[0]
    settings = {"max_new_tokens": 6, "seed": 5, **overrides}
    noisy = BatchNoise()
    batched = decode(method, policy, noisy, PROMPTS, **settings)
    assert any(n > 1 for n in noisy.texts.values())  # equal texts were scored
    alone = [decode(method, policy, BatchNoise(), [p], indices=[i], **settings)[0] for i, p in enumerate(PROMPTS)]
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    assert all(math.isclose(a.reward, b.reward, abs_tol=1e-4) for a, b in zip(batched, alone))  # up to the noise


def test_common_random_numbers_every_guiding_rm_draws_the_same_samples(models):
    """The decoding claims compare guiding RMs on the same prompts with the same random streams
    (common random numbers): the streams are seeded by the run seed and the prompt, never by the
    RM, so Best-of-N scores the very same N samples under two different RMs, and a reward that
    ranks them the other way round picks from the same candidates."""
    policy = models[0]
    rm = reward_model(models, "closed")
    first = Recording(RewardScorer(rm, kv_cache=False))
    cfg = BoNConfig(n=4, max_new_tokens=6)
    best_of_n(policy, first, PROMPTS, cfg)

    def length_reward(prompt, text):  # another RM: longer is better
        return float(len(text))

    second = Recording(FunctionScorer(length_reward))
    out = best_of_n(policy, second, PROMPTS, cfg)
    assert first.seen[0][1] == second.seen[0][1]  # the same 4 x 3 samples, in the same order
    texts = second.seen[0][1]
    for b, g in enumerate(out):
        assert g.response == max(texts[4 * b : 4 * b + 4], key=len)
    # the guiding RM changes the choice, not the draws: another seed draws other samples
    third = Recording(FunctionScorer(length_reward))
    best_of_n(policy, third, PROMPTS, dataclasses.replace(cfg, seed=cfg.seed + 1))
    assert third.seen[0][1] != texts
