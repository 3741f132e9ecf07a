"""The prefix probe: how three reward models score every prefix of two responses.

For one prompt and two responses A and B, every prefix length ``t`` (in the
tokens of the first reward model, by default the ORM) of both responses is
scored by each reward model: the ORM, the SP-PRM trained from it, and the
reference RM. At each ``t`` an RM **agrees** when it orders the two prefixes
the way it orders the full responses: ``sign(r(A[:t]) - r(B[:t]))`` equals
``sign(r(A) - r(B))`` (a tie at ``t`` does not agree). A response shorter than
``t`` is used whole, as in the agreement rates of ``sp_prm_lib.metrics``.

Scores come from ``RewardModel.score_prefixes`` (all prefixes in one forward
pass for causal RMs). An RM whose tokenizer splits a response differently from
the first one scores the prefix *texts* instead (the same characters).

Three ways to look at it:

- ``probe_pair``: compute a ``PairProbe`` for any (prompt, A, B) with loaded
  models (used live by ``live_probe``);
- ``probe_eval_pairs``: the profile's ``analysis.probe_pairs`` HH-RLHF eval
  pairs (A = chosen, B = rejected), cached in the ``ArtifactStore``;
- ``live_probe`` (ipywidgets, needs a kernel: accepts the reader's own text)
  and ``static_probe_html`` (self-contained HTML + JavaScript with the
  precomputed values embedded as JSON: works in the rendered book).
"""

from __future__ import annotations

import html
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import reward_format, rewards
from .artifacts import ArtifactStore, code_hash
from .errors import ConfigError
from .profiles import Profile

PROBE_ROLES = {"ORM": "orm", "SP-PRM": "sp-prm", "reference": "reference"}  # shown name: profile role
PROBE_FILE = "probe.json"
_SIDES = ("a", "b")


@dataclass
class PairProbe:
    """Scores of every prefix of two responses under several reward models.

    ``ends[s][t]`` is the number of characters of response ``s`` covered by
    its first ``t`` tokens (``ends[s][0] == 0``); ``scores[rm][s][t]`` the
    reward of that prefix (``t = 0 .. lengths[s]``); ``methods[rm]`` says how
    it was scored (``one-pass`` / ``per-prefix`` on tokens, or ``text`` when
    the RM's tokenizer differs from the unit's).
    """

    pair_id: str
    prompt: str
    responses: tuple[str, str]
    labels: tuple[str, str]
    unit: str
    lengths: tuple[int, int]
    ends: tuple[list[int], list[int]]
    scores: dict[str, tuple[list[float], list[float]]]
    methods: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.responses, self.labels = tuple(self.responses), tuple(self.labels)
        self.lengths, self.ends = tuple(int(n) for n in self.lengths), tuple(list(e) for e in self.ends)
        self.scores = {rm: tuple([float(x) for x in side] for side in sides) for rm, sides in self.scores.items()}
        validate(self)

    # -- reading ------------------------------------------------------------
    @property
    def rms(self) -> list[str]:
        return list(self.scores)

    @property
    def max_t(self) -> int:
        return max(self.lengths)

    def score(self, rm: str, side: int, t: int) -> float:
        """Reward of response ``side``'s ``t``-token prefix (whole response when shorter)."""
        return self.scores[rm][side][min(t, self.lengths[side])]

    def prefix(self, side: int, t: int) -> str:
        """The text of response ``side``'s first ``t`` tokens."""
        return self.responses[side][: self.ends[side][min(t, self.lengths[side])]]

    def full_order(self, rm: str) -> int:
        """+1 when ``rm`` prefers A's full response, -1 for B, 0 for a tie."""
        return int(np.sign(self.scores[rm][0][-1] - self.scores[rm][1][-1]))

    def agreement(self, rm: str) -> np.ndarray:
        """Booleans for t = 0 .. max_t: the prefixes are ordered like the full responses."""
        ts = np.arange(self.max_t + 1)
        a = np.asarray(self.scores[rm][0])[np.minimum(ts, self.lengths[0])]
        b = np.asarray(self.scores[rm][1])[np.minimum(ts, self.lengths[1])]
        order = self.full_order(rm)
        return (np.sign(a - b) == order) & (order != 0)

    def frame(self) -> pd.DataFrame:
        """One row per (t, rm): both scores and the agreement."""
        rows = []
        for rm in self.rms:
            agree = self.agreement(rm)
            for t in range(self.max_t + 1):
                rows.append({"pair": self.pair_id, "t": t, "rm": rm, "score_a": self.score(rm, 0, t),
                             "score_b": self.score(rm, 1, t), "agree": bool(agree[t])})
        return pd.DataFrame(rows)

    # -- (de)serialising ----------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> PairProbe:
        return cls(**dict(data))


