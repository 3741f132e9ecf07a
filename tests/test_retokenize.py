"""A reward model on another tokenizer: the re-tokenizing RM cache equals full-text re-scoring.

Real tokenizers, offline: SmolLM2's byte-level BPE and all-MiniLM-L6-v2's WordPiece
(uncased, accents stripped, ``[CLS] prompt [SEP] response [SEP]``), with tiny random
float64 models on them, in both pairings (policy on one, reward model on the other).
"""

from __future__ import annotations

import math

import pytest
import torch

from sp_prm_lib.decoding import (
    ArgsConfig,
    BeamConfig,
    CardsConfig,
    Policy,
    RewardScorer,
    TBSConfig,
    args_greedy,
    beam_search,
    cards,
)
from sp_prm_lib.decoding.retokenize import RowPlan, common_prefix, plan_row
from sp_prm_lib.decoding.scorers import CandidateScorer, CrossTokenizerCandidateScorer, candidate_scorer
from sp_prm_lib.models.tiny import tiny_model
from sp_prm_lib.scoring.reward_model import RewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROMPTS = [
    "\n\nHuman: Is the café — the one near 日本橋 — open? 🙂\n\nAssistant:",
    "\n\nHuman: why don't you answer, friend?\n\nAssistant: ok...\n\nHuman: go on!\n\nAssistant:",
]
#: texts whose re-tokenization merges across the cache boundary: words that grow, split
#: UTF-8 characters, punctuation and spaces that attach to their neighbours
TEXTS = [" Hello, wörld! It's a café — naïve 日本語 🙂🎉 unbelievably... ok", "don't  stop—ever.日本 é"]


@pytest.fixture(scope="module")
def tokenizers():
    from transformers import AutoTokenizer

    from sp_prm_lib.models.loading import package_path

    try:
        gguf = package_path("HuggingFaceTB/SmolLM2-135M-Instruct")
        minilm = package_path("sentence-transformers/all-MiniLM-L6-v2")
    except Exception as exc:  # the offline model packages are not installed
        pytest.skip(f"offline tokenizers not available: {exc}")
    smol = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    return {"smol": smol, "minilm": AutoTokenizer.from_pretrained(str(minilm))}


@pytest.fixture(scope="module", params=["smol-policy", "minilm-policy"])
def pair(request, tokenizers):
    """(policy, reward model tokenizer, reward model weights): one pairing of the two tokenizers."""
    names = ("smol", "minilm") if request.param == "smol-policy" else ("minilm", "smol")
    ptok, rtok = tokenizers[names[0]], tokenizers[names[1]]
    policy_model, _ = tiny_model("llama-causal-lm", ptok, seed=1)
    rm_model, _ = tiny_model("llama-reward", rtok, seed=2)
    # float64: the cached and the text path batch and pad differently (see tests/test_decoding.py)
    return Policy(policy_model.double(), ptok), rtok, rm_model.double()


def reward_model(pair, convention: str, **kw) -> RewardModel:
    _, rtok, rm_model = pair
    return RewardModel(rm_model, rtok, convention=convention, **kw)


def text_path(scorer, policy, prompts, prefixes, blocks, lengths) -> torch.Tensor:
    return CandidateScorer(scorer, policy, prompts, list(range(len(prefixes)))).score(prefixes, blocks, lengths)


