"""The prefix probe: how three reward models score every prefix of two responses.

For one prompt and two responses A and B, every prefix length ``t`` (in the
tokens of the first reward model, by default the ORM) of both responses is
scored by each reward model: the ORM, the SP-PRM trained from it, and the
reference RM. At each ``t`` an RM **agrees** when it orders the two prefixes
the way it orders the full responses: ``sign(r(A[:t]) - r(B[:t]))`` equals
``sign(r(A) - r(B))`` (a tie at ``t`` does not agree). A response shorter than
``t`` is used whole, as in the agreement rates of ``sp_prm_lib.evaluation.agreement``.

Scores come from ``RewardModel.score_prefixes`` (all prefixes in one forward
pass for causal RMs). An RM whose tokenizer splits a response differently from
the first one scores the prefix *texts* instead (the same characters).

The window: a reward model reads at most ``max_length`` tokens of prompt +
response (+ closing tokens); the length rule of ``sp_prm_lib.scoring.inputs``
keeps only the first ``Encoded.kept`` response tokens, so every longer prefix
gets the score of the kept response. ``probe_pair`` asks each RM's formatter
how many response tokens it keeps (``PairProbe.windows``, in the unit's
tokens), scores prefixes only up to that window and fills the longer prefixes
with the window's score (what the RM would return for them anyway);
``max_t``, the slider and the agreement stop where the last RM stops reading,
and ``window_note`` says so in one line.

Three ways to look at it:

- ``probe_pair``: compute a ``PairProbe`` for any (prompt, A, B) with loaded
  models (used live by ``live_probe``);
- ``probe_eval_pairs``: the profile's ``analysis.probe_pairs`` HH-RLHF eval
  pairs (A = chosen, B = rejected), cached in the ``ArtifactStore``; the first
  of them, the one both probes open on, is a neutral pair (``probe_rows``);
- ``sp_prm_lib.report.probe_widget`` shows them: ``live_probe`` (ipywidgets,
  needs a kernel: accepts the reader's own text) and ``static_probe_html``
  (self-contained HTML + JavaScript with the precomputed values embedded as
  JSON: works in the rendered book).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.artifacts import ArtifactStore, code_closure
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data import pairs_digest
from sp_prm_lib.experiments.pairs import is_neutral, preference_splits, reward_setting
from sp_prm_lib.scoring.reward_model import RewardModel

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

    ``windows[rm][s]`` is the number of response tokens of ``s`` that ``rm``
    reads (its ``max_length`` window; ``lengths[s]`` when the whole response
    fits, the default); ``scores[rm][s]`` past it repeat the score of the whole response as
    ``rm`` reads it (the window's prefix for an RM on the unit's tokens).
    ``max_length`` is the smallest ``max_length`` of the RMs.
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
    windows: dict[str, tuple[int, int]] | None = None
    max_length: int | None = None

    def __post_init__(self):
        self.responses, self.labels = tuple(self.responses), tuple(self.labels)
        self.lengths, self.ends = tuple(int(n) for n in self.lengths), tuple(list(e) for e in self.ends)
        given = self.windows or {}
        self.windows = {rm: tuple(int(n) for n in given.get(rm, self.lengths)) for rm in self.scores}
        if set(given) - set(self.scores):
            raise ConfigError(
                f"probe pair {self.pair_id!r}: windows of unknown reward models {set(given) - set(self.scores)}"
            )
        self.scores = {rm: tuple([float(x) for x in side] for side in sides) for rm, sides in self.scores.items()}
        validate(self)

    # -- reading ------------------------------------------------------------
    @property
    def rms(self) -> list[str]:
        return list(self.scores)

    @property
    def read(self) -> tuple[int, int]:
        """Response tokens of A and B read by at least one reward model (the widest window)."""
        return tuple(max(w[s] for w in self.windows.values()) for s in range(2))

    @property
    def max_t(self) -> int:
        """The longest prefix length worth showing: past it, no score changes."""
        return max(self.read)

    @property
    def cut(self) -> tuple[bool, bool]:
        """Whether each response is longer than every reward model's window."""
        return tuple(w < n for w, n in zip(self.read, self.lengths))

    def window_note(self) -> str:
        """One line on the window when a response is cut by it, else ``""``."""
        cut = [s for s in range(2) if self.cut[s]]
        if not cut:
            return ""
        seen = sorted({w[s] for w in self.windows.values() for s in cut})
        span = str(seen[0]) if len(seen) == 1 else f"{seen[0]} to {seen[-1]}"
        limit = f" (max_length {self.max_length})" if self.max_length else ""
        if len(cut) == 1:
            has = f"response {'AB'[cut[0]]} has {self.lengths[cut[0]]:,} tokens"
        else:
            has = f"responses A and B have {self.lengths[0]:,} and {self.lengths[1]:,} tokens"
        return f"The reward models read only the first {span} response tokens{limit}; {has}, the rest is not scored."

    def score(self, rm: str, side: int, t: int) -> float:
        """Reward of response ``side``'s ``t``-token prefix (whole response when shorter)."""
        return self.scores[rm][side][min(t, self.lengths[side])]

    def prefix(self, side: int, t: int) -> str:
        """The text of response ``side``'s first ``t`` tokens."""
        return self.responses[side][: self.ends[side][min(t, self.lengths[side])]]

    def full_order(self, rm: str) -> int:
        """+1 when ``rm`` prefers A's full response, -1 for B, 0 for a tie: equal scores, or
        the same text (whose two scores may differ by float noise; the rule of ``agreement``)."""
        if self.responses[0] == self.responses[1]:
            return 0
        return int(np.sign(self.scores[rm][0][-1] - self.scores[rm][1][-1]))

    def order_at(self, rm: str, t: int) -> int:
        """+1 when ``rm`` scores A's ``t``-token prefix higher, -1 for B, 0 for a tie (equal
        scores, or the same prefix text)."""
        if self.prefix(0, t) == self.prefix(1, t):
            return 0
        return int(np.sign(self.score(rm, 0, t) - self.score(rm, 1, t)))

    def identical(self) -> np.ndarray:
        """Booleans for t = 0 .. max_t: A's and B's prefixes are the same text (a tie for every RM)."""
        return np.array([self.prefix(0, t) == self.prefix(1, t) for t in range(self.max_t + 1)])

    def agreement(self, rm: str) -> np.ndarray:
        """Booleans for t = 0 .. max_t: the prefixes are ordered like the RM orders the full responses
        (``ar_rm_own`` of ``sp_prm_lib.evaluation.agreement``; identical prefixes are ties)."""
        ts = np.arange(self.max_t + 1)
        a = np.asarray(self.scores[rm][0])[np.minimum(ts, self.lengths[0])]
        b = np.asarray(self.scores[rm][1])[np.minimum(ts, self.lengths[1])]
        order = self.full_order(rm)
        return (np.sign(a - b) == order) & (order != 0) & ~self.identical()

    def frame(self) -> pd.DataFrame:
        """One row per (t, rm): both scores and the agreement."""
        rows = []
        for rm in self.rms:
            agree = self.agreement(rm)
            for t in range(self.max_t + 1):
                rows.append(
                    {
                        "pair": self.pair_id,
                        "t": t,
                        "rm": rm,
                        "score_a": self.score(rm, 0, t),
                        "score_b": self.score(rm, 1, t),
                        "agree": bool(agree[t]),
                    }
                )
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
    for rm, window in probe.windows.items():
        if len(window) != 2:
            raise ConfigError(f"{where}: the window of {rm} must have 2 entries")
    for s, name in enumerate(("A", "B")):
        n = probe.lengths[s]
        if n < 1:
            raise ConfigError(f"{where}: response {name} has no tokens")
        for rm, window in probe.windows.items():
            if not 0 <= window[s] <= n:
                raise ConfigError(f"{where}: {rm}'s window on response {name} ({window[s]}) is not in 0..{n}")
        ends = probe.ends[s]
        if len(ends) != n + 1:
            raise ConfigError(f"{where}: response {name} has {n} tokens but {len(ends)} prefix ends (expected {n + 1})")
        if ends[0] != 0 or any(e1 < e0 for e0, e1 in zip(ends, ends[1:])) or ends[-1] > len(probe.responses[s]):
            raise ConfigError(f"{where}: prefix ends of response {name} must rise from 0 to at most its length")
        for rm, sides in probe.scores.items():
            if len(sides) != 2:
                raise ConfigError(f"{where}: {rm} must have scores for 2 responses, got {len(sides)}")
            if len(sides[s]) != n + 1:
                raise ConfigError(
                    f"{where}: {rm} has {len(sides[s])} scores for response {name}, "
                    f"which has {n + 1} prefixes (t = 0..{n})"
                )
            if not np.isfinite(sides[s]).all():
                raise ConfigError(f"{where}: {rm} has a non-finite score for response {name}")