def validate(probe: PairProbe) -> None:
    """Raise ``ConfigError`` unless every array has one entry per prefix length."""
    where = f"probe pair {probe.pair_id!r}"
    if len(probe.responses) != 2 or len(probe.labels) != 2 or len(probe.lengths) != 2 or len(probe.ends) != 2:
        raise ConfigError(f"{where}: responses, labels, lengths and ends must each have 2 entries")
    if not probe.scores:
        raise ConfigError(f"{where}: no reward model scores")
    for s, name in enumerate(("A", "B")):
        n = probe.lengths[s]
        if n < 1:
            raise ConfigError(f"{where}: response {name} has no tokens")
        ends = probe.ends[s]
        if len(ends) != n + 1:
            raise ConfigError(f"{where}: response {name} has {n} tokens but {len(ends)} prefix ends "
                              f"(expected {n + 1})")
        if ends[0] != 0 or any(e1 < e0 for e0, e1 in zip(ends, ends[1:])) or ends[-1] > len(probe.responses[s]):
            raise ConfigError(f"{where}: prefix ends of response {name} must rise from 0 to at most its length")
        for rm, sides in probe.scores.items():
            if len(sides) != 2:
                raise ConfigError(f"{where}: {rm} must have scores for 2 responses, got {len(sides)}")
            if len(sides[s]) != n + 1:
                raise ConfigError(f"{where}: {rm} has {len(sides[s])} scores for response {name}, "
                                  f"which has {n + 1} prefixes (t = 0..{n})")
            if not np.isfinite(sides[s]).all():
                raise ConfigError(f"{where}: {rm} has a non-finite score for response {name}")