# -- which path decoders get ------------------------------------------------------------
def test_candidate_scorer_picks_the_retokenizing_cache_only_for_another_tokenizer(pair, tokenizers):
    policy, rtok, rm_model = pair
    rm = reward_model(pair, "closed")
    scorer = RewardScorer(rm)
    assert scorer.session_reason(policy, PROMPTS, 8) == "the reward model's tokenizer differs from the policy's"
    assert scorer.retokenize_reason(policy, PROMPTS, 8) is None
    cands = candidate_scorer(scorer, policy, PROMPTS, 8)
    assert isinstance(cands, CrossTokenizerCandidateScorer)
    assert cands.kind == "rm-cache-retokenize" and cands.text_exact
    # token guidance has no meaning across vocabularies: rewards stay those of the text
    assert candidate_scorer(scorer, policy, PROMPTS, 8, guidance="token").text_exact
    # kv_cache=False forces the text path (the reference)
    plain = candidate_scorer(RewardScorer(rm, kv_cache=False), policy, PROMPTS, 8)
    assert type(plain) is CandidateScorer and plain.kind == "text"
    # the same tokenizer keeps the cache over policy tokens
    same_policy = Policy(tiny_model("llama-causal-lm", rtok, seed=1)[0], rtok)
    same = RewardScorer(rm)
    assert same.retokenize_reason(same_policy, PROMPTS, 8) is not None
    assert candidate_scorer(same, same_policy, PROMPTS, 8).kind == "rm-cache"
    # the checks other than the vocabulary still apply
    assert "max_length" in scorer.retokenize_reason(policy, PROMPTS, 10_000)
    assert candidate_scorer(scorer, policy, PROMPTS, 10_000).kind == "text"


# -- decoders: same tokens and rewards as full-text re-scoring ---------------------------
METHODS = [
    ("args", args_greedy, ArgsConfig(k=6, max_new_tokens=10)),
    ("tbs", beam_search, TBSConfig(width=2, successors=3, max_new_tokens=8).beam()),
    ("cbs", beam_search, BeamConfig(width=2, successors=3, chunk_length=3, max_new_tokens=9)),
    ("cards", cards, CardsConfig(tau_u=5.0, max_segment=4, reward_threshold=0.0, max_new_tokens=10)),
]


@pytest.mark.parametrize("convention", ["closed", "open"])
@pytest.mark.parametrize("name,method,cfg", METHODS, ids=[m[0] for m in METHODS])
def test_decoders_with_the_retokenizing_cache_equal_full_text_rescoring(pair, convention, name, method, cfg):
    policy = pair[0]
    rm = reward_model(pair, convention)
    fast_scorer, text_scorer = RewardScorer(rm), RewardScorer(rm, kv_cache=False)
    fast = method(policy, fast_scorer, PROMPTS, cfg)
    ref = method(policy, text_scorer, PROMPTS, cfg)
    assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
    assert all(math.isclose(a.reward, b.reward, abs_tol=1e-5) for a, b in zip(fast, ref))
    assert [g.stats for g in fast] == [g.stats for g in ref]
    stats = fast_scorer.stats
    assert stats.rm_tokens > 0 and stats.cached_tokens > 0 and stats.fallback == 0
    for g in fast:  # the reported reward is the reward of the returned text
        assert math.isclose(g.reward, float(rm.score([g.prompt], [g.response])[0]), abs_tol=1e-5)


def test_args_with_a_longer_text_reads_far_fewer_rm_tokens_than_it_scores(pair):
    policy = pair[0]
    scorer = RewardScorer(reward_model(pair, "closed"))
    args_greedy(policy, scorer, PROMPTS, ArgsConfig(k=8, max_new_tokens=16))
    assert scorer.stats.cached_tokens > 3 * scorer.stats.rm_tokens


# -- boundaries where re-tokenization re-merges -------------------------------------------
def byte_level(policy: Policy) -> bool:
    return policy.tokenizer.vocab_size > 40_000  # SmolLM2's byte-level BPE (MiniLM's WordPiece: 30,522)


def piece_ids(policy: Policy, text: str) -> list[int]:
    """Policy ids of ``text`` cut into small pieces: single bytes for a byte-level BPE
    (UTF-8 characters split across ids), WordPiece pieces otherwise."""
    tok = policy.tokenizer
    if byte_level(policy):
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        chars = bytes_to_unicode()
        ids = [tok.convert_tokens_to_ids(chars[b]) for b in text.encode("utf-8")]
        assert tok.unk_token_id not in ids and None not in ids
        return ids
    return tok(text, add_special_tokens=False).input_ids


