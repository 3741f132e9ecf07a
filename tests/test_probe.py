"""The prefix probe on tiny random reward models: scores, agreement, static HTML, widgets, bad input."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments import probe as pr
from sp_prm_lib.models.tiny import tiny_model
from sp_prm_lib.report import probe_widget as pw
from sp_prm_lib.scoring.reward_model import RewardModel

PROMPT = "\n\nHuman: how do I boil an egg?\n\nAssistant:"
A = "Put it in boiling water for nine minutes."
B = "No idea, sorry."


@pytest.fixture(scope="module")
def models(one_torch_thread):
    (m1, t1), (m2, t2), (m3, t3) = (
        tiny_model(a, seed=s) for a, s in (("llama-reward", 1), ("gemma-reward", 2), ("deberta-v2-reward", 3))
    )
    return {
        "ORM": RewardModel(m1, t1, convention="closed"),
        "SP-PRM": RewardModel(m2, t2, convention="open"),
        "reference": RewardModel(m3, t3, convention="closed"),
    }


@pytest.fixture(scope="module")
def probe(models):
    return pr.probe_pair(models, PROMPT, A, B)


def _script(name):
    script = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake(pair_id="p", scores=None, lengths=(3, 2), prompt="\n\nHuman: hi\n\nAssistant:"):
    scores = scores or {"ORM": ([0.0, 1.0, -1.0, 2.0], [0.0, 0.5, 1.0])}
    return pr.PairProbe(
        pair_id, prompt, ("abc", "de"), ("chosen", "rejected"), "ORM tokens", lengths, ([0, 1, 2, 3], [0, 1, 2]), scores
    )


def test_every_prefix_scored_like_scoring_each_prefix_alone(models, probe):
    assert probe.lengths == (len(A), len(B))  # byte tokens
    assert probe.methods == {"ORM": "one-pass", "SP-PRM": "one-pass", "reference": "per-prefix"}
    for name, rm in models.items():
        for side, text in enumerate((A, B)):
            ts = range(1, len(text) + 1)
            prefixes = [probe.prefix(side, t) for t in ts]
            assert prefixes[-1] == text and all(text.startswith(p) for p in prefixes)
            alone = rm.score([PROMPT] * len(prefixes), prefixes).numpy()
            got = np.array(probe.scores[name][side][1:])
            assert np.abs(got - alone).max() <= 1e-4, name


def test_prefix_ends_follow_multibyte_characters(models):
    got = pr.probe_pair(models, PROMPT, "caf\u00e9 ok", "no")
    assert got.lengths[0] == len("caf\u00e9 ok".encode())  # the byte tokenizer's units
    assert got.prefix(0, 4) == "caf" and got.prefix(0, 5) == "caf\u00e9" and got.prefix(0, 99) == "caf\u00e9 ok"


def test_agreement_follows_the_full_pair_order():
    p = _fake()  # full: A 2.0 > B 1.0 (B whole from t=2)
    assert p.full_order("ORM") == 1
    assert p.agreement("ORM").tolist() == [False, True, False, True]  # t=0 tie, t=2: -1 < 1
    assert p.score("ORM", 1, 3) == 1.0  # B is shorter: used whole
    curve = pr.agreement_curve([p, _fake("q", {"ORM": ([0.0, -1.0, -1.0, -1.0], [0.0, 0.0, 0.0])})])
    assert curve.agreement.tolist() == [1.0, 0.5, 1.0]  # q agrees at every t >= 1
    assert set(p.frame().columns) >= {"t", "rm", "score_a", "score_b", "agree"}


def test_identical_prefixes_are_ties_in_the_probe():
    scores = {"ORM": ([0.0, 1e-8, 2e-8, 1.0], [0.0, 0.0, 0.0, 0.0])}  # packing noise on shared prefixes
    p = pr.PairProbe(
        "p",
        "\n\nHuman: hi\n\nAssistant:",
        ("abx", "aby"),
        ("chosen", "rejected"),
        "ORM tokens",
        (3, 3),
        ([0, 1, 2, 3], [0, 1, 2, 3]),
        scores,
    )
    assert p.identical().tolist() == [True, True, True, False]
    assert p.agreement("ORM").tolist() == [False, False, False, True]


def test_roundtrip_through_dict(probe):
    again = pr.PairProbe.from_dict(json.loads(json.dumps(probe.to_dict())))
    assert again.scores == probe.scores and again.ends == probe.ends and again.lengths == probe.lengths


def test_static_html_embeds_the_data_and_no_outside_url(tmp_path, probe):
    evil = _fake(
        "x",
        prompt="\n\nHuman: </script><script>alert(1)</script> & <b>\n\nAssistant:",
        scores={name: ([0.0, 1.0, -1.0, 2.0], [0.0, 0.5, 1.0]) for name in probe.rms},
    )
    text = pw.static_probe_html([probe, evil], element_id="probe-test")
    found = re.search(r"<script type='application/json' data-role='data'>(.*?)</script>", text, re.S)
    data = json.loads(found.group(1))
    assert data == json.loads(json.dumps(pw.static_probe_data([probe, evil])))
    assert data["pairs"][0]["responses"] == [A, B] and data["pairs"][1]["prompt"] == evil.prompt
    assert data["pairs"][0]["agree"]["ORM"] == "".join("1" if a else "0" for a in probe.agreement("ORM"))
    assert text.count("</script>") == 2 and "alert(1)</script>" not in text  # the data cannot end a script
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I)  # no URL of any host
    assert "id='probe-test'" in text and 'getElementById("probe-test")' in text
    page = tmp_path / "page.html"
    page.write_text(f"<html><body>{text}</body></html>", encoding="utf-8")
    assert _script("check_site").static.check_page(tmp_path, page) == []


def test_live_widget_scores_typed_text(models, probe):
    ui = pw.live_probe(models, [probe])
    pick, prompt, resp_a, resp_b, row, slider, view = ui.children
    button, status = row.children
    assert slider.max == probe.max_t and "ORM" in view.value and resp_a.value == A
    before = view.value
    slider.value = 1
    assert view.value != before and "t = 1" in view.value
    pick.value = -1
    prompt.value, resp_a.value, resp_b.value = PROMPT, "Yes.", "Absolutely not, never."
    button.click()
    assert "live" in status.value and slider.max == len("Absolutely not, never.")
    resp_b.value = "   "
    button.click()
    assert "response B is empty" in status.value


@pytest.mark.parametrize(
    "a, b, message",
    [("", B, "response A is empty"), (A, "  \n", "response B is empty"), (A, None, "response B must be text")],
)
def test_bad_pair_input_is_a_clear_config_error(models, a, b, message):
    with pytest.raises(ConfigError, match=message):
        pr.probe_pair(models, PROMPT, a, b)


def test_mismatched_lengths_are_config_errors(probe):
    with pytest.raises(ConfigError, match="has 3 scores for response A, which has 4 prefixes"):
        _fake(scores={"ORM": ([0.0, 1.0, 2.0], [0.0, 0.5, 1.0])})
    with pytest.raises(ConfigError, match="2 tokens but 4 prefix ends"):
        pr.PairProbe(
            "p",
            "q",
            ("abc", "de"),
            ("A", "B"),
            "t",
            (3, 2),
            ([0, 1, 2, 3], [0, 1, 2, 2]),
            {"ORM": ([0.0] * 4, [0.0] * 3)},
        )
    with pytest.raises(ConfigError, match="no tokens"):
        pr.PairProbe("p", "q", ("", "de"), ("A", "B"), "t", (0, 2), ([0], [0, 1, 2]), {"ORM": ([0.0], [0.0] * 3)})
    with pytest.raises(ConfigError, match="at least one"):
        pw.static_probe_html([])
    with pytest.raises(ConfigError, match="reward models"):
        pw.static_probe_html([probe, _fake()])
    with pytest.raises(ConfigError, match="element_id"):
        pw.static_probe_html([probe], element_id="a'><script>")


def test_browser_test_classifies_devtools_events():
    bt = _script("check_site").browser

    def request(rid, url):
        return {"method": "Network.requestWillBeSent", "params": {"requestId": rid, "request": {"url": url}}}

    def response(status, url):
        return {"method": "Network.responseReceived", "params": {"response": {"status": status, "url": url}}}

    def console(kind, text):
        return {"method": "Runtime.consoleAPICalled", "params": {"type": kind, "args": [{"value": text}]}}

    events = [
        request("1", "https://cdn.x.org/a.js"),
        request("2", "data:image/png;base64,AA"),
        response(404, "http://127.0.0.1:9/b.png"),
        response(404, "http://127.0.0.1:9/favicon.ico"),
        console("error", "boom"),
        console("log", "fine"),
    ]
    problems = bt.page_problems(events)
    assert problems == [
        "outside request: https://cdn.x.org/a.js",
        "HTTP 404: http://127.0.0.1:9/b.png",
        "console.error: boom",
    ]
    assert bt.pending(events) == {"1", "2"}


@pytest.mark.slow
def test_static_probe_responds_in_headless_chromium(tmp_path, probe):
    """The browser test drives the static probe of a one-page site (needs chromium)."""
    import shutil

    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed")
    other = pr.PairProbe.from_dict(
        {
            **probe.to_dict(),
            "pair_id": "second",
            "prompt": PROMPT + " again",
            "scores": {k: ([x + 0.5 for x in a], b) for k, (a, b) in probe.scores.items()},
        }
    )
    site = tmp_path / "html"
    site.mkdir()
    (site / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>p</title></head>"
        f"<body>{pw.static_probe_html([probe, other])}</body></html>",
        encoding="utf-8",
    )
    shots = tmp_path / "shots"
    rc = _script("check_site").main(
        [
            "browser",
            str(site),
            "--probe-page",
            "index.html",
            "--results-page",
            "index.html",
            "--screenshots",
            str(shots),
        ]
    )
    assert rc == 0
    assert (shots / "13_prefix_probe.png").stat().st_size > 1000
