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
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from sp_prm_lib.config.profile import Profile
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.core.settings import home
from sp_prm_lib.experiments.verdicts import VERDICTS, ClaimResult, ClaimTest, combine, evaluate, resampling, shown

VALUES_FILE = Path(__file__).with_name("paper_values.yaml")
FIELDS = ("ref", "setting", "claim", "columns", "rows", "notes")
CLAIMS = "claims"  # the section of the values file that lists the tested claims
CLAIM_FIELDS = ("ref", "notebook", "values", "claim", "test", "tests", "view_of")


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
        given = [k for k in ("test", "tests", "view_of") if k in claim]
        if len(given) != 1:
            raise ConfigError(f"{where}: needs exactly one of test, tests or view_of, got {given or 'none'}")
        if "test" in claim:
            ClaimTest.parse(claim["test"], f"{where}.test")
        elif "tests" in claim:
            if not isinstance(claim["tests"], dict) or not claim["tests"]:
                raise ConfigError(f"{where}: tests must map each measured quantity to its test")
            for name, test in claim["tests"].items():
                ClaimTest.parse(test, f"{where}.tests.{name}")
    for key, claim in claims.items():
        if "view_of" in claim and ("view_of" in claims.get(claim["view_of"], {"view_of": 1})):
            raise ConfigError(
                f"{VALUES_FILE}: {CLAIMS}.{key}: view_of must name a tested claim, got {claim['view_of']!r}"
            )
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
    out = {"ref": claim["ref"], "notebook": claim["notebook"], "claim": " ".join(str(words).split())}
    if "view_of" in claim:
        out["view_of"] = claim["view_of"]
    return out


def claim_test(claim_id: str, name: str | None = None) -> ClaimTest:
    """The test of a claim (``name``: which one, for a claim of several tests) as the values file states it."""
    claim_entry(claim_id)
    claim = _load()[1][claim_id]
    where = f"{VALUES_FILE.name}: {CLAIMS}.{claim_id}"
    if "test" in claim:
        if name is not None:
            raise ConfigError(f"{where} has one test, not one named {name!r}")
        return ClaimTest.parse(claim["test"], f"{where}.test")
    if "tests" not in claim:
        raise ConfigError(f"{where} is a view of {claim['view_of']!r}, not a test of its own")
    if name not in claim["tests"]:
        raise ConfigError(f"{where} has no test {name!r}; its tests: {', '.join(claim['tests'])}")
    return ClaimTest.parse(claim["tests"][name], f"{where}.tests.{name}")


def check(profile: Profile, claim_id: str, effects, *, test: str | None = None, **options) -> ClaimResult:
    """Run a claim's test (``test``: its name, for a claim of several) on ``effects`` (part ->
    per-unit effects) with the profile's resampling size and seed; ``options`` go to
    ``verdicts.evaluate`` (``independent``, ``dependence``, ``nulls``, ``family``, ``scale``)."""
    names = claim_test_names(claim_id)
    options.setdefault("family", len(names) or 1)
    return evaluate(effects, claim_test(claim_id, test), **resampling(profile), **options)


def claim_test_names(claim_id: str) -> list[str]:
    """The names of a claim's tests (``[]`` for a claim of one test or a view)."""
    claim_entry(claim_id)
    return list(_load()[1][claim_id].get("tests") or [])


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


def _test_summary(name: str, result: ClaimResult) -> dict:
    t = result.test
    rows = result.deciding()
    return {
        "test": name,
        "estimand": t.estimand if t else "",
        "kind": t.kind if t else "",
        "direction": t.direction if t else "",
        "over": t.over if t else "",
        "paper_effect": t.paper_effect if t else None,
        "paper_effect_from": t.paper_effect_from if t else "",
        "margin": t.margin if t else 0.0,
        "verdict": result.verdict,
        "why": result.why,
        "decided_on": "; ".join(f"{r.part} {r.estimate}" for r in rows.itertuples()),
        "n": int(rows.n.min()) if len(rows) else 0,
        "mde": result.mde if math.isfinite(result.mde) else None,
        # JSON has no infinity: beyond the search limit (the why says "more than 100,000") reads null
        "n_needed": result.units_needed if math.isfinite(result.units_needed) else None,
    }