@pytest.mark.parametrize("margin", [0, 1, 3])
@pytest.mark.parametrize("convention", ["closed", "open"])
def test_growing_texts_that_remerge_score_as_their_full_text(pair, convention, margin):
    """Each step scores k one-id continuations of a prefix that grows one id at a time
    through split characters, words and punctuation; every reward equals the text
    path's. Without a margin the cached ids do change, and are cut back."""
    policy = pair[0]
    rm = reward_model(pair, convention)
    scorer, ref = RewardScorer(rm), RewardScorer(rm, kv_cache=False)
    seqs = [piece_ids(policy, t) for t in TEXTS]
    cands = CrossTokenizerCandidateScorer(scorer, policy, PROMPTS, [0, 1], margin=margin)
    steps = min(len(s) for s in seqs) - 1
    for t in range(steps):
        prefixes = [s[:t] for s in seqs]
        nxt = [s[t] for s in seqs]
        others = [seqs[(r + 1) % 2][t] for r in range(2)]
        # the true next id, another text's id, a comma, and the EOS-like empty block
        blocks = torch.tensor([[[nxt[r]], [others[r]], [piece_ids(policy, ",")[0]], [0]] for r in range(2)])
        lengths = torch.tensor([[1, 1, 1, 0]] * 2)
        got = cands.score(prefixes, blocks, lengths)
        want = text_path(ref, policy, PROMPTS, prefixes, blocks, lengths)
        assert torch.allclose(got, want, atol=1e-5), (t, got, want)
        cands.advance([0, 1], blocks[:, 0])
    if margin == 0 and byte_level(policy):  # a 4-byte emoji re-merges ids cached while it was incomplete
        assert scorer.stats.crops > 0
    assert scorer.stats.fallback == 0


@pytest.mark.parametrize("convention", ["closed", "open"])
def test_a_cached_word_that_changes_is_cut_back(pair, convention):
    """Hand-made: "hello th" is cached up to "th" (every candidate agrees on it); the next
    prefix reads "hello the", whose RM ids differ from the cached "th": the row is cut
    back to the common prefix and the rest recomputed."""
    policy = pair[0]
    rm = reward_model(pair, convention)
    scorer, ref = RewardScorer(rm), RewardScorer(rm, kv_cache=False)
    cands = CrossTokenizerCandidateScorer(scorer, policy, PROMPTS[:1], [0], margin=0)
    ends = torch.tensor([[piece_ids(policy, ","), piece_ids(policy, ".")]])
    lengths = torch.tensor([[1, 1]])
    rm_ids = rm.formatter.response_ids
    for text in ["hello th", "hello the"]:
        prefix = [piece_ids(policy, text)]
        got = cands.score(prefix, ends, lengths)
        assert torch.allclose(got, text_path(ref, policy, PROMPTS[:1], prefix, ends, lengths), atol=1e-5)
        context = rm.formatter.context_ids(PROMPTS[0])
        cached = cands.cache.ids[0]
        assert cached[: len(context)] == context and len(cached) > len(context)
        assert rm_ids([text + ","])[0][: len(cached) - len(context)] == cached[len(context) :]
    assert rm_ids(["hello th"])[0] != rm_ids(["hello the"])[0][:2]
    assert scorer.stats.crops == 1


def test_rows_reordered_duplicated_and_rebuilt_keep_their_caches(pair):
    """Beam-style row moves plus forced cache rebuilds (every step) still give text rewards."""
    policy = pair[0]
    rm = reward_model(pair, "closed")
    scorer, ref = RewardScorer(rm), RewardScorer(rm, kv_cache=False)
    seqs = [piece_ids(policy, TEXTS[0] + TEXTS[1]), piece_ids(policy, TEXTS[1] + TEXTS[0])]
    cands = CrossTokenizerCandidateScorer(scorer, policy, PROMPTS, [0, 1], margin=0)
    cands.cache.slack = -(10**6)  # rebuild before every step
    rows = [seqs[0][:3], seqs[1][:3]]
    owners = [0, 1]
    for step, order in enumerate([[1, 0], [0, 0, 1], [2, 1], [1, 1, 0]]):
        cands.advance(order, torch.zeros((len(order), 0), dtype=torch.long))
        rows = [rows[r] + seqs[owners[r]][len(rows[r]) : len(rows[r]) + 2] for r in order]
        owners = [owners[r] for r in order]
        blocks = torch.tensor([[seqs[o][len(p) : len(p) + 2], seqs[1 - o][:2]] for p, o in zip(rows, owners)])
        lengths = torch.tensor([[2, 1 + step % 2]] * len(rows))
        got = cands.score(rows, blocks, lengths)
        prompts = [PROMPTS[o] for o in owners]
        want = text_path(ref, policy, prompts, rows, blocks, lengths)
        assert torch.allclose(got, want, atol=1e-5), (step, got, want)
    assert scorer.stats.rebuilds > 0


