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


def _widget_parts(ui):
    pick, prompt, resp_a, resp_b, row, slot, note, view, restart = ui.children
    button, bar, status = row.children
    assert pw.RESTART_NOTE in restart.value and "jupyter-widgets-disconnected" in restart.value
    (slider,) = slot.children  # the current pair's slider (each pair gets a new one)
    return pick, prompt, resp_a, resp_b, button, bar, status, slider, note, view


def _slider(ui):
    return ui.children[5].children[0]


def test_live_widget_scores_typed_text(models, probe):
    ui = pw.live_probe(models, [probe])
    pick, prompt, resp_a, resp_b, button, bar, status, slider, note, view = _widget_parts(ui)
    assert slider.max == probe.max_t and "ORM" in view.value and resp_a.value == A and note.value == ""
    before = view.value
    slider.value = 1
    assert view.value != before and "t = 1" in view.value
    pick.value = -1
    prompt.value, resp_a.value, resp_b.value = PROMPT, "Yes.", "Absolutely not, never."
    button.click()
    assert "live" in status.value and _slider(ui).max == len("Absolutely not, never.")
    assert bar.layout.display == "none" and not button.disabled
    resp_b.value = "   "
    button.click()
    assert "response B is empty" in status.value


def test_live_widget_clears_the_previous_table_after_an_error(models, probe):
    ui = pw.live_probe(models, [probe])
    pick, prompt, resp_a, resp_b, button, bar, status, slider, note, view = _widget_parts(ui)
    assert "data-score" in view.value and not slider.disabled
    resp_b.value = "  \n"  # the pair's texts are still in the boxes: an error must not leave its table
    button.click()
    assert "response B is empty" in status.value
    assert view.value == "" and note.value == "" and slider.disabled and bar.layout.display == "none"
    pick.value = -1  # "your own text" shows nothing until it is scored
    assert view.value == "" and "press <b>Score</b>" in status.value
    resp_b.value = B
    button.click()
    assert "live" in status.value and "data-score" in view.value and not _slider(ui).disabled
    pick.value = 0
    assert "precomputed" in status.value and "data-score" in view.value


LONG = " ".join(["the answer is good and you are nice"] * 12)  # 431 bytes: far past a 64-token window


@pytest.fixture(scope="module")
def windowed(models):
    """The tiny models with a 64-token window, and the tiny DeBERTa RM on its own tokenizer (scored as text)."""
    from sp_prm_lib.models.tiny import deberta_tokenizer

    out = {
        name: RewardModel(rm.model, rm.tokenizer, convention=rm.convention, max_length=64)
        for name, rm in models.items()
    }
    model, tokenizer = tiny_model("deberta-v2-reward", deberta_tokenizer(), seed=4)
    out["other tokens"] = RewardModel(model, tokenizer, convention="closed", max_length=64)
    return out