# -- computing ----------------------------------------------------------------
def _check_text(value, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be text, got {type(value).__name__}")
    if not value.strip():
        raise ConfigError(f"{what} is empty")
    return value


def special_tokens(tokenizer) -> list[str]:
    """The strings ``tokenizer`` turns into special tokens wherever they appear in a text."""
    found = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(added, "special", False):
            found.add(str(added.content))
    return sorted(t for t in found if t)


def _check_no_special(models: Mapping, text: str, what: str) -> None:
    """ConfigError when ``text`` holds a special token of a model's tokenizer (typed
    ``<|im_end|>`` would become the real token, forging a chat turn)."""
    for name, rm in models.items():
        for token in special_tokens(rm.tokenizer):
            if token in text:
                raise ConfigError(
                    f"{what} contains {token!r}, a special token of the {name} tokenizer; the probe scores "
                    "text only, so remove it or spell it differently"
                )


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


def response_window(rm: RewardModel, prompt: str, response: str) -> int:
    """How many of ``response``'s tokens (``rm``'s own) ``rm`` reads after ``prompt``: ``Encoded.kept``
    of its formatter, the length rule of ``sp_prm_lib.scoring.inputs`` under its ``max_length``."""
    return rm.formatter.encode([prompt], [response])[0].kept


def _unit_window(rm, prompt: str, response: str, own_ids: list[int], unit_ends: list[int], same: bool) -> int:
    """``rm``'s window on ``response`` in the unit's tokens (the first RM's)."""
    kept = response_window(rm, prompt, response)
    if same:
        return kept
    if kept >= len(own_ids):
        return len(unit_ends) - 1
    # the longest unit prefix whose text rm reads whole (rm's token counts rise with the prefix)
    lo, hi = 0, len(unit_ends) - 1  # prefix lo fits, prefix hi (the whole response) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(rm.formatter.response_ids([response[: unit_ends[mid]]])[0]) <= kept:
            lo = mid
        else:
            hi = mid
    return lo


ProgressFn = Callable[[int, int], None]


def probe_pair(
    models: Mapping[str, RewardModel],
    prompt: str,
    response_a: str,
    response_b: str,
    *,
    labels: Sequence[str] = ("A", "B"),
    pair_id: str = "your text",
    progress: ProgressFn | None = None,
    chunk: int = 32,
) -> PairProbe:
    """Score every prefix of both responses with every model (the first model's tokens are the unit).

    Only prefixes inside the reward models' window are scored (see the module docstring);
    ``progress(done, total)`` is called before the first and after every batch of
    prefixes (``chunk`` of them for models scored prefix by prefix, both responses at
    once for one-pass models).
    """
    if not models:
        raise ConfigError("probe_pair needs at least one reward model")
    prompt = _check_text(prompt, "the prompt")
    responses = (_check_text(response_a, "response A"), _check_text(response_b, "response B"))
    for text, what in ((prompt, "the prompt"), (responses[0], "response A"), (responses[1], "response B")):
        _check_no_special(models, text, what)
    if len(labels) != 2:
        raise ConfigError(f"labels must name the 2 responses, got {len(labels)}")
    if chunk < 1:
        raise ConfigError(f"chunk must be >= 1, got {chunk}")
    names = list(models)
    base = models[names[0]]
    ids = base.formatter.response_ids(list(responses))
    for s, name in enumerate(("A", "B")):
        if not ids[s]:
            raise ConfigError(f"response {name} has no tokens for {names[0]}")
    lengths = (len(ids[0]), len(ids[1]))
    ends = tuple(char_ends(base.tokenizer, responses[s], ids[s]) for s in range(2))
    own = {name: rm.formatter.response_ids(list(responses)) for name, rm in models.items()}
    windows = {
        name: tuple(_unit_window(rm, prompt, responses[s], own[name][s], ends[s], own[name] == ids) for s in range(2))
        for name, rm in models.items()
    }
    text = {name: own[name] != ids for name in models}
    # a text model past its window: one more score, of the whole response (cut to the window, context too)
    total = sum(w[0] + w[1] + 2 + text[name] * sum(w[s] < lengths[s] for s in range(2)) for name, w in windows.items())
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    step(0)
    scores, methods = {}, {}
    for name, rm in models.items():
        wanted = [list(range(w + 1)) for w in windows[name]]
        if not text[name] and rm.one_pass:
            out = rm.score_prefixes([prompt, prompt], list(responses), wanted)
            sides = [out[s].tolist() for s in range(2)]
            step(len(wanted[0]) + len(wanted[1]))
            methods[name] = "one-pass"
        else:
            sides = []
            for s in range(2):
                got = []
                for start in range(0, len(wanted[s]), chunk):
                    ts = wanted[s][start : start + chunk]
                    if not text[name]:
                        got += rm.score_prefixes([prompt], [responses[s]], [ts])[0].tolist()
                    else:  # another tokenizer: score the same character prefixes as text
                        texts = [responses[s][: ends[s][t]] for t in ts]
                        got += rm.score([prompt] * len(texts), texts).tolist()
                    step(len(ts))
                if text[name] and windows[name][s] < lengths[s]:
                    got.append(float(rm.score([prompt], [responses[s]])[0]))
                    step(1)
                sides.append(got)
            methods[name] = "text" if text[name] else "per-prefix"
        # every prefix past the window is read as the whole response is (the window's prefix for a
        # model on the unit's tokens): repeat that score
        scores[name] = tuple(
            sides[s][: windows[name][s] + 1] + [sides[s][-1]] * (lengths[s] - windows[name][s]) for s in range(2)
        )
    max_length = min(rm.formatter.max_length for rm in models.values())
    return PairProbe(
        pair_id,
        prompt,
        responses,
        tuple(labels),
        f"{names[0]} tokens",
        lengths,
        ends,
        scores,
        methods,
        windows=windows,
        max_length=max_length,
    )


def _trained_probe_rms(profile: Profile, store: ArtifactStore) -> dict:
    """The ``TrainedRM`` of each ``PROBE_ROLES`` entry (trained first if not cached)."""
    from sp_prm_lib.experiments.reward_models import trained_rm

    return {name: trained_rm(profile, role, store) for name, role in PROBE_ROLES.items()}


def load_probe_models(profile: Profile, store: ArtifactStore | None = None) -> dict[str, RewardModel]:
    """The profile's ORM, SP-PRM and reference RM, loaded (trained first if not cached)."""
    trained = _trained_probe_rms(profile, store or ArtifactStore())
    return {name: t.load(profile) for name, t in trained.items()}


def probe_rows(evaluation: pd.DataFrame, n: int) -> pd.DataFrame:
    """The eval pairs the probe shows (at most ``n``), in the order it lists them.

    Every pair a reader can pick passes the content filter of the pair both
    probes open on (``is_neutral``: a single-turn prompt, no word of
    ``CONTENT_FLAGS`` in prompt, chosen or rejected; HH-RLHF's first pairs
    include explicit red-team requests and dialogues): the first ``n`` such
    pairs in the split's own order, so the first is ``neutral_example``. Fewer
    than ``n`` when fewer pass; when none passes (a synthetic split), simply the
    first ``n``. The index is each pair's position in the eval split (0-based),
    so a pair keeps its name wherever it is listed.
    """
    frame = evaluation[["prompt", "chosen", "rejected"]].reset_index(drop=True)
    if n < 1 or n > len(frame):
        raise ConfigError(f"the probe needs 1 to {len(frame)} pairs of this eval split, got {n}")
    passing = [i for i, row in frame.iterrows() if is_neutral(row)][:n]
    return frame.loc[passing] if passing else frame.head(n)


def probe_eval_pairs(profile: Profile, store: ArtifactStore | None = None) -> list[PairProbe]:
    """Probes of the profile's probe pairs (A = chosen, B = rejected), cached by content hash."""
    store = store or ArtifactStore()
    trained = _trained_probe_rms(profile, store)
    evaluation = preference_splits(profile)["eval"].frame
    n = profile.analysis.probe_pairs
    if n > len(evaluation):
        raise ConfigError(
            f"{profile.path}: analysis.probe_pairs = {n} is more than the {len(evaluation)} eval pairs "
            "(data.eval_pairs)"
        )
    pairs = probe_rows(evaluation, n)
    config = {"probe_pairs": profile.analysis.probe_pairs, "rows": pairs_digest(pairs), **reward_setting(profile)}

    def build(out: Path) -> dict:
        models = {name: t.load(profile) for name, t in trained.items()}
        probes = []
        for i, row in pairs.iterrows():
            probes.append(
                probe_pair(
                    models,
                    row.prompt,
                    row.chosen,
                    row.rejected,
                    labels=("chosen", "rejected"),
                    pair_id=f"eval pair {i + 1}",
                )
            )
        (out / PROBE_FILE).write_text(json.dumps([p.to_dict() for p in probes]), encoding="utf-8")
        return {"pairs": len(probes), "methods": probes[0].methods if probes else {}}

    art = store.ensure(
        "probe",
        build,
        config=config,
        inputs={name: t.artifact.key for name, t in trained.items()},
        code_version=code_closure(sys.modules[__name__]),
    )
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
            rows.append(
                {
                    "rm": rm,
                    "t": t,
                    "agreement": float(agree[:, t].mean()),
                    "pairs": len(probes),
                    "partial": sum(t < p.max_t for p in probes),
                }
            )
    return pd.DataFrame(rows)
