"""The prefix probe on screen: a live ipywidgets probe and a static HTML/JavaScript one.

The numbers come from ``sp_prm_lib.experiments.probe`` (``PairProbe``); this
module only shows them. The static probe's script and style are package data
files (``assets/probe.js``, ``assets/probe.css``): plain DOM code, no library,
no network; data are read from the JSON ``<script>`` inside the probe's own
root element and every text is set with ``textContent``.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.experiments.probe import PairProbe, probe_pair, validate


@cache
def _asset(name: str) -> str:
    return resources.files("sp_prm_lib.report").joinpath("assets", name).read_text(encoding="utf-8")


def _last_turn(prompt: str, width: int = 70) -> str:
    text = prompt.strip()
    if "Human:" in text:
        text = text.rsplit("Human:", 1)[1].split("Assistant:", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _order_word(diff: float, labels: Sequence[str]) -> str:
    return labels[0] if diff > 0 else labels[1] if diff < 0 else "tie"


def step_html(probe: PairProbe, t: int) -> str:
    """HTML of the probe at prefix length ``t``: a score table and both prefix texts."""
    t = max(0, min(int(t), probe.max_t))
    a_lab, b_lab = (html.escape(x) for x in probe.labels)
    head = (
        f"<tr><th>reward model</th><th>{a_lab}[:t]</th><th>{b_lab}[:t]</th><th>prefers at t</th>"
        "<th>prefers in full</th><th>agrees</th></tr>"
    )
    body = []
    for rm in probe.rms:
        a, b = probe.score(rm, 0, t), probe.score(rm, 1, t)
        agree = bool(probe.agreement(rm)[t])
        full = probe.scores[rm][0][-1] - probe.scores[rm][1][-1]
        body.append(
            f"<tr><td>{html.escape(rm)}</td><td>{a:+.3f}</td><td>{b:+.3f}</td>"
            f"<td>{html.escape(_order_word(a - b, probe.labels))}</td>"
            f"<td>{html.escape(_order_word(full, probe.labels))}</td>"
            f"<td style='color:{'#1a7f37' if agree else '#cf222e'}'>{'yes' if agree else 'no'}</td></tr>"
        )
    texts = []
    for s, lab in enumerate(probe.labels):
        shown, rest = probe.prefix(s, t), probe.responses[s][len(probe.prefix(s, t)) :]
        texts.append(
            f"<div style='flex:1;min-width:14em'><b>{html.escape(lab)}</b> "
            f"({min(t, probe.lengths[s])}/{probe.lengths[s]} tokens)<div style='white-space:pre-wrap;"
            f"border:1px solid #ccc;padding:4px;max-height:12em;overflow:auto'>{html.escape(shown)}"
            f"<span style='color:#aaa'>{html.escape(rest)}</span></div></div>"
        )
    return (
        f"<div><b>t = {t}</b> {html.escape(probe.unit)} (of {probe.lengths[0]} / {probe.lengths[1]})"
        f"<table>{head}{''.join(body)}</table>"
        f"<div style='display:flex;gap:1em;flex-wrap:wrap'>{''.join(texts)}</div></div>"
    )


def live_probe(models: Mapping[str, object], probes: Sequence[PairProbe] = ()):
    """An ipywidgets probe (needs a running kernel): pick a pair or type your own, move the slider."""
    import ipywidgets as w

    options = [(f"{p.pair_id}: {_last_turn(p.prompt)}", i) for i, p in enumerate(probes)]
    options.append(("your own text (edit below, then press Score)", -1))
    pick = w.Dropdown(options=options, value=options[0][1], description="pair", layout=w.Layout(width="95%"))
    box = dict(layout=w.Layout(width="95%", height="5em"))
    prompt = w.Textarea(description="prompt", **box)
    resp_a = w.Textarea(description="response A", **box)
    resp_b = w.Textarea(description="response B", **box)
    button = w.Button(description="Score", button_style="primary", tooltip="score every prefix of A and B")
    status = w.HTML()
    slider = w.IntSlider(
        description="t (tokens)", min=0, max=1, value=1, continuous_update=True, layout=w.Layout(width="95%")
    )
    view = w.HTML()
    state = {"probe": None}

    def show(*_):
        if state["probe"] is not None:
            view.value = step_html(state["probe"], slider.value)

    def use(probe: PairProbe):
        state["probe"] = probe
        slider.max = probe.max_t
        slider.value = min(max(1, probe.max_t // 2), probe.max_t)
        show()

    def on_pick(change):
        i = change["new"] if isinstance(change, dict) else change
        if i is None or i < 0:
            status.value = "Type a prompt and two responses, then press <b>Score</b>."
            return
        p = probes[i]
        prompt.value, resp_a.value, resp_b.value = p.prompt, p.responses[0], p.responses[1]
        status.value = f"{html.escape(p.pair_id)} (A = {p.labels[0]}, B = {p.labels[1]}; precomputed)"
        use(p)

    def on_score(_):
        status.value = "scoring every prefix\u2026"
        try:
            probe = probe_pair(models, prompt.value, resp_a.value, resp_b.value)
        except ConfigError as err:
            status.value = f"<span style='color:#cf222e'>{html.escape(str(err))}</span>"
            return
        pick.value = -1
        status.value = "scored your text live"
        use(probe)

    pick.observe(on_pick, names="value")
    button.on_click(on_score)
    slider.observe(show, names="value")
    if probes:
        on_pick(0)
    else:
        on_pick(-1)
    return w.VBox([pick, prompt, resp_a, resp_b, w.HBox([button, status]), slider, view])


def _json_for_script(value) -> str:
    """JSON that is safe inside an HTML <script> element."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def static_probe_data(probes: Sequence[PairProbe], digits: int = 4) -> dict:
    """The JSON the static probe embeds: texts, prefix ends, rounded scores, agreement strings."""
    if not probes:
        raise ConfigError("the static probe needs at least one precomputed pair")
    rms = probes[0].rms
    pairs = []
    for p in probes:
        validate(p)
        if p.rms != rms:
            raise ConfigError(f"probe pair {p.pair_id!r} has reward models {p.rms}, expected {rms}")
        pairs.append(
            {
                "title": f"{p.pair_id}: {_last_turn(p.prompt)}",
                "prompt": p.prompt,
                "responses": list(p.responses),
                "labels": list(p.labels),
                "unit": p.unit,
                "lengths": list(p.lengths),
                "max_t": p.max_t,
                "ends": [list(e) for e in p.ends],
                "scores": {rm: [[round(x, digits) for x in side] for side in p.scores[rm]] for rm in rms},
                "agree": {rm: "".join("1" if a else "0" for a in p.agreement(rm)) for rm in rms},
            }
        )
    return {"rms": rms, "pairs": pairs}