def test_candidates_past_the_rm_max_length_are_scored_from_their_text(pair):
    policy = pair[0]
    rm = reward_model(pair, "closed")
    context = len(rm.formatter.context_ids(PROMPTS[0]))
    closing = len(rm.formatter.closing)  # a window with room for 6 - closing response tokens after the whole context
    rm = reward_model(pair, "closed", max_length=context + 6, response_budget=6 - closing)
    scorer, ref = RewardScorer(rm), RewardScorer(rm, kv_cache=False)
    ids = piece_ids(policy, TEXTS[0] + TEXTS[1])
    cands = CrossTokenizerCandidateScorer(scorer, policy, PROMPTS[:1], [0])
    blocks = torch.tensor([[ids[:1] + [0] * 29, ids[:30]]])
    lengths = torch.tensor([[1, 30]])
    got = cands.score([[]], blocks, lengths)
    assert torch.allclose(got, text_path(ref, policy, PROMPTS[:1], [[]], blocks, lengths), atol=1e-5)
    assert scorer.stats.fallback == 1


def test_an_empty_candidate_is_scored_as_the_text_path_scores_it(pair):
    """A text-pair RM renders the empty response as ``tokenizer(x, "")`` (no closing [SEP]): the
    cache scores such a candidate from its text; a chat-template RM from its cache."""
    policy = pair[0]
    rm = reward_model(pair, "closed")
    scorer, ref = RewardScorer(rm), RewardScorer(rm, kv_cache=False)
    ids = piece_ids(policy, TEXTS[0])
    cands = CrossTokenizerCandidateScorer(scorer, policy, PROMPTS[:1], [0])
    blocks = torch.tensor([[[0] * 4, ids[:4]]])
    lengths = torch.tensor([[0, 4]])
    got = cands.score([[]], blocks, lengths)
    assert torch.allclose(got, text_path(ref, policy, PROMPTS[:1], [[]], blocks, lengths), atol=1e-5)
    assert scorer.stats.fallback == 0  # a text pair: r(x, "") of the prompt, scored once
    # the RM cache over a policy with the RM's own tokenizer reads an empty first candidate the same way
    _, rtok, _ = pair
    same = Policy(tiny_model("llama-causal-lm", rtok, seed=1)[0].double(), rtok)
    cached = candidate_scorer(RewardScorer(rm), same, PROMPTS, 8)
    assert cached.kind == "rm-cache"
    ids = piece_ids(same, TEXTS[0])
    blocks = torch.tensor([[[0] * 4, ids[:4]], [ids[:4], [0] * 4]])
    lengths = torch.tensor([[0, 4], [4, 0]])
    want = text_path(ref, same, PROMPTS, [[], []], blocks, lengths)
    assert torch.allclose(cached.score([[], []], blocks, lengths), want, atol=1e-5)
    cached.advance([0, 1], torch.tensor([ids[4:6], ids[4:6]]))  # no longer empty: closing tokens again
    prefixes = [ids[4:6], ids[4:6]]
    want = text_path(ref, same, PROMPTS, prefixes, blocks, lengths)
    assert torch.allclose(cached.score(prefixes, blocks, lengths), want, atol=1e-5)


