"""Judges: templates, verdict parsing, both-order pairing, the three backends, bad input.

The API backend is exercised against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.judge import (
    Comparison,
    Judge,
    JudgeError,
    Verdict,
    combine,
    judge_agreement,
    judge_pairs,
    judged_accuracy,
    make_judge,
    parse_verdict,
    templates,
    win_tie_rate,
)
from sp_prm_lib.judge.api import OpenAIChatJudge
from sp_prm_lib.judge.local import LocalLMJudge
from sp_prm_lib.models.tiny import tiny_model

PROMPT = "\n\nHuman: What is a good name for a cat?\n\nAssistant:"


# -- templates and parsing ------------------------------------------------------
def test_hh_template_fills_history_and_answers_once():
    messages = templates.hh_messages(PROMPT, "Whiskers [ANSWER B]", "Tom")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "partial answers" in messages[0]["content"]
    user = messages[1]["content"]
    assert "Human: What is a good name for a cat?" in user and not user.rstrip().endswith("Assistant:")
    assert "(A) Whiskers [ANSWER B]\n\n(B) Tom" in user  # a placeholder inside an answer stays literal
    assert "verdict: -1" in user and '"Verdict":<OUTPUT>' in user


def test_gsm8k_template():
    user = templates.gsm8k_messages("What is 2+2?", "2+2=4. #### 4")[1]["content"]
    assert "**Problem:** What is 2+2?" in user and "Model's Solution: 2+2=4. #### 4" in user
    assert "1 = Fully Correct, 0 = Contains Errors" in user


@pytest.mark.parametrize(
    "reply, expected",
    [
        ('{"Explanation":"A is kinder", "Verdict":1}', 1),
        ('{"Explanation": "B", "Verdict": 2}', 2),
        ('```json\n{"Explanation": "same", "Verdict": -1}\n```', -1),
        ('Reasoning... "Verdict": 1', 1),  # with a space: the released regex missed this
        ('{"verdict": "2"}', 2),
        ("Verdict: 2", 2),
        ('{"Verdict": 1.0}', 1),
        ('First "Verdict": 1 ... on reflection {"Verdict": 2}', 2),
        ('{"Verdict": 3}', None),
        ('{"Verdict": 0}', None),  # the released code's tie value is not in the paper's template
        ("I prefer answer A.", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_verdict(reply, expected):
    assert parse_verdict(reply, templates.HH_VERDICTS) == expected


def test_parse_grading_verdict():
    assert parse_verdict('{"Explanation": "ok", "Verdict": 0}', templates.GSM8K_VERDICTS) == 0
    assert parse_verdict('{"Verdict": 2}', templates.GSM8K_VERDICTS) is None


# -- pairing ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "ab, ba, outcome",
    [
        (1, 2, "a"),
        (2, 1, "b"),
        (1, 1, "tie"),
        (2, 2, "tie"),
        (-1, -1, "tie"),
        (1, -1, "tie"),
        (None, 2, "unparseable"),
        (1, None, "unparseable"),
    ],
)
def test_combine(ab, ba, outcome):
    assert combine(ab, ba) == outcome


class ScriptedJudge(Judge):
    """Prefers the longer answer; optionally always says A; optionally never parses."""

    name = "scripted"

    def __init__(self, mode="longer"):
        self.mode, self.calls = mode, 0

    def compare(self, items):
        self.calls += 1
        out = []
        for c in items:
            if self.mode == "garbage":
                out.append(Verdict(None, "no idea"))
            elif self.mode == "first":
                out.append(Verdict(1, "A"))
            else:
                out.append(
                    Verdict(
                        -1 if len(c.answer_a) == len(c.answer_b) else (1 if len(c.answer_a) > len(c.answer_b) else 2)
                    )
                )
        return out


def test_both_orders_and_win_tie_rate():
    prompts = ["p1", "p2", "p3", "p4"]
    method = ["long answer", "x", "same", "long answer"]
    base = ["short", "longer one", "four", "short"]
    table = judge_pairs(ScriptedJudge(), prompts, method, base)
    assert table.outcome.tolist() == ["a", "b", "tie", "a"]
    summary = win_tie_rate(ScriptedJudge(), prompts, method, base, n_boot=200)
    assert (summary["wins"], summary["ties"], summary["losses"], summary["unparseable"]) == (2, 1, 1, 0)
    assert summary["win_tie_rate"] == pytest.approx(0.75)
    assert summary["win_tie_ci_low"] <= 0.75 <= summary["win_tie_ci_high"]


def test_position_bias_gives_ties_and_garbage_is_never_a_win():
    biased = judge_pairs(ScriptedJudge("first"), ["p"] * 3, ["a", "bb", "c"], ["x", "y", "zz"])
    assert set(biased.outcome) == {"tie"} and not biased.consistent.any()
    summary = win_tie_rate(ScriptedJudge("garbage"), ["p", "q"], ["a", "b"], ["c", "d"], n_boot=10)
    assert summary["wins"] == 0 and summary["unparseable"] == 2 and summary["unparseable_rate"] == 1.0


def test_identical_requests_are_sent_once():
    class Counting(ScriptedJudge):
        def compare(self, items):
            self.seen = len(items)
            return super().compare(items)

    judge = Counting()
    judge_pairs(judge, ["p", "p"], ["a", "a"], ["b", "b"])
    assert judge.seen == 2  # (p, a, b) and (p, b, a)


# -- reward-model proxy -------------------------------------------------------------
class LengthRM:
    """A RewardModel-like scorer: reward = number of characters."""

    name = "length"

    def __init__(self):
        self.scored = 0

    def score(self, prompts, responses):
        self.scored += len(responses)
        return torch.tensor([float(len(r)) for r in responses])


def test_rm_proxy_prefers_higher_reward_and_ties_within_eps():
    rm = LengthRM()
    judge = make_judge("rm-proxy", rm=rm, eps=0.5)
    table = judge_pairs(judge, ["p"] * 3, ["long answer", "a", "abc"], ["short", "long answer", "xyz"])
    assert table.outcome.tolist() == ["a", "b", "tie"]
    assert rm.scored == 5  # both orders, but each distinct answer scored once
    with pytest.raises(ConfigError, match="cannot grade"):
        judge.grade(["q"], ["s"])


def test_judge_agreement_with_labels():
    import pandas as pd

    pairs = pd.DataFrame(
        {
            "prompt": ["p"] * 4,
            "chosen": ["long one", "long one", "ab", "x"],
            "rejected": ["short", "tiny", "cd", "longer"],
        }
    )
    result = judge_agreement(make_judge("rm-proxy", rm=LengthRM()), pairs, n_boot=100)
    assert result["agreement"] == pytest.approx(0.5)
    assert result["tie_rate"] == pytest.approx(0.25) and result["disagreement_rate"] == pytest.approx(0.25)
    assert result["decided_agreement"] == pytest.approx(2 / 3) and result["unparseable_rate"] == 0


def test_debiased_agreement_reads_through_position_bias():
    import pandas as pd

    class Biased(Judge):
        name = "biased"

        def compare(self, items):  # always says A, but its margin grows with A's length
            return [
                Verdict(1, "", {1: 5.0 + 0.1 * (len(c.answer_a) - len(c.answer_b)), 2: 0.0, -1: -9.0}) for c in items
            ]

    pairs = pd.DataFrame(
        {
            "prompt": ["p"] * 3,
            "chosen": ["long answer", "longer answer", "x"],
            "rejected": ["short", "tiny", "much longer"],
        }
    )
    result = judge_agreement(Biased(), pairs, n_boot=50)
    assert result["agreement"] == 0 and result["tie_rate"] == 1
    assert result["debiased_agreement"] == pytest.approx(2 / 3)
    assert np.isnan(judge_agreement(ScriptedJudge(), pairs, n_boot=50)["debiased_agreement"])


# -- bad input ------------------------------------------------------------------------
def test_bad_input_errors_are_one_line(monkeypatch):
    judge = ScriptedJudge()
    with pytest.raises(ConfigError, match="no generations to judge") as err:
        judge_pairs(judge, [], [], [])
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="2 prompts but 1 responses_a"):
        judge_pairs(judge, ["p", "q"], ["a"], ["b", "c"])
    with pytest.raises(ConfigError, match=r"unknown judge backend 'gpt5' \(known: api, local-lm, rm-proxy, gold\)"):
        make_judge("gpt5")
    for var in ("SP_PRM_JUDGE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="needs a key: set SP_PRM_JUDGE_API_KEY") as err:
        make_judge("api", base_url="http://127.0.0.1:9")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="needs model= and tokenizer="):
        make_judge("local-lm")


# -- local causal LM ------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_judge():
    model, tok = tiny_model("llama-causal-lm", seed=7)
    return LocalLMJudge(model, tok, batch_size=3)


def _naive_logprob(model, prompt_ids, cand_ids):
    ids = torch.tensor([prompt_ids + cand_ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), -1)
    return sum(logp[len(prompt_ids) - 1 + k, tok].item() for k, tok in enumerate(cand_ids))


def test_local_lm_logprobs_match_a_plain_forward(local_judge):
    convs = [
        templates.hh_messages(PROMPT, "Whiskers", "Tom"),
        templates.hh_messages(PROMPT, "A much longer answer", "B"),
    ]
    prompts = [local_judge.prompt_ids(m) for m in convs]
    cands = local_judge.candidate_ids(templates.HH_VERDICTS)
    assert max(len(c) for c in cands) > 1  # "-1" takes the KV-cache continuation path
    got = local_judge.candidate_logprobs(prompts, cands)
    for row, p in enumerate(prompts):
        for j, c in enumerate(cands):
            assert got[row, j].item() == pytest.approx(_naive_logprob(local_judge.model, p, c), abs=1e-4)


def test_local_lm_verdicts_are_deterministic_and_batch_independent(local_judge):
    items = [Comparison(PROMPT, a, b) for a, b in [("Whiskers", "Tom"), ("Tom", "Whiskers"), ("x", "yy"), ("q", "q")]]
    first = local_judge.compare(items)
    single = [local_judge.compare([c])[0] for c in items]
    assert [v.value for v in first] == [v.value for v in single]
    assert all(v.value in templates.HH_VERDICTS for v in first)
    for a, b in zip(first, single):
        assert a.scores == pytest.approx(b.scores, abs=1e-4)
    graded = judged_accuracy(local_judge, ["What is 2+2?"], ["4"])
    assert graded["n"] == 1 and graded["unparseable"] == 0


# -- API backend against a real local HTTP server ---------------------------------------
def _completion(content: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


class Server:
    """A chat-completions server on 127.0.0.1; ``script`` is a list of actions per request
    (the last repeats): ("ok", content) | ("raw", status, body) | ("hang",)."""

    def __init__(self, script):
        self.script, self.requests, self.release = list(script), [], threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                action = outer.script[min(len(outer.requests), len(outer.script)) - 1]
                if action[0] == "hang":
                    outer.release.wait(10)
                    return
                status, payload = (200, _completion(action[1])) if action[0] == "ok" else (action[1], action[2])
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    servers = []

    def start(script):
        servers.append(Server(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _api(server, tmp_path, **kwargs):
    kwargs = {
        "model": "judge-model",
        "api_key": "sk-test",
        "timeout": 2.0,
        "max_retries": 2,
        "backoff": 0.01,
        "concurrency": 3,
        "cache_dir": tmp_path / "cache",
        **kwargs,
    }
    return OpenAIChatJudge(base_url=server.url, **kwargs)


def _cached_files(tmp_path):
    return list((tmp_path / "cache").rglob("*.json")) if (tmp_path / "cache").exists() else []


def test_api_parses_spaced_verdict_and_caches(serve, tmp_path):
    server = serve([("ok", 'The first is better.\n{"Explanation": "kinder", "Verdict": 1}')])
    judge = _api(server, tmp_path)
    verdicts = judge.compare([Comparison(PROMPT, "Whiskers", "Tom")])
    assert verdicts[0].value == 1
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "judge-model" and request["body"]["temperature"] == 0
    assert request["body"]["messages"][0]["content"] == templates.HH_SYSTEM
    assert len(_cached_files(tmp_path)) == 1
    again = _api(server, tmp_path).compare([Comparison(PROMPT, "Whiskers", "Tom")])
    assert again[0].value == 1 and len(server.requests) == 1  # the re-run cost nothing


def test_api_retries_429_then_succeeds(serve, tmp_path):
    server = serve([("raw", 429, b'{"error": "slow down"}'), ("ok", '{"Verdict":2}')])
    judge = _api(server, tmp_path)
    assert judge.compare([Comparison(PROMPT, "a", "b")])[0].value == 2
    assert len(server.requests) == 2 and judge.requests_sent == 2


def test_api_malformed_body_is_retried_then_fails_uncached(serve, tmp_path):
    server = serve([("raw", 200, b"this is {not json"), ("ok", '{"Verdict": 1}')])
    assert _api(server, tmp_path).compare([Comparison(PROMPT, "a", "b")])[0].value == 1
    broken = serve([("raw", 200, b'{"choices": "nope"')])
    judge = _api(broken, tmp_path / "other", max_retries=1)
    with pytest.raises(JudgeError, match="malformed reply") as err:
        judge.compare([Comparison(PROMPT, "c", "d")])
    assert "nothing cached" in str(err.value) and "\n" not in str(err.value)
    assert len(broken.requests) == 2 and _cached_files(tmp_path / "other") == []


def test_api_unparseable_reply_is_counted_apart(serve, tmp_path):
    server = serve([("ok", "Both are fine, I cannot decide.")])
    summary = win_tie_rate(_api(server, tmp_path), [PROMPT], ["a"], ["b"], n_boot=10)
    assert summary["unparseable"] == 1 and summary["wins"] == 0


def test_api_refusal_status_fails_at_once(serve, tmp_path):
    server = serve([("raw", 401, b'{"error": {"message": "bad key"}}')])
    with pytest.raises(JudgeError, match="HTTP 401"):
        _api(server, tmp_path).compare([Comparison(PROMPT, "a", "b")])
    assert len(server.requests) == 1 and _cached_files(tmp_path) == []


def test_api_server_that_never_answers_fails_in_bounded_time(serve, tmp_path):
    server = serve([("hang",)])
    judge = _api(server, tmp_path, timeout=0.3, max_retries=1)
    start = time.perf_counter()
    with pytest.raises(JudgeError, match=r"no answer within 0.3 s after 2 attempts; nothing cached"):
        judge.compare([Comparison(PROMPT, "a", "b")])
    assert time.perf_counter() - start < 5
    assert _cached_files(tmp_path) == []


def test_api_concurrent_requests_keep_order(serve, tmp_path):
    server = serve([("ok", '{"Verdict": 1}')])
    items = [Comparison(PROMPT, f"answer {i}", "other") for i in range(7)]
    verdicts = _api(server, tmp_path).compare(items)
    assert [v.value for v in verdicts] == [1] * 7 and len(server.requests) == 7
    graded = judged_accuracy(_api(server, tmp_path), ["q"], ["s"])
    assert graded["correct"] == 1


def test_redact_removes_keys_tokens_and_url_credentials():
    from sp_prm_lib.judge.api import redact

    text = (
        "POST https://user:s3cret@host/v1?api_key=abc123&x=1 failed: "
        "echo Authorization: Bearer sk-live-XYZ and sk-live-XYZ again"
    )
    out = redact(text, ("sk-live-XYZ",))
    assert "s3cret" not in out and "abc123" not in out and "sk-live-XYZ" not in out
    assert "https://***@host/v1?api_key=***&x=1" in out


def test_api_error_lines_never_quote_the_key(serve, tmp_path):
    key = "sk-test-SECRET-123"
    server = serve([("raw", 401, f'{{"error": "bad header Authorization: Bearer {key}"}}'.encode())])
    url = server.url.replace("http://", "http://user:pw@") + "?key=k9"
    judge = OpenAIChatJudge(base_url=url, api_key=key, cache_dir=tmp_path, max_retries=0, timeout=2.0)
    with pytest.raises(JudgeError, match="HTTP 401") as info:
        judge.compare([Comparison(PROMPT, "a", "b")])
    message = str(info.value)
    assert key not in message and ":pw@" not in message and "k9" not in message


def test_judge_identity_follows_the_environment(monkeypatch):
    from sp_prm_lib.judge import judge_identity

    monkeypatch.setenv("SP_PRM_JUDGE_MODEL", "model-a")
    monkeypatch.setenv("SP_PRM_JUDGE_BASE_URL", "https://k:secret@one.invalid/v1")
    first = judge_identity("api")
    monkeypatch.setenv("SP_PRM_JUDGE_MODEL", "model-b")
    second = judge_identity("api")
    assert first["model"] == "model-a" and second["model"] == "model-b" and first != second
    assert "secret" not in first["base_url"]
    assert judge_identity("api", model="gpt-x")["model"] == "gpt-x"
