"""Paper vs ours: the paper's numbers (typed in once), side-by-side tables and verdicts.

The paper's values live in ``paper_values.yaml`` next to this module, one
entry per figure or table (``ref`` names it, ``setting`` says which models
and data produced it, ``columns``/``rows`` hold the numbers; a value the
paper's text does not let us read is ``null``). Its ``claims`` section names
every claim a notebook tests: how the book refers to it, its words and the
notebook that tests it, so a notebook files a verdict with the claim's id only
(``record``, or ``record_not_run`` when the run lacks what the claim needs).
Notebooks compare their own measurements with ``side_by_side``;
``scripts/build_book.py`` collects the verdicts of a profile's run
(``build/results/<profile>/*.json``) into the results overview page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.settings import home
from sp_prm_lib.experiments.verdicts import VERDICTS

VALUES_FILE = Path(__file__).with_name("paper_values.yaml")
FIELDS = ("ref", "setting", "claim", "columns", "rows", "notes")
CLAIMS = "claims"  # the section of the values file that lists the tested claims
CLAIM_FIELDS = ("ref", "notebook", "values", "claim")


@lru_cache(maxsize=1)
def _load() -> tuple[dict, dict]:
    """The values file's entries and its claims, validated."""
    raw = yaml.safe_load(VALUES_FILE.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ConfigError(f"{VALUES_FILE}: expected a mapping of entries")
    claims = raw.pop(CLAIMS, None) or {}
    for key, entry in raw.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{VALUES_FILE}: {key}: expected a mapping, got {type(entry).__name__}")
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise ConfigError(f"{VALUES_FILE}: {key}: unknown key {unknown[0]!r} (allowed: {', '.join(FIELDS)})")
        for field in ("ref", "setting", "columns", "rows"):
            if field not in entry:
                raise ConfigError(f"{VALUES_FILE}: {key}: missing {field!r}")
        if not isinstance(entry["columns"], list) or not isinstance(entry["rows"], list):
            raise ConfigError(f"{VALUES_FILE}: {key}: columns and rows must be lists")
        for i, row in enumerate(entry["rows"]):
            if not isinstance(row, list):
                raise ConfigError(
                    f"{VALUES_FILE}: {key}.rows[{i}]: expected a list of values, got {type(row).__name__}"
                )
            if len(row) != len(entry["columns"]):
                raise ConfigError(
                    f"{VALUES_FILE}: {key}.rows[{i}]: {len(row)} values for {len(entry['columns'])} columns"
                )
    if not isinstance(claims, dict):
        raise ConfigError(f"{VALUES_FILE}: {CLAIMS}: expected a mapping of claim ids")
    for key, claim in claims.items():
        where = f"{VALUES_FILE}: {CLAIMS}.{key}"
        if not isinstance(claim, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(claim).__name__}")
        unknown = sorted(set(claim) - set(CLAIM_FIELDS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(CLAIM_FIELDS)})")
        for field in ("ref", "notebook"):
            if not claim.get(field):
                raise ConfigError(f"{where}: missing {field!r}")
        if "values" in claim and claim["values"] not in raw:
            raise ConfigError(f"{where}: values names no entry {claim['values']!r}")
        if not claim.get("claim") and not raw.get(claim.get("values"), {}).get("claim"):
            raise ConfigError(f"{where}: missing 'claim' (and no 'values' entry with one)")
    return raw, claims


def _values() -> dict:
    return _load()[0]


def claim_entry(claim_id: str) -> dict:
    """One tested claim of ``paper_values.yaml``: ``ref``, ``notebook`` and ``claim`` (its words,
    from the ``values`` entry where the claim gives none)."""
    entries, claims = _load()
    if claim_id not in claims:
        raise ConfigError(f"{VALUES_FILE.name} has no claim {claim_id!r} under {CLAIMS}; known: {', '.join(claims)}")
    claim = claims[claim_id]
    words = claim.get("claim") or entries[claim["values"]]["claim"]
    return {"ref": claim["ref"], "notebook": claim["notebook"], "claim": " ".join(str(words).split())}


def paper_entry(key: str) -> dict:
    """One entry of ``paper_values.yaml`` (``ref``, ``setting``, ``columns``, ``rows``, ...)."""
    values = _values()
    if key not in values:
        raise ConfigError(f"{VALUES_FILE.name} has no entry {key!r}; known: {', '.join(values)}")
    return values[key]


def paper_table(key: str) -> pd.DataFrame:
    """The paper's numbers of one figure or table as a frame."""
    entry = paper_entry(key)
    return pd.DataFrame(entry["rows"], columns=entry["columns"])


def side_by_side(
    key: str,
    ours: pd.DataFrame,
    on: Sequence[str],
    metrics: Sequence[str],
    paper_where: dict | None = None,
    diff: Sequence[str] = (),
) -> pd.DataFrame:
    """Join our measurements to the paper's on the ``on`` columns.

    For each metric the result has ``<metric> paper`` and ``<metric> ours``, each on its own
    scale; ``<metric> diff`` (ours - paper) only for the metrics named in ``diff``, which the
    caller asserts share a scale (a reward of another model does not). ``paper_where`` selects
    paper rows first (e.g. ``{"model": "Llama-3-8B-Instruct"}``). Rows only one side has are kept.
    """
    unknown = [m for m in diff if m not in metrics]
    if unknown:
        raise ConfigError(f"side_by_side: diff names {', '.join(unknown)}, not among the metrics")
    paper = paper_table(key)
    for column, value in (paper_where or {}).items():
        if column not in paper.columns:
            raise ConfigError(
                f"{VALUES_FILE.name}: {key} has no column {column!r} to select on (columns: {', '.join(paper.columns)})"
            )
        paper = paper[paper[column] == value]
    missing = [c for c in [*on, *metrics] if c not in ours.columns]
    if missing:
        raise ConfigError(f"our table lacks column(s) {', '.join(missing)} for {key}")
    missing = [c for c in [*on, *metrics] if c not in paper.columns]
    if missing:
        raise ConfigError(f"{VALUES_FILE.name}: {key} lacks column(s) {', '.join(missing)}")
    for side, frame in (("the paper's", paper), ("our", ours)):
        dup = frame[frame.duplicated(list(on), keep=False)]
        if len(dup):
            first = ", ".join(f"{c}={v!r}" for c, v in zip(on, dup[list(on)].iloc[0]))
            raise ConfigError(
                f"{key}: {side} rows are not unique on {', '.join(on)} ({first} appears "
                f"more than once); add a column to `on` or select rows with paper_where"
            )
    left = paper[[*on, *metrics]].rename(columns={m: f"{m} paper" for m in metrics})
    right = ours[[*on, *metrics]].rename(columns={m: f"{m} ours" for m in metrics})
    merged = left.merge(right, on=list(on), how="outer", sort=False)
    for m in diff:
        merged[f"{m} diff"] = pd.to_numeric(merged[f"{m} ours"], errors="coerce") - pd.to_numeric(
            merged[f"{m} paper"], errors="coerce"
        )
    ordered = list(on) + [
        f"{m} {side}" for m in metrics for side in ("paper", "ours", "diff") if side != "diff" or m in diff
    ]
    return merged[ordered]


def results_dir(profile_name: str) -> Path:
    """Where a profile's verdicts are filed (``build/results/<profile>``)."""
    return home() / "build" / "results" / profile_name


def record(
    profile: Profile,
    claim_id: str,
    *,
    verdict: str,
    evidence: str,
    setting: str,
    table: pd.DataFrame | None = None,
    estimates: pd.DataFrame | None = None,
):
    """File one claim's verdict for the results overview and show it in the notebook.

    ``claim_id`` names an entry of the values file's ``claims`` section, which gives the
    claim's ``ref``, its words and its notebook; ``evidence`` is our numbers in one or two
    sentences, ``setting`` our profile's models, sizes and judge backend; ``estimates`` the
    claim's effects with their 95% intervals (``verdicts.effects_table``), shown in the book
    next to the verdict. Returns a Markdown object for display.
    """
    if verdict not in VERDICTS:
        raise ConfigError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    claim = claim_entry(claim_id)
    out = results_dir(profile.name)
    out.mkdir(parents=True, exist_ok=True)
    entry = {
        "id": claim_id,
        "ref": claim["ref"],
        "claim": claim["claim"],
        "verdict": verdict,
        "evidence": evidence,
        "setting": setting,
        "notebook": claim["notebook"],
        "profile": profile.name,
    }
    if estimates is not None:
        entry["estimates"] = json.loads(estimates.to_json(orient="split", index=False))
    if table is not None:
        entry["table"] = json.loads(table.to_json(orient="split", index=False))
    tmp = out / f".{claim_id}.json.tmp"
    tmp.write_text(json.dumps(entry, indent=1), encoding="utf-8")
    tmp.replace(out / f"{claim_id}.json")
    from IPython.display import Markdown

    return Markdown(
        f"**{claim['ref']}: {verdict}** (profile `{profile.name}`). *Paper:* {claim['claim']} "
        f"*Ours:* {evidence} *Setting:* {setting}"
    )


def record_not_run(profile: Profile, claim_id: str, reason: str, *, setting: str | None = None):
    """File ``not run here`` for a claim the profile's run cannot test, saying why (``reason``:
    what the run lacks, e.g. "the profile's decoding.variants leave out sc")."""
    return record(
        profile,
        claim_id,
        verdict="not run here",
        evidence=f"not run: {reason}.",
        setting=setting or f"profile {profile.name}",
    )


def collected(profile_name: str) -> list[dict]:
    """Every verdict a profile's run filed, in notebook order."""
    entries = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(results_dir(profile_name).glob("*.json"))]
    return sorted(entries, key=lambda e: (e["notebook"], e["id"]))


