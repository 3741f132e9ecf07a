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

OWN_TEXT = "your own text (edit below, then press Score)"


@cache
def _asset(name: str) -> str:
    return resources.files("sp_prm_lib.report").joinpath("assets", name).read_text(encoding="utf-8")


def _last_turn(prompt: str, width: int = 70) -> str:
    text = prompt.strip()
    if "Human:" in text:
        text = text.rsplit("Human:", 1)[1].split("Assistant:", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _order_word(order: float, labels: Sequence[str]) -> str:
    return labels[0] if order > 0 else labels[1] if order < 0 else "tie"


#: under every score table: what the numbers are
SCALE_NOTE = (
    "Scores are raw reward-model outputs: higher is better. Each reward model has its own scale, "
    "so compare within a row, not across rows."
)


#: shown by the live probe only when its kernel link is gone (a restarted or stopped kernel):
#: ipywidgets then marks every view ``jupyter-widgets-disconnected`` and the controls would
#: look alive but do nothing, so the style below hides them and shows this line instead
RESTART_NOTE = "Kernel restarted: run this cell again to use the probe."
_RESTART_HTML = (
    "<style>.spprm-live-restart-note{display:none;color:#cf222e;font-weight:bold}"
    ".spprm-live-probe.jupyter-widgets-disconnected .spprm-live-restart-note{display:block}"
    ".spprm-live-probe.jupyter-widgets-disconnected>:not(.spprm-live-restart){display:none!important}"
    ".spprm-live-probe.jupyter-widgets-disconnected::before,"
    ".spprm-live-probe.jupyter-widgets-disconnected .spprm-live-restart::before{display:none}"
    "</style><div class='spprm-live-restart-note' role='status'>" + html.escape(RESTART_NOTE) + "</div>"
)

#: HH-RLHF prompts start with a blank line before "Human:"; the prompt box shows them without it
#: (it would open on two empty lines) and scoring puts it back
HH_LEAD = "\n\n"


def shown_prompt(prompt: str) -> str:
    """The prompt as the live probe's box shows it: without its leading line breaks."""
    return prompt.lstrip("\r\n")


def scored_prompt(text: str) -> str:
    """The prompt the live probe scores for the box's ``text``: an HH-RLHF turn typed from
    "Human:" gets the data set's leading ``"\n\n"`` back; any other text is scored as typed."""
    return HH_LEAD + text if text.startswith("Human:") else text


def _unread_html(text: str, limit: int = 2000) -> str:
    """The part of a response past the window: very light, and cut after ``limit`` characters."""
    if not text:
        return ""
    more = len(text) - limit
    shown = html.escape(text[:limit]) + (f"\u2026 ({more:,} more characters)" if more > 0 else "")
    return f"<span style='color:#ccc' title='past the window: not read by the reward models'>{shown}</span>"


def step_html(probe: PairProbe, t: int) -> str:
    """HTML of the probe at prefix length ``t``: a score table and both prefix texts.

    Each score cell carries the unrounded score in ``data-score`` (and its tooltip).
    A response's text past ``t`` is grey; past the reward models' window lighter still (and cut short).
    """
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
        cells = "".join(
            f"<td data-score='{x!r}' data-side='{side}' title='{x:.6f}'>{x:+.3f}</td>"
            for side, x in (("a", a), ("b", b))
        )
        body.append(
            f"<tr data-rm='{html.escape(rm)}'><td>{html.escape(rm)}</td>{cells}"
            f"<td>{html.escape(_order_word(probe.order_at(rm, t), probe.labels))}</td>"
            f"<td>{html.escape(_order_word(probe.full_order(rm), probe.labels))}</td>"
            f"<td style='color:{'#1a7f37' if agree else '#cf222e'}'>{'yes' if agree else 'no'}</td></tr>"
        )
    texts = []
    for s, lab in enumerate(probe.labels):
        text = probe.responses[s]
        shown = probe.prefix(s, t)
        read_end = probe.ends[s][probe.read[s]] if probe.cut[s] else len(text)
        rest, unread = text[len(shown) : max(read_end, len(shown))], text[max(read_end, len(shown)) :]
        window = f", {probe.read[s]} read" if probe.cut[s] else ""
        texts.append(
            f"<div style='flex:1;min-width:14em'><b>{html.escape(lab)}</b> "
            f"({min(t, probe.lengths[s])}/{probe.lengths[s]} tokens{window})<div style='white-space:pre-wrap;"
            f"border:1px solid #ccc;padding:4px;max-height:12em;overflow:auto'>{html.escape(shown)}"
            f"<span style='color:#aaa'>{html.escape(rest)}</span>{_unread_html(unread)}</div></div>"
        )
    return (
        f"<div><b>t = {t}</b> {html.escape(probe.unit)} (of {probe.lengths[0]} / {probe.lengths[1]})"
        f"<table class='spprm-live-table'>{head}{''.join(body)}</table>"
        f"<div class='spprm-scale' style='font-size:90%;color:#57606a'>{html.escape(SCALE_NOTE)}</div>"
        f"<div style='display:flex;gap:1em;flex-wrap:wrap'>{''.join(texts)}</div></div>"
    )


def _note_html(probe: PairProbe) -> str:
    note = probe.window_note()
    return f"<span style='color:#9a6700'>\u26a0 {html.escape(note)}</span>" if note else ""


def live_probe(models: Mapping[str, object], probes: Sequence[PairProbe] = ()):
    """An ipywidgets probe (needs a running kernel): pick a pair or type your own, move the slider.

    The slider stops at the reward models' window, and a line under it says when a
    response is longer; a progress bar follows the scoring; after an error only the
    error is shown (the previous pair's table is cleared). Each pair gets a new slider
    (its keyboard's End key goes to the maximum the slider was drawn with), in the
    ``spprm-live-slot`` box. The prompt box shows a prompt without its leading line
    breaks (``shown_prompt``, ``scored_prompt``). When the kernel is gone the controls
    are hidden and one line says to run the cell again (``RESTART_NOTE``). Every part
    has a CSS class ``spprm-live-*`` (probe for the whole, pick, prompt, response-a,
    response-b, score, progress, status, slot, slider, note, view, restart) so that a
    browser test can find it.
    """
    import ipywidgets as w

    options = [(f"{p.pair_id}: {_last_turn(p.prompt)}", i) for i, p in enumerate(probes)]
    options.append((OWN_TEXT, -1))
    pick = w.Dropdown(options=options, value=options[0][1], description="pair", layout=w.Layout(width="95%"))
    box = dict(layout=w.Layout(width="95%", height="5em"))
    prompt = w.Textarea(
        description="prompt",
        placeholder="Human: ...\n\nAssistant:",
        tooltip="HH-RLHF form; a prompt starting with 'Human:' is scored with the data set's leading blank line",
        **box,
    )
    resp_a = w.Textarea(description="response A", **box)
    resp_b = w.Textarea(description="response B", **box)
    button = w.Button(description="Score", button_style="primary", tooltip="score every prefix of A and B")
    bar = w.IntProgress(min=0, max=1, value=0, layout=w.Layout(width="12em", display="none"))
    status = w.HTML()
    slot = w.Box(layout=w.Layout(width="95%"))
    note = w.HTML()
    view = w.HTML()
    restart = w.HTML(_RESTART_HTML)
    for part, name in (
        (pick, "pick"),
        (prompt, "prompt"),
        (resp_a, "response-a"),
        (resp_b, "response-b"),
        (button, "score"),
        (bar, "progress"),
        (status, "status"),
        (slot, "slot"),
        (note, "note"),
        (view, "view"),
        (restart, "restart"),
    ):
        part.add_class(f"spprm-live-{name}")
    state = {"probe": None, "slider": None}

    def show(*_):
        if state["probe"] is not None:
            view.value = step_html(state["probe"], state["slider"].value)

    def new_slider(top: int, value: int, disabled: bool = False):
        """A fresh slider in the slot: one drawn with its final maximum (the End key's target)."""
        slider = w.IntSlider(
            description="t (tokens)",
            min=0,
            max=top,
            value=value,
            disabled=disabled,
            continuous_update=True,
            layout=w.Layout(width="100%"),
        )
        slider.add_class("spprm-live-slider")
        slider.observe(show, names="value")
        old, state["slider"] = state["slider"], slider
        slot.children = (slider,)
        if old is not None:
            old.close()

    def use(probe: PairProbe):
        state["probe"] = None  # no table drawn for the old slider's value
        new_slider(max(1, probe.max_t), min(max(1, probe.max_t // 2), probe.max_t))
        state["probe"] = probe
        note.value = _note_html(probe)
        show()

    def clear():
        """Nothing shown: no table, no window line, the slider off."""
        state["probe"] = None
        view.value = note.value = ""
        state["slider"].disabled = True

    def on_pick(change):
        i = change["new"] if isinstance(change, dict) else change
        if i is None or i < 0:
            clear()
            status.value = "Type a prompt and two responses, then press <b>Score</b>."
            return
        p = probes[i]
        prompt.value, resp_a.value, resp_b.value = shown_prompt(p.prompt), p.responses[0], p.responses[1]
        status.value = f"{html.escape(p.pair_id)} (A = {p.labels[0]}, B = {p.labels[1]}; precomputed)"
        use(p)

    def on_progress(done: int, total: int):
        bar.max, bar.value = max(total, 1), done
        status.value = f"scoring every prefix\u2026 {done:,} of {total:,}"

    def on_score(_):
        bar.value, bar.layout.display = 0, None
        button.disabled = True
        status.value = "scoring every prefix\u2026"
        try:
            probe = probe_pair(models, scored_prompt(prompt.value), resp_a.value, resp_b.value, progress=on_progress)
        except Exception as err:  # shown in the widget: a callback's traceback would go to the log only
            clear()
            text = str(err) if isinstance(err, ConfigError) else f"{type(err).__name__}: {err}"
            status.value = f"<span style='color:#cf222e'>{html.escape(text)}</span>"
            return
        finally:
            bar.layout.display = "none"
            button.disabled = False
        pick.value = -1
        status.value = "scored your text live"
        use(probe)

    pick.observe(on_pick, names="value")
    button.on_click(on_score)
    new_slider(1, 1, disabled=True)
    if probes:
        on_pick(0)
    else:
        on_pick(-1)
    ui = w.VBox([pick, prompt, resp_a, resp_b, w.HBox([button, bar, status]), slot, note, view, restart])
    ui.add_class("spprm-live-probe")
    return ui


def _json_for_script(value) -> str:
    """JSON that is safe inside an HTML <script> element."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _static_unit(probe: PairProbe) -> str:
    """The unit line of the static probe, with the window line when a response is cut by it."""
    note = probe.window_note()
    return f"{probe.unit}; {note[0].lower()}{note[1:]}" if note else probe.unit


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
                "unit": _static_unit(p),
                "lengths": list(p.lengths),
                "max_t": p.max_t,
                "ends": [list(e) for e in p.ends],
                "scores": {rm: [[round(x, digits) for x in side] for side in p.scores[rm]] for rm in rms},
                "agree": {rm: "".join("1" if a else "0" for a in p.agreement(rm)) for rm in rms},
                "same": "".join("1" if x else "0" for x in p.identical()),
                "full": {rm: p.full_order(rm) for rm in rms},
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
        f"<div class='spprm-scale' data-role='scale'>{html.escape(SCALE_NOTE)}</div>"
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
