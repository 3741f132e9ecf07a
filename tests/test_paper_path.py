"""Bugs of the paper profile's path found by the rehearsal (``make rehearse-paper``), one test each."""

import json

import pytest

from sp_prm_lib import cli
from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.experiments import pairs as pairs_mod


def test_hub_profile_reads_sets_the_hub_lacks_from_the_mirror(monkeypatch):
    """data.source: hub asked the hub for the GSM8K solution pairs, which only the mirror has."""
    seen = {}

    def fake(name, source):
        seen[name] = source
        from sp_prm_lib.data import load_pairs, load_prompts

        loader = load_pairs if name == "gsm8k-pairs" else load_prompts
        return loader(name, source="mirror")

    monkeypatch.setattr(pairs_mod, "load_pairs", fake)
    monkeypatch.setattr(pairs_mod, "load_prompts", fake)
    P = load_profile("paper")
    sets = pairs_mod.prompt_sets(P)
    assert seen == {"advbench": "hub", "gsm8k": "hub", "gsm8k-pairs": "auto"}
    assert 0 < len(sets["gsm8k-pairs"].frame) <= P.data.gsm8k_pairs


def test_models_provisions_the_hub_reward_models(monkeypatch, capsys):
    """`sp-prm models --profile paper` fetched policy and embedder only: the RMs came later, on a GPU node."""
    import sp_prm_lib.models.loading as loading

    fetched = []
    monkeypatch.setattr(loading, "provision", lambda spec: fetched.append(spec.id) or f"/cache/{spec.id}")
    assert cli.main(["models", "--profile", "paper"]) == 0
    assert fetched == [
        "meta-llama/Meta-Llama-3-8B-Instruct",
        "princeton-nlp/sup-simcse-bert-base-uncased",
        "weqweasdas/RM-Gemma-2B",
        "weqweasdas/RM-Gemma-7B",
    ]
    assert cli.main(["models", "--profile", "smoke"]) == 0  # trained RMs: nothing to fetch for them
    assert not any("RM" in line for line in capsys.readouterr().out.splitlines()[4:])


def test_judge_timeout_from_the_environment(monkeypatch):
    from sp_prm_lib.core.errors import ConfigError
    from sp_prm_lib.judge.api import OpenAIChatJudge

    monkeypatch.setenv("SP_PRM_JUDGE_API_KEY", "k-123456")
    assert OpenAIChatJudge().timeout == 60.0
    monkeypatch.setenv("SP_PRM_JUDGE_TIMEOUT", "3")
    assert OpenAIChatJudge().timeout == 3.0
    assert OpenAIChatJudge(timeout=7).timeout == 7
    monkeypatch.setenv("SP_PRM_JUDGE_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="SP_PRM_JUDGE_TIMEOUT"):
        OpenAIChatJudge()


@pytest.mark.parametrize("profile, first", [("paper-rehearsal", "mean nothing"), ("smoke", "# Results overview")])
def test_results_page_opens_with_the_profile_notice(tmp_path, profile, first):
    from sp_prm_lib.report.results_page import results_markdown

    P = load_profile(profile)
    (tmp_path / "profile.json").write_text(json.dumps({"profile": P.name, "path": str(P.path), "timings": {}}))
    page = results_markdown(tmp_path, tmp_path / "_toc.yml")
    assert first in page.splitlines()[0]


def test_the_rehearsal_profile_changes_sizes_only():
    """paper-rehearsal runs the paper's code path: models, data sets, judge, dtypes, decoders are the paper's."""

    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    paper, rehearsal = flat(load_profile("paper").to_dict()), flat(load_profile("paper-rehearsal").to_dict())
    changed = {k for k in paper.keys() | rehearsal.keys() if paper.get(k) != rehearsal.get(k)}
    sizes = ("pairs", "prompts", "questions", "tokens", "bootstrap", "max_length", "batch_size", "grad_accum")
    sizes += ("methods.args.k", "width", "successors", "chunk_length", "bon", "calibration_prompts")
    allowed = {"name", "description", "notice"}
    assert changed and all(k in allowed or any(s in k for s in sizes) for k in changed), sorted(changed)
    assert rehearsal["policy.id"] == paper["policy.id"] and rehearsal["analysis.judge"] == "api"