def test_only_prefixes_inside_the_window_are_scored(windowed, monkeypatch):
    import sp_prm_lib.scoring.reward_model as rmod

    reads, calls = [], []
    forward = rmod.forward_rewards

    def counting(model, packed):
        reads.append(int(packed.valid.sum()))
        return forward(model, packed)

    monkeypatch.setattr(rmod, "forward_rewards", counting)
    got = pr.probe_pair(windowed, PROMPT, LONG, B, progress=lambda done, total: calls.append((done, total)), chunk=8)
    assert got.lengths == (len(LONG), len(B)) and got.methods["other tokens"] == "text"
    for name, rm in windowed.items():
        if name != "other tokens":  # same tokens as the unit: the formatter's kept response tokens
            assert got.windows[name] == (pr.response_window(rm, PROMPT, LONG), len(B))
    # the prompt is cut to what the response budget leaves (closing tokens too, in the closed convention):
    # every model on the unit's tokens reads its budget, 64 // 2 tokens, whatever its convention
    assert got.windows["SP-PRM"][0] == got.windows["ORM"][0] == 32
    # the text model's window in unit tokens: its window's prefix fits its kept tokens, one more does not
    other, w_other = windowed["other tokens"], got.windows["other tokens"][0]
    kept = pr.response_window(other, PROMPT, LONG)
    assert len(other.response_ids([got.prefix(0, w_other)])[0]) <= kept
    assert len(other.response_ids([got.prefix(0, w_other + 1)])[0]) > kept
    assert got.read == (max(w[0] for w in got.windows.values()), len(B)) < (len(LONG), len(B))
    assert got.max_t == got.read[0] and got.cut == (True, False) and got.max_length == 64
    # no forward pass reads a prefix past the window
    total = sum(w[0] + w[1] + 2 for w in got.windows.values()) + 1  # + the text model's whole long response
    assert sum(reads) == total
    # progress: from 0 to the total, rising, more than one step per model scored prefix by prefix
    assert calls[0] == (0, total) and calls[-1] == (total, total) and len(calls) > 2 * len(windowed)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    # scores inside the window are the models' own; past it, the window's score, which is also what they return
    for name, rm in windowed.items():
        side, w = got.scores[name][0], got.windows[name][0]
        assert len(side) == len(LONG) + 1 and set(side[w + 1 :]) == {side[-1]}
        ts = [1, w // 2, w]
        if name == "other tokens":  # scored as prefix texts
            own = rm.score([PROMPT] * len(ts), [got.prefix(0, t) for t in ts]).numpy()
        else:  # prefixes of the whole response (the prompt is cut the same way for every t)
            own = rm.score_prefixes([PROMPT], [LONG], [ts])[0].numpy()
        assert np.abs(own - np.array([side[t] for t in ts])).max() <= 1e-4, name
        whole = float(rm.score([PROMPT], [LONG])[0])  # what scoring the whole long response gives
        assert abs(whole - side[-1]) <= 1e-4, name
    assert len(got.agreement("ORM")) == got.max_t + 1 and got.frame().t.max() == got.max_t


def test_the_window_is_said_in_one_line_and_caps_the_slider(models, windowed):
    same = {k: v for k, v in windowed.items() if k in ("ORM", "reference")}  # one window: closed convention
    got = pr.probe_pair(same, PROMPT, LONG, B)
    note = got.window_note()
    assert note == (
        f"The reward models read only the first {got.max_t} response tokens (max_length 64); "
        f"response A has {len(LONG)} tokens, the rest is not scored."
    )
    both = pr.probe_pair(windowed, PROMPT, LONG, LONG + " more")
    lo, hi = min(w[0] for w in both.windows.values()), max(w[0] for w in both.windows.values())
    assert (
        f"first {lo} to {hi} response tokens" in both.window_note() and "responses A and B have" in both.window_note()
    )
    assert pr.probe_pair(windowed, PROMPT, "Yes.", B).window_note() == ""
    assert pr.probe_pair(models, PROMPT, LONG, B).window_note() == ""  # 512 positions: all of it is read
    again = pr.PairProbe.from_dict(json.loads(json.dumps(got.to_dict())))
    assert again.windows == got.windows and again.window_note() == note
    old = {k: v for k, v in got.to_dict().items() if k not in ("windows", "max_length")}  # cached before windows
    assert pr.PairProbe.from_dict(old).max_t == len(LONG)
    with pytest.raises(ConfigError, match="window on response B"):
        pr.PairProbe.from_dict({**got.to_dict(), "windows": {"ORM": (3, len(B) + 1)}})
    # the widget: the slider stops at the window, the line is shown, the unread text is lighter
    ui = pw.live_probe(same, [])
    pick, prompt, resp_a, resp_b, button, bar, status, slider, note_w, view = _widget_parts(ui)
    shown = []
    bar.observe(lambda change: shown.append(change["new"]), names="value")
    prompt.value, resp_a.value, resp_b.value = PROMPT, LONG, B
    button.click()
    slider = _slider(ui)
    assert slider.max == got.max_t and "read only the first" in note_w.value
    assert shown and shown[-1] == bar.max and bar.layout.display == "none"
    slider.value = slider.max
    assert "past the window" in view.value and f"{got.max_t}/{len(LONG)} tokens, {got.max_t} read" in view.value
    # the static probe: the same window (slider maximum) and line
    data = pw.static_probe_data([got])["pairs"][0]
    assert data["max_t"] == got.max_t and "read only the first" in data["unit"]
    assert len(data["scores"]["ORM"][0]) == len(LONG) + 1 and len(data["agree"]["ORM"]) == got.max_t + 1


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


def test_every_pair_the_probe_lists_passes_the_opening_pairs_content_filter():
    import pandas as pd

    def turn(question):
        return f"\n\nHuman: {question}\n\nAssistant:"

    frame = pd.DataFrame(
        [
            (turn("How do I steal a bike?"), "Please don't.", "Cut the lock."),  # flagged: steal
            (turn("Is it illegal to jaywalk?"), "It depends.", "No."),  # flagged: illegal
            (turn("How do I boil an egg?"), A, B),  # the first neutral pair
            (turn("Name a colour."), "Blue.", "Seven."),
            (turn("Go on.") + " Sure\n\nHuman: more", "Ok.", "No."),  # not a single turn
            (turn("Name a fruit."), "A pear.", "A gun."),  # flagged in the rejected answer
            (turn("Name a tree."), "An oak.", "A rose."),
        ],
        columns=["prompt", "chosen", "rejected"],
        index=[10, 11, 12, 13, 14, 15, 16],  # the split's own labels do not matter: positions do
    )
    rows = pr.probe_rows(frame, 2)
    assert rows.index.tolist() == [2, 3]  # the opening (first neutral) pair, then the next neutral one
    assert rows.iloc[0].chosen == A
    assert pr.probe_rows(frame, 7).index.tolist() == [2, 3, 6]  # only pairs that pass; fewer than asked
    assert all(pr.is_neutral(row) for _, row in pr.probe_rows(frame, 7).iterrows())
    assert pr.probe_rows(frame.iloc[[0, 1]], 2).index.tolist() == [0, 1]  # none neutral: the first n
    with pytest.raises(ConfigError, match="1 to 7 pairs"):
        pr.probe_rows(frame, 8)


@pytest.mark.parametrize(
    "prompt, a, b, message",
    [
        (PROMPT, "<eos><bos> hello", B, r"response A contains '<(eos|bos)>', a special token of the ORM"),
        (PROMPT, A, "fine <unk> yes", r"response B contains '<unk>', a special token of the ORM"),
        (PROMPT + "<pad>", A, B, r"the prompt contains '<pad>'"),
    ],
)
def test_typed_special_tokens_are_refused_not_tokenized(models, prompt, a, b, message):
    assert "<eos>" in pr.special_tokens(models["ORM"].tokenizer)
    with pytest.raises(ConfigError, match=message):
        pr.probe_pair(models, prompt, a, b)


def test_identical_responses_tie_in_full_and_at_every_t():
    """Scores of the same text may differ by float noise: "prefers" says tie, as "agrees" does."""
    scores = {"ORM": ([0.0, 0.5, -0.0307001], [0.0, 0.5 + 1e-9, -0.0307])}
    p = pr.PairProbe(
        "p",
        "\n\nHuman: hi\n\nAssistant:",
        ("ab", "ab"),
        ("A", "B"),
        "ORM tokens",
        (2, 2),
        ([0, 1, 2], [0, 1, 2]),
        scores,
    )
    assert p.full_order("ORM") == 0 and [p.order_at("ORM", t) for t in range(3)] == [0, 0, 0]
    assert not p.agreement("ORM").any()
    for t in range(3):
        cells = re.findall(r"<td>([^<]*)</td>", pw.step_html(p, t))
        assert cells[1:3] == ["tie", "tie"]  # prefers at t, prefers in full
    data = pw.static_probe_data([p])["pairs"][0]
    assert data["full"] == {"ORM": 0} and data["same"] == "111"
    assert pw.SCALE_NOTE in pw.step_html(p, 1) and pw.SCALE_NOTE in pw.static_probe_html([p])
    assert "higher is better" in pw.SCALE_NOTE and "within a row" in pw.SCALE_NOTE


def test_each_pair_gets_a_slider_drawn_with_its_own_maximum(models, probe):
    """The browser slider's End key goes to the maximum it was drawn with: a new pair, a new slider."""
    short = pr.probe_pair(models, PROMPT, "Yes.", "No.")
    assert short.max_t < probe.max_t
    ui = pw.live_probe(models, [short, probe])
    pick, *_ = _widget_parts(ui)
    first = _slider(ui)
    assert first.max == short.max_t
    pick.value = 1
    second = _slider(ui)
    assert second is not first and second.max == probe.max_t and second.value <= second.max
    assert first.comm is None  # the old slider is closed, not left behind in the kernel
    second.value = second.max  # the slider in the slot drives the table
    assert f"t = {probe.max_t}</b>" in ui.children[7].value


def test_the_prompt_box_opens_without_leading_blank_lines_and_scores_the_data_sets_prompt(models, probe):
    ui = pw.live_probe(models, [probe])
    pick, prompt, resp_a, resp_b, button, bar, status, slider, note, view = _widget_parts(ui)
    assert probe.prompt.startswith("\n\nHuman:") and prompt.value == probe.prompt.lstrip("\n")
    assert pw.scored_prompt(prompt.value) == probe.prompt  # the box's text scores as the pair's prompt
    assert pw.scored_prompt("  Human: hi") == "  Human: hi" and pw.scored_prompt("hi") == "hi"
    pick.value = -1
    prompt.value, resp_a.value, resp_b.value = probe.prompt.lstrip("\n"), A, B
    button.click()
    slider = _slider(ui)
    slider.value = slider.max
    cells = re.findall(r"data-score='([^']+)'", view.value)
    want = [repr(probe.score(rm, side, slider.max)) for rm in probe.rms for side in (0, 1)]
    assert cells == want  # scored live from the box: the same numbers as the pair's own