# -- the plan of one row, by hand -----------------------------------------------------------
def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 3, 4]) == 3
    assert common_prefix([1, 2, 3, 4, 5], [1, 2, 9, 4, 5]) == 2
    assert common_prefix([7], [8]) == 0 and common_prefix([], [1]) == 0
    assert all(common_prefix(list(range(n)) + [99], list(range(40))) == n for n in range(40))


def test_plan_cuts_back_a_changed_tokenization_and_extends_to_the_agreed_ids():
    C, S = [101, 102], [9]  # context, closing
    # cached "context a b": the new tokenizations read "a x ...": b was re-merged
    cached = C + [1, 2]
    fulls = [C + [1, 5, 6], C + [1, 5, 7]]
    prefix = C + [1, 5]
    plan = plan_row(cached, 2, fulls, prefix, closing=S, max_length=100, margin=1)
    assert plan == RowPlan(keep=3, extend=[], tails=[[5, 6, 9], [5, 7, 9]])
    # no margin: the agreed "a x" goes into the cache, the tails are what differs
    plan = plan_row(cached, 2, fulls, prefix, closing=S, max_length=100, margin=0)
    assert plan == RowPlan(keep=3, extend=[5], tails=[[6, 9], [7, 9]])
    # a consistent cache is kept whole, even beyond the margin
    plan = plan_row(C + [1, 5], 2, fulls, prefix, closing=S, max_length=100, margin=2)
    assert plan.keep == 4 and plan.extend == [] and plan.tails == [[6, 9], [7, 9]]
    # an empty cache gets the context at least, whatever the margin
    plan = plan_row([], 2, [C + [3], C + [4]], C, closing=S, max_length=100, margin=5)
    assert plan == RowPlan(keep=0, extend=C, tails=[[3, 9], [4, 9]])


def test_plan_open_convention_keeps_the_read_token_and_drops_what_does_not_fit():
    C = [101, 102]
    # open (no closing): the reward of the empty response is read at the context's last token
    plan = plan_row(C, 2, [C, C + [3]], C, closing=[], max_length=100, margin=0)
    assert plan == RowPlan(keep=1, extend=[], tails=[[102], [102, 3]])
    # a candidate past max_length with its closing token has no tail (scored from text)
    plan = plan_row([], 2, [C + [3], C + [3, 4, 5]], C, closing=[9], max_length=5, margin=0)
    assert plan.tails[1] is None and plan.tails[0] is not None
    plan = plan_row(C, 2, [C + [3, 4, 5]], C, closing=[9], max_length=5, margin=0)
    assert plan == RowPlan(keep=2, extend=[], tails=[None])


@pytest.mark.slow
def test_real_smollm2_policy_with_a_wordpiece_rm_equals_full_text_rescoring(tokenizers):
    """The real policy (2-layer slice, real text: spaces, punctuation, words that grow)
    guided by a tiny RM on the MiniLM WordPiece tokenizer."""
    from sp_prm_lib.config.profile import ModelSpec
    from sp_prm_lib.models.loading import load_policy

    try:
        model, tok = load_policy(ModelSpec(id="HuggingFaceTB/SmolLM2-135M-Instruct", source="package", num_layers=2))
    except Exception as exc:  # the offline package is not installed
        pytest.skip(f"SmolLM2 not available: {exc}")
    policy = Policy(model.double(), tok)
    rm_model, rtok = tiny_model("llama-reward", tokenizers["minilm"], seed=2)
    rm = RewardModel(rm_model.double(), rtok, convention="closed")
    for method, cfg in [(args_greedy, ArgsConfig(k=10, max_new_tokens=24)), (cards, METHODS[3][2])]:
        scorer = RewardScorer(rm)
        fast = method(policy, scorer, PROMPTS, cfg)
        ref = method(policy, RewardScorer(rm, kv_cache=False), PROMPTS, cfg)
        assert [g.token_ids for g in fast] == [g.token_ids for g in ref]
        assert all(math.isclose(a.reward, b.reward, abs_tol=1e-5) for a, b in zip(fast, ref))
        assert scorer.stats.rm_tokens > 0