def record(
    profile: Profile,
    claim_id: str,
    *,
    evidence: str,
    setting: str,
    result: ClaimResult | None = None,
    results: dict[str, ClaimResult] | None = None,
    verdict: str | None = None,
    why: str = "",
    table: pd.DataFrame | None = None,
    estimates: pd.DataFrame | None = None,
):
    """File one claim's verdict for the results overview and show it in the notebook.

    ``claim_id`` names an entry of the values file's ``claims`` section, which gives the
    claim's ``ref``, its words, its notebook and its test. The verdict comes from ``result``
    (``verdicts.evaluate`` of the claim's test), from ``results`` (one per named test of a
    claim of several, combined by ``verdicts.combine``), for a claim decided otherwise
    (an equivalence, not run here) from ``verdict`` and ``why``, and for a ``view_of`` claim
    given none of these from its parent (``view_verdict``). ``evidence`` is our numbers
    in one or two sentences, ``setting`` our profile's models, sizes and judge backend;
    ``estimates`` the rows shown next to the verdict (by default the results' rows). Returns
    a Markdown object for display.
    """
    claim = claim_entry(claim_id)
    if "view_of" in claim and verdict is None and result is None and not results:
        verdict, why = view_verdict(profile, claim_id)
    summaries = []
    if result is not None or results:
        if verdict is not None or (result is not None and results):
            raise ConfigError("record: give one of result, results or verdict")
        named = {"": result} if result is not None else dict(results)
        if results:
            verdict, why = combine(named)
        else:
            verdict, why = result.verdict, result.why
        summaries = [_test_summary(n, r) for n, r in named.items()]
        if estimates is not None and results and "test" in estimates:
            missing = sorted(set(named) - set(estimates["test"]))
            if missing:
                raise ConfigError(
                    f"record {claim_id}: the estimates' test column names no rows of test {missing[0]!r} "
                    f"(tests: {', '.join(named)})"
                )
        if estimates is None:
            frames = [shown(r).assign(test=n) if n else shown(r) for n, r in named.items()]
            estimates = pd.concat(frames, ignore_index=True)
            if results:
                estimates = estimates[["test", *[c for c in estimates.columns if c != "test"]]]
    if verdict not in VERDICTS:
        raise ConfigError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    out = results_dir(profile.name)
    out.mkdir(parents=True, exist_ok=True)
    entry = {
        "id": claim_id,
        "ref": claim["ref"],
        "claim": claim["claim"],
        "verdict": verdict,
        "why": why,
        "evidence": evidence,
        "setting": setting,
        "notebook": claim["notebook"],
        "profile": profile.name,
        "tests": summaries,
    }
    if "view_of" in claim:
        entry["view_of"] = claim["view_of"]
    needed = [s["n_needed"] for s in summaries if s["n_needed"] is not None]
    mdes = [s["mde"] for s in summaries if s["mde"] is not None]
    entry["n_needed"] = max(needed) if needed else None
    entry["mde"] = max(mdes) if mdes else None
    if estimates is not None:
        entry["estimates"] = json.loads(estimates.to_json(orient="split", index=False))
    if table is not None:
        entry["table"] = json.loads(table.to_json(orient="split", index=False))
    tmp = out / f".{claim_id}.json.tmp"
    tmp.write_text(json.dumps(entry, indent=1, allow_nan=False, default=_json_number), encoding="utf-8")
    tmp.replace(out / f"{claim_id}.json")
    from IPython.display import Markdown

    because = f" ({why})" if why else ""
    return Markdown(
        f"**{claim['ref']}: {verdict}**{because} (profile `{profile.name}`). *Paper:* {claim['claim']} "
        f"*Ours:* {evidence} *Setting:* {setting}"
    )


def _json_number(value):
    """Numbers numpy or pandas hand over, as JSON: NaN and infinities as null."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"not JSON serializable: {type(value).__name__}") from None
    return number if number == number and abs(number) != float("inf") else None


def view_verdict(profile: Profile, claim_id: str) -> tuple[str, str]:
    """The verdict a ``view_of`` claim (a figure showing another claim's numbers) is filed with:
    its parent's, read from the profile's results when the parent's notebook filed one, else
    ``inconclusive``; why says it is a view, not counted again. ``record`` uses it for a view
    filed without a verdict."""
    parent = claim_entry(claim_id).get("view_of")
    if not parent:
        raise ConfigError(f"{claim_id} is not a view_of claim: it has a test of its own")
    path = results_dir(profile.name) / f"{parent}.json"
    verdict = "inconclusive"
    if path.is_file():
        try:
            verdict = json.loads(path.read_text(encoding="utf-8"))["verdict"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(f"{path}: not a verdict record (no readable verdict)") from None
        if verdict not in VERDICTS:
            raise ConfigError(f"{path}: unknown verdict {verdict!r}")
    return verdict, f"a view of {claim_entry(parent)['ref']}: not counted again"


def record_not_run(profile: Profile, claim_id: str, reason: str, *, setting: str | None = None):
    """File ``not run here`` for a claim the profile's run cannot test, saying why (``reason``:
    what the run lacks, e.g. "the profile's decoding.variants leave out sc")."""
    return record(
        profile,
        claim_id,
        verdict="not run here",
        why=reason,
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