# -- computing ----------------------------------------------------------------
def _check_text(value, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be text, got {type(value).__name__}")
    if not value.strip():
        raise ConfigError(f"{what} is empty")
    return value


def char_ends(tokenizer, text: str, ids: Sequence[int]) -> list[int]:
    """Characters of ``text`` covered by its first t tokens, for t = 0 .. len(ids).

    Uses the fast tokenizer's offsets when they describe the same tokens, else
    the longest common start of ``decode(ids[:t])`` and ``text``. A character
    split over several tokens (byte-level BPE) is covered once all are in.
    """
    ids = list(ids)
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"] if list(enc["input_ids"]) == ids else None
    except (NotImplementedError, TypeError, ValueError, KeyError):
        offsets = None
    ends = [0]
    if offsets is not None:
        # a character split over several tokens counts once its last token is in
        starts = [int(start) for start, _ in offsets[1:]] + [len(text)]
        for (_, end), following in zip(offsets, starts):
            ends.append(max(ends[-1], min(int(end), following, len(text))))
    else:
        for t in range(1, len(ids) + 1):
            piece = tokenizer.decode(ids[:t])
            ends.append(max(ends[-1], len(os.path.commonprefix([piece, text]))))
    ends[-1] = len(text) if ids else 0  # the whole response covers the whole text
    return ends


def probe_pair(models: Mapping[str, rewards.RewardModel], prompt: str, response_a: str, response_b: str,
               *, labels: Sequence[str] = ("A", "B"), pair_id: str = "your text") -> PairProbe:
    """Score every prefix of both responses with every model (the first model's tokens are the unit)."""
    if not models:
        raise ConfigError("probe_pair needs at least one reward model")
    prompt = _check_text(prompt, "the prompt")
    responses = (_check_text(response_a, "response A"), _check_text(response_b, "response B"))
    if len(labels) != 2:
        raise ConfigError(f"labels must name the 2 responses, got {len(labels)}")
    names = list(models)
    base = models[names[0]]
    ids = base.formatter.response_ids(list(responses))
    for s, name in enumerate(("A", "B")):
        if not ids[s]:
            raise ConfigError(f"response {name} has no tokens for {names[0]}")
    lengths = (len(ids[0]), len(ids[1]))
    ends = tuple(char_ends(base.tokenizer, responses[s], ids[s]) for s in range(2))
    scores, methods = {}, {}
    for name, rm in models.items():
        if rm.formatter.response_ids(list(responses)) == ids:
            out = rm.score_prefixes([prompt, prompt], list(responses))
            scores[name] = tuple(out[s].tolist() for s in range(2))
            methods[name] = "one-pass" if rm.one_pass else "per-prefix"
        else:  # another tokenizer: score the same character prefixes as text
            sides = []
            for s in range(2):
                texts = [responses[s][:e] for e in ends[s]]
                sides.append(rm.score([prompt] * len(texts), texts).tolist())
            scores[name] = tuple(sides)
            methods[name] = "text"
    return PairProbe(pair_id, prompt, responses, tuple(labels), f"{names[0]} tokens", lengths, ends,
                     scores, methods)


def _trained_probe_rms(profile: Profile, store: ArtifactStore) -> dict:
    """The ``TrainedRM`` of each ``PROBE_ROLES`` entry (trained first if not cached)."""
    from .analysis import trained_rm

    return {name: trained_rm(profile, role, store) for name, role in PROBE_ROLES.items()}


def load_probe_models(profile: Profile, store: ArtifactStore | None = None) -> dict[str, rewards.RewardModel]:
    """The profile's ORM, SP-PRM and reference RM, loaded (trained first if not cached)."""
    trained = _trained_probe_rms(profile, store or ArtifactStore())
    return {name: t.load(profile) for name, t in trained.items()}


def probe_eval_pairs(profile: Profile, store: ArtifactStore | None = None) -> list[PairProbe]:
    """Probes of the profile's probe pairs (A = chosen, B = rejected), cached by content hash."""
    from .analysis import held_out_pairs

    store = store or ArtifactStore()
    trained = _trained_probe_rms(profile, store)
    pairs = held_out_pairs(profile, profile.analysis.probe_pairs, "analysis.probe_pairs")
    config = {"probe_pairs": profile.analysis.probe_pairs, "convention": profile.reward.convention,
              "max_length": profile.reward.max_length, "data": asdict(profile.data), "seed": profile.seed}

    def build(out: Path) -> dict:
        models = {name: t.load(profile) for name, t in trained.items()}
        probes = []
        for i, row in pairs.iterrows():
            probes.append(probe_pair(models, row.prompt, row.chosen, row.rejected, labels=("chosen", "rejected"),
                                     pair_id=f"eval pair {i + 1}"))
        (out / PROBE_FILE).write_text(json.dumps([p.to_dict() for p in probes]), encoding="utf-8")
        return {"pairs": len(probes), "methods": probes[0].methods if probes else {}}

    art = store.ensure("probe", build, config=config,
                       inputs={name: t.artifact.key for name, t in trained.items()},
                       code_version=code_hash(PairProbe, validate, char_ends, probe_pair, rewards, reward_format))
    data = json.loads((art.path / PROBE_FILE).read_text(encoding="utf-8"))
    return [PairProbe.from_dict(d) for d in data]


def agreement_curve(probes: Sequence[PairProbe], max_t: int | None = None) -> pd.DataFrame:
    """Fraction of pairs each RM orders like their full responses, per prefix length t >= 1.

    Columns rm, t, agreement, pairs, partial (pairs where t is shorter than a response).
    """
    if not probes:
        raise ConfigError("no probes to summarise")
    rms = probes[0].rms
    if any(p.rms != rms for p in probes):
        raise ConfigError("every probe must have the same reward models")
    top = max_t or max(p.max_t for p in probes)
    rows = []
    for rm in rms:
        agree = np.zeros((len(probes), top + 1), dtype=bool)
        for i, p in enumerate(probes):
            a = p.agreement(rm)
            agree[i] = np.concatenate([a, np.repeat(a[-1:], max(0, top + 1 - len(a)))])[: top + 1]
        for t in range(1, top + 1):
            rows.append({"rm": rm, "t": t, "agreement": float(agree[:, t].mean()), "pairs": len(probes),
                         "partial": sum(t < p.max_t for p in probes)})
    return pd.DataFrame(rows)


# -- showing --------------------------------------------------------------------
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
    head = (f"<tr><th>reward model</th><th>{a_lab}[:t]</th><th>{b_lab}[:t]</th><th>prefers at t</th>"
            "<th>prefers in full</th><th>agrees</th></tr>")
    body = []
    for rm in probe.rms:
        a, b = probe.score(rm, 0, t), probe.score(rm, 1, t)
        agree = bool(probe.agreement(rm)[t])
        full = probe.scores[rm][0][-1] - probe.scores[rm][1][-1]
        body.append(f"<tr><td>{html.escape(rm)}</td><td>{a:+.3f}</td><td>{b:+.3f}</td>"
                    f"<td>{html.escape(_order_word(a - b, probe.labels))}</td>"
                    f"<td>{html.escape(_order_word(full, probe.labels))}</td>"
                    f"<td style='color:{'#1a7f37' if agree else '#cf222e'}'>{'yes' if agree else 'no'}</td></tr>")
    texts = []
    for s, lab in enumerate(probe.labels):
        shown, rest = probe.prefix(s, t), probe.responses[s][len(probe.prefix(s, t)):]
        texts.append(f"<div style='flex:1;min-width:14em'><b>{html.escape(lab)}</b> "
                     f"({min(t, probe.lengths[s])}/{probe.lengths[s]} tokens)<div style='white-space:pre-wrap;"
                     f"border:1px solid #ccc;padding:4px;max-height:12em;overflow:auto'>{html.escape(shown)}"
                     f"<span style='color:#aaa'>{html.escape(rest)}</span></div></div>")
    return (f"<div><b>t = {t}</b> {html.escape(probe.unit)} (of {probe.lengths[0]} / {probe.lengths[1]})"
            f"<table>{head}{''.join(body)}</table>"
            f"<div style='display:flex;gap:1em;flex-wrap:wrap'>{''.join(texts)}</div></div>")


def live_probe(models: Mapping[str, rewards.RewardModel], probes: Sequence[PairProbe] = ()):
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
    slider = w.IntSlider(description="t (tokens)", min=0, max=1, value=1, continuous_update=True,
                         layout=w.Layout(width="95%"))
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


# The static probe: plain DOM code, no library, no network. Data are read from the
# JSON <script> inside the probe's own root element; every text is set with textContent.
_STATIC_JS = r"""
(function () {
  var root = document.getElementById("__ID__");
  if (!root || root.dataset.ready) { return; }
  root.dataset.ready = "1";
  var data = JSON.parse(root.querySelector("script[data-role=data]").textContent);
  var pick = root.querySelector("[data-role=pair]");
  var slider = root.querySelector("[data-role=slider]");
  function q(sel) { return root.querySelector(sel); }
  function fmt(x) { return (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(3); }
  function word(d, labels) { return d > 0 ? labels[0] : (d < 0 ? labels[1] : "tie"); }
  data.pairs.forEach(function (p, i) {
    var o = document.createElement("option");
    o.value = String(i); o.textContent = p.title; pick.appendChild(o);
  });
  function render() {
    var p = data.pairs[Number(pick.value)], t = Number(slider.value);
    q("[data-role=t]").textContent = String(t);
    q("[data-role=unit]").textContent = p.unit + " (A: " + p.lengths[0] + ", B: " + p.lengths[1] + ")";
    q("[data-role=prompt]").textContent = p.prompt;
    [0, 1].forEach(function (s) {
      var n = Math.min(t, p.lengths[s]), end = p.ends[s][n];
      q("[data-role=label-" + s + "]").textContent = p.labels[s];
      q("[data-role=head-" + s + "]").textContent = p.labels[s] + "[:t]";
      q("[data-role=count-" + s + "]").textContent = n + "/" + p.lengths[s] + " tokens";
      q("[data-role=prefix-" + s + "]").textContent = p.responses[s].slice(0, end);
      q("[data-role=rest-" + s + "]").textContent = p.responses[s].slice(end);
    });
    data.rms.forEach(function (rm, k) {
      var sc = p.scores[rm], a = sc[0][Math.min(t, p.lengths[0])], b = sc[1][Math.min(t, p.lengths[1])];
      var full = sc[0][p.lengths[0]] - sc[1][p.lengths[1]], agree = p.agree[rm].charAt(t) === "1";
      var row = root.querySelectorAll("tr[data-rm]")[k];
      row.querySelector("[data-side=a]").textContent = fmt(a);
      row.querySelector("[data-side=b]").textContent = fmt(b);
      row.querySelector("[data-role=at-t]").textContent = word(a - b, p.labels);
      row.querySelector("[data-role=full]").textContent = word(full, p.labels);
      var cell = row.querySelector("[data-role=agree]");
      cell.textContent = agree ? "yes" : "no";
      cell.className = agree ? "spprm-yes" : "spprm-no";
    });
  }
  function choose() {
    var p = data.pairs[Number(pick.value)];
    slider.max = String(p.max_t);
    slider.value = String(Math.max(1, Math.floor(p.max_t / 2)));
    render();
  }
  pick.addEventListener("change", choose);
  slider.addEventListener("input", render);
  slider.addEventListener("change", render);
  choose();
})();
"""

_STATIC_CSS = """
#__ID__ { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8em; margin: 0.5em 0; font-size: 0.92em; }
#__ID__ label { font-weight: 600; margin-right: 0.4em; }
#__ID__ select, #__ID__ input[type=range] { width: 100%; max-width: 46em; }
#__ID__ table { border-collapse: collapse; margin: 0.6em 0; }
#__ID__ th, #__ID__ td { border: 1px solid #d0d7de; padding: 2px 8px; text-align: right; }
#__ID__ th:first-child, #__ID__ td:first-child { text-align: left; }
#__ID__ .spprm-yes { color: #1a7f37; font-weight: 600; }
#__ID__ .spprm-no { color: #cf222e; font-weight: 600; }
#__ID__ .spprm-box { white-space: pre-wrap; border: 1px solid #d0d7de; padding: 4px 6px; max-height: 14em;
  overflow: auto; font-family: inherit; }
#__ID__ .spprm-rest { color: #9a9a9a; }
#__ID__ .spprm-cols { display: flex; gap: 1em; flex-wrap: wrap; }
#__ID__ .spprm-cols > div { flex: 1; min-width: 16em; }
"""


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
        pairs.append({
            "title": f"{p.pair_id}: {_last_turn(p.prompt)}", "prompt": p.prompt, "responses": list(p.responses),
            "labels": list(p.labels), "unit": p.unit, "lengths": list(p.lengths), "max_t": p.max_t,
            "ends": [list(e) for e in p.ends],
            "scores": {rm: [[round(x, digits) for x in side] for side in p.scores[rm]] for rm in rms},
            "agree": {rm: "".join("1" if a else "0" for a in p.agreement(rm)) for rm in rms},
        })
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
        f"<td data-role='agree'></td></tr>" for rm in data["rms"])
    cols = "".join(
        f"<div><b data-role='label-{s}'></b> (<span data-role='count-{s}'></span>)"
        f"<div class='spprm-box'><span data-role='prefix-{s}'></span>"
        f"<span class='spprm-rest' data-role='rest-{s}'></span></div></div>" for s in (0, 1))
    return (
        f"<div class='spprm-probe' id='{eid}'>"
        f"<style>{_STATIC_CSS.replace('__ID__', eid)}</style>"
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
        f"<script>{_STATIC_JS.replace('__ID__', eid)}</script>"
        f"</div>")


def static_probe(probes: Sequence[PairProbe], element_id: str | None = None):
    """The static probe as an IPython ``HTML`` object (a text/html output)."""
    from IPython.display import HTML

    return HTML(static_probe_html(probes, element_id))