def static_probe_html(probes: Sequence[PairProbe], element_id: str | None = None) -> str:
    """Self-contained HTML + JavaScript probe over precomputed pairs (no kernel, no outside URL)."""
    data = static_probe_data(probes)
    eid = element_id or f"spprm-probe-{uuid.uuid4().hex[:10]}"
    if not eid.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"element_id must be letters, digits, '-' or '_', got {eid!r}")
    rows = "".join(
        f"<tr data-rm='{html.escape(rm)}'><td>{html.escape(rm)}</td><td data-role='score' data-side='a'></td>"
        f"<td data-role='score' data-side='b'></td><td data-role='at-t'></td><td data-role='full'></td>"
        f"<td data-role='agree'></td></tr>"
        for rm in data["rms"]
    )
    cols = "".join(
        f"<div><b data-role='label-{s}'></b> (<span data-role='count-{s}'></span>)"
        f"<div class='spprm-box'><span data-role='prefix-{s}'></span>"
        f"<span class='spprm-rest' data-role='rest-{s}'></span></div></div>"
        for s in (0, 1)
    )
    return (
        f"<div class='spprm-probe' id='{eid}'>"
        f"<style>{_asset('probe.css').replace('__ID__', eid)}</style>"
        f"<div><label for='{eid}-pair'>Pair</label><select id='{eid}-pair' data-role='pair'></select></div>"
        f"<div><label for='{eid}-t'>Prefix length t = <span data-role='t'></span></label>"
        f"<span data-role='unit'></span><br>"
        f"<input type='range' id='{eid}-t' data-role='slider' min='0' max='1' step='1' value='1'></div>"
        f"<details><summary>prompt</summary><div class='spprm-box' data-role='prompt'></div></details>"
        f"<table><thead><tr><th>reward model</th><th data-role='head-0'></th><th data-role='head-1'></th>"
        f"<th>prefers at t</th><th>prefers in full</th><th>agrees</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<div class='spprm-cols'>{cols}</div>"
        f"<noscript>This probe needs JavaScript.</noscript>"
        f"<script type='application/json' data-role='data'>{_json_for_script(data)}</script>"
        f"<script>{_asset('probe.js').replace('__ID__', eid)}</script>"
        f"</div>"
    )


def static_probe(probes: Sequence[PairProbe], element_id: str | None = None):
    """The static probe as an IPython ``HTML`` object (a text/html output)."""
    from IPython.display import HTML

    return HTML(static_probe_html(probes, element_id))