def figure_claims(key: str, ours: dict) -> pd.DataFrame:
    """The paper's quoted figure values (entries with columns quantity/t/relation/value)
    next to ours: ``ours`` maps (quantity, t) to our number (t as in the YAML, e.g. 5 or "all")."""
    paper = paper_table(key)
    rows = []
    for q, t, relation, value in paper[["quantity", "t", "relation", "value"]].itertuples(index=False):
        mine = ours.get((q, t))
        rows.append(
            {
                "quantity": q,
                "t": t,
                "paper": f"{relation} {value:g}" if relation != "=" else f"{value:g}",
                "ours": mine,
                "ours meets the paper's bound": None
                if mine is None or relation == "="
                else bool(holds_relation(mine, relation, value)),
            }
        )
    return pd.DataFrame(rows)


def holds_relation(value: float, relation: str, bound: float) -> bool:
    """``value relation bound`` for the relations used in paper_values.yaml (<, >, <=, >=, =)."""
    ops = {
        "<": value < bound,
        ">": value > bound,
        "<=": value <= bound,
        ">=": value >= bound,
        "=": abs(value - bound) < 1e-9,
    }
    if relation not in ops:
        raise ConfigError(f"unknown relation {relation!r} (use <, >, <=, >= or =)")
    return ops[relation]


def paper_relative_gains(key: str, metric: str = "reward", ours: str = "sp-prm", against: str = "orm") -> pd.DataFrame:
    """The paper's relative change (%) of ``metric`` from ``against`` to ``ours`` for each model and
    method of a table, computed from the typed-in values (so prose quoting it cannot drift)."""
    table = paper_table(key)
    wide = table.pivot_table(index=["model", "method"], columns="variant", values=metric, sort=False)
    if ours not in wide or against not in wide:
        raise ConfigError(f"{key}: no {metric!r} values for both {ours!r} and {against!r}")
    out = (100 * (wide[ours] / wide[against] - 1)).dropna().rename("change_pct").reset_index()
    return out.sort_values("change_pct").reset_index(drop=True)


def gain_range_text(gains: pd.DataFrame) -> str:
    """``-7.4% (BoN-64, Llama-3.1-8B-Instruct) to +9.9% (CARDS, Llama-3.2-3B-Instruct)``."""
    lo, hi = gains.iloc[0], gains.iloc[-1]
    return f"{lo.change_pct:+.1f}% ({lo.method}, {lo.model}) to {hi.change_pct:+.1f}% ({hi.method}, {hi.model})"
