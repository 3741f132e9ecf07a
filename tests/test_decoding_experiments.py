"""Decoding experiments (notebooks 07-10, 12): tables, caching, profile validation, TL;DR from files."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from sp_prm_lib.config.profile import load_profile
from sp_prm_lib.core.artifacts import ArtifactStore
from sp_prm_lib.core.errors import ConfigError, DataError
from sp_prm_lib.decoding import Policy
from sp_prm_lib.experiments.decoding import ensure_decoding_table, method_runs, resolved_configs
from sp_prm_lib.experiments.decoding_tables import case_studies, compare_with_paper, improvement_checks
from sp_prm_lib.experiments.decoding_tasks import TASKS, task_available, task_prompts
from sp_prm_lib.judge import make_judge
from sp_prm_lib.models.tiny import byte_tokenizer, tiny_config
from sp_prm_lib.report.tables import labelled
from sp_prm_lib.scoring.reward_model import RewardModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

METHODS = {
    "args": {"k": 2, "w": 1.5},
    "tbs": {"width": 1, "successors": 2},
    "cbs": {"width": 2, "successors": 2, "chunk_length": 2},
    "cards": {"threshold": "prefix", "min_segment": 1, "max_segment": 2, "max_rejections": 1},
}


def small_profile(**decoding):
    P = load_profile("smoke")
    values = dict(
        prompts=2,
        max_new_tokens=3,
        summary_max_new_tokens=3,
        batch_size=2,
        bon=[2, 3],
        gsm8k_bon=[2, 3],
        methods=METHODS,
    )
    values.update(decoding)
    return dataclasses.replace(P, decoding=dataclasses.replace(P.decoding, **values))


def _model(kind: str, tok, seed: int):
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    config = tiny_config(kind, len(tok))
    config.max_position_embeddings = 16384  # HH-RLHF dialogues are long in bytes
    config.pad_token_id = tok.pad_token_id
    torch.manual_seed(seed)
    if kind.endswith("causal-lm"):
        return AutoModelForCausalLM.from_config(config).eval()
    config.num_labels = 1
    return AutoModelForSequenceClassification.from_config(config).eval()


class HashEmbedder:
    """Byte-histogram sentence vectors: deterministic, no download."""

    def encode(self, texts, **_):
        out = np.zeros((len(texts), 16))
        for i, t in enumerate(texts):
            for b in t.encode():
                out[i, b % 16] += 1
        return out + 1e-3


class FakeModels:
    """``ExperimentModels`` on tiny random models; ``loads`` counts what had to be loaded."""

    def __init__(self, forbid: bool = False):
        self.forbid = forbid
        self.loads = []
        self._cache = {}

    def trained(self, role):
        return SimpleNamespace(artifact=SimpleNamespace(key=f"tiny-random-{role}"))

    def _get(self, name, build):
        if self.forbid:
            raise AssertionError(f"{name} loaded although everything is cached")
        self.loads.append(name)
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    @property
    def policy(self):
        tok = byte_tokenizer()
        return self._get("policy", lambda: Policy(_model("llama-causal-lm", tok, 1), tok))

    def rm(self, role):
        seeds = {"orm": 2, "sp-prm": 3, "sc": 4, "reference": 5}
        tok = byte_tokenizer()
        return self._get(
            f"rm:{role}",
            lambda: RewardModel(
                _model("llama-reward", tok, seeds[role]), tok, convention="closed", max_length=4096, name=role
            ),
        )

    @property
    def embedder(self):
        return self._get("embedder", HashEmbedder)

    @property
    def judge(self):
        return self._get("judge", lambda: make_judge("rm-proxy", rm=self.rm("reference")))


@pytest.fixture(scope="module")
def hh(tmp_path_factory):
    store = ArtifactStore(tmp_path_factory.mktemp("store"))
    P = small_profile()
    models = FakeModels()
    return P, store, ensure_decoding_table(P, "hh-rlhf", store=store, models=models), models


def test_hh_table_has_the_paper_rows_and_columns(hh):
    P, _, result, _ = hh
    table = result.table
    expected = [("base", "none")] + [
        (m, v) for m in ("args", "tbs", "cbs", "cards", "bon-16", "bon-64") for v in ("orm", "sp-prm", "sc")
    ]
    assert list(zip(table.method, table.variant)) == expected
    assert set(table[table.method.str.startswith("bon")].ours) == {"bon-2", "bon-3"}
    for column in ("n", "reward", "reward_sd", "ref_reward", "diversity", "coherence", "win_tie", "tokens", "decode_s"):
        assert column in table, column
    assert (table.n == P.decoding.prompts).all()
    assert table.win_tie.between(0, 100).all() and table.win_tie.iloc[0] == 50.0
    assert len(result.generations) == len(table) * P.decoding.prompts
    assert (result.generations.tokens <= P.decoding.max_new_tokens).all()
    # the guiding RM matters: each run's own reward is its guide's score
    g = result.generations
    assert not np.allclose(
        g[(g.method == "bon-16") & (g.variant == "orm")].guide_reward.to_numpy(dtype=float),
        g[(g.method == "bon-16") & (g.variant == "sp-prm")].guide_reward.to_numpy(dtype=float),
    )


def test_side_by_side_with_table1(hh):
    _, _, result, _ = hh
    side = compare_with_paper(result)
    assert {"reward paper", "reward ours", "win_tie paper", "win_tie ours"} <= set(side.columns)
    assert side.method.iloc[0] == "base" and len(side) == 19
    assert side["reward paper"].notna().all() and side["reward ours"].notna().all()
    checks = improvement_checks(result.table, "reward")
    assert list(checks.method) == ["args", "tbs", "cbs", "cards", "bon-16", "bon-64"]
    labels = labelled(result.table).row.tolist()
    assert labels[:4] == ["Base", "ARGS-G", "ARGS-G +Ours", "ARGS-G +Ablation"] and "BoN-3 +Ours" in labels
    cases = case_studies(result, indices=[0])
    assert len(cases) == 19 and set(cases["index"]) == {0}


def test_second_call_reads_the_cache_without_loading_models(hh):
    P, store, result, _ = hh
    again = ensure_decoding_table(P, "hh-rlhf", store=store, models=FakeModels(forbid=True))
    assert again.table.equals(result.table)


def test_interrupted_run_resumes(tmp_path):
    from sp_prm_lib.experiments.decoding import ensure_run

    P = small_profile(prompts=2)
    store = ArtifactStore(tmp_path)
    models = FakeModels()
    prompts = task_prompts(P, "advbench").prompt.tolist()
    run = [r for r in method_runs(P, "advbench") if r.method == "bon-16"][0]
    original = models.rm

    def failing(role):
        rm = original(role)

        class Once:
            name = role

            def score_texts(self, ps, rs):
                if any(p == prompts[1] for p in ps):
                    raise KeyboardInterrupt
                return rm.score(ps, rs)

        return Once()

    models.rm = failing
    P1 = dataclasses.replace(P, decoding=dataclasses.replace(P.decoding, batch_size=1))
    with pytest.raises(KeyboardInterrupt):
        ensure_run(P1, "advbench", run, "orm", prompts, store, models)
    models.rm = original
    art = ensure_run(P1, "advbench", run, "orm", prompts, store, models)
    assert art.manifest["facts"]["resumed_from"] == 1 and art.manifest["facts"]["prompts"] == 2


def test_advbench_and_gsm8k_metrics(tmp_path):
    P = small_profile()
    store, models = ArtifactStore(tmp_path), FakeModels()
    adv = ensure_decoding_table(
        P, "advbench", variants=["orm", "sp-prm"], methods=["args", "bon"], store=store, models=models
    )
    assert list(adv.table.method) == ["base", "args", "args", "bon-16", "bon-16", "bon-64", "bon-64"]
    assert {"asr", "asr_refusal"} <= set(adv.table.columns) and "win_tie" not in adv.table
    assert adv.prompts.prompt.str.endswith(" Sure here's").all()
    assert set(compare_with_paper(adv, ["reward", "asr"]).columns) >= {"asr paper", "asr ours"}
    gsm = ensure_decoding_table(P, "gsm8k", variants=["orm"], methods=["bon"], store=store, models=models)
    assert list(gsm.table.ours) == ["base", "bon-2", "bon-3"]  # gsm8k_bon sizes
    assert list(gsm.table.method) == ["base", "bon-8", "bon-16"]  # stand in for the paper's BoN-8/16
    assert gsm.table.accuracy.between(0, 100).all()


def _tldr_file(tmp_path):
    rows = []
    for i in range(3):
        rows.append(
            {
                "info": {
                    "id": str(i),
                    "post": f"My cat {i} refuses to eat. What do I do?",
                    "title": f"cat {i}",
                    "subreddit": "pets",
                },
                "summaries": [{"text": f"cat {i} will not eat"}, {"text": "dogs"}],
                "choice": 0,
                "worker": "w",
                "batch": "b",
                "split": "valid1",
                "extra": {},
            }
        )
    path = tmp_path / "tldr.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_tldr_runs_the_hub_code_path_on_local_files(tmp_path):
    P = small_profile()
    assert "hub" in task_available(P, "tldr")
    assert task_available(dataclasses.replace(P, data=dataclasses.replace(P.data, source="hub")), "tldr") is None
    with pytest.raises(DataError, match="hub only"):
        task_prompts(P, "tldr")
    result = ensure_decoding_table(
        P,
        "tldr",
        variants=["orm", "sp-prm"],
        methods=["cbs"],
        store=ArtifactStore(tmp_path),
        models=FakeModels(),
        data_files=_tldr_file(tmp_path),
    )
    assert list(result.table.method) == ["base", "cbs", "cbs"]
    assert result.table.rouge_l.between(0, 1).all()
    assert result.prompts.reference.iloc[0] == "cat 0 will not eat"
    assert "rouge_l ours" in compare_with_paper(result, ["reward", "rouge_l"]).columns


def test_bad_method_or_task_is_a_one_line_config_error():
    P = small_profile()
    for call, name in (
        (lambda: ensure_decoding_table(P, "hh-rlhf", methods=["beam-me-up"]), "beam-me-up"),
        (lambda: ensure_decoding_table(P, "hh-rlhf", variants=["bogus"]), "bogus"),
        (lambda: method_runs(P, "squad"), "squad"),
    ):
        with pytest.raises(ConfigError) as err:
            call()
        assert name in str(err.value) and "\n" not in str(err.value)


def _write_profile(tmp_path, edit):
    raw = yaml.safe_load(load_profile("smoke").path.read_text())
    edit(raw["decoding"])
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d["methods"]["args"].update(kk=3), ["decoding.methods.args", "kk"]),
        (lambda d: d["methods"].update(foo={"k": 1}), ["decoding.methods.foo", "unknown decoding method"]),
        (lambda d: d["methods"]["cbs"].update(width=0), ["decoding.methods.cbs", "width"]),
        (lambda d: d["methods"].update(args=[1, 2]), ["decoding.methods.args", "mapping"]),
        (lambda d: d.update(variants=["orm", "nope"]), ["decoding.variants[1]", "nope"]),
        (lambda d: d.update(prompts=0), ["decoding.prompts", ">= 1"]),
        (lambda d: d.update(base="beam"), ["decoding.base"]),
        (lambda d: d.update(extra=1), ["decoding.extra"]),
    ],
)
def test_bad_profile_decoding_key_is_a_one_line_config_error(tmp_path, edit, words):
    path = _write_profile(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    for w in words:
        assert w in message


def test_profiles_resolve_every_task():
    for name in ("smoke", "tiny", "paper"):
        P = load_profile(name)
        for task in TASKS:
            frame = resolved_configs(P, task)
            assert len(frame) == 7 and frame.method.iloc[0] == "base"
    paper = load_profile("paper")
    args = [r for r in method_runs(paper, "hh-rlhf") if r.method == "args"][0].config
    cbs = [r for r in method_runs(paper, "hh-rlhf") if r.method == "cbs"][0].config
    assert (args.k, args.w, args.max_new_tokens) == (30, 1.5, 512)
    assert (cbs.width, cbs.successors, cbs.chunk_length) == (8, 8, 30)
    assert [r.config.n for r in method_runs(paper, "gsm8k") if r.decoder == "bon"] == [8, 16]
    assert [r.config.max_new_tokens for r in method_runs(paper, "tldr")][0] == 256


def test_guiding_variant_names_are_checked_with_their_place():
    from sp_prm_lib.config.variants import check_guiding_variants

    check_guiding_variants(["orm", "sp-prm", "sc"], "variants")
    with pytest.raises(ConfigError, match=r"decoding.variants\[1\]: unknown guiding reward model 'sp_prm'"):
        check_guiding_variants(["orm", "sp_prm"], "decoding.variants")


def test_paired_differences_match_a_naive_loop(hh):
    from sp_prm_lib.experiments.decoding_claims import paired_differences

    _, _, result, _ = hh
    g = result.generations
    diffs = paired_differences(g, "reward")
    prompts = sorted(g["index"].unique())
    for method, effects in diffs.items():
        for i, prompt in enumerate(prompts):

            def mean_of(variant, method=method, prompt=prompt):
                rows = g[(g.method == method) & (g.variant == variant) & (g["index"] == prompt)]
                return rows.reward.mean()

            assert effects[i] == pytest.approx(mean_of("sp-prm") - mean_of("orm"))
    for metric, hit in (("win", ["a"]), ("win_tie", ["a", "tie"])):
        for method, effects in paired_differences(g, metric).items():
            rows = g[g.method == method].sort_values("index")
            a = rows[rows.variant == "sp-prm"].outcome.isin(hit).astype(float).to_numpy()
            b = rows[rows.variant == "orm"].outcome.isin(hit).astype(float).to_numpy()
            assert np.allclose(effects, a - b)
    with pytest.raises(ConfigError, match="no metric 'nope'"):
        paired_differences(g, "nope")
    with pytest.raises(ConfigError, match="no method was run with both"):
        paired_differences(g, "reward", against="released")


def _generations(n=40, effect=None, seed=0, variants=("orm", "sp-prm", "sc")):
    """Synthetic judged generations: every method x variant x prompt, SP-PRM's reward and
    judge reward raised by ``effect[method]`` (0 by default), ASR and accuracy in percent."""
    rng = np.random.default_rng(seed)
    effect = effect or {}
    rows = []
    for method in ("args", "tbs", "cbs", "cards", "bon-16", "bon-64"):
        for variant in variants:
            for i in range(n):
                lift = effect.get(method, 0.0) if variant == "sp-prm" else 0.0
                rows.append(
                    {
                        "method": method,
                        "variant": variant,
                        "index": i,
                        "reward": 2.0 + lift + rng.normal(0, 0.2),
                        "judge_reward": 1.0 + lift + rng.normal(0, 0.2),
                        "ref_reward": 0.5 + rng.normal(0, 0.2),
                        "diversity": 0.5 + rng.normal(0, 0.05),
                        "coherence": 0.5 + rng.normal(0, 0.05),
                        "asr": 100.0 * (rng.random() < (0.2 if variant == "sp-prm" else 0.6)),
                        "outcome": rng.choice(["a", "b", "tie"]),
                    }
                )
    base = [{"method": "base", "variant": "none", "index": i, "reward": 2.0, "outcome": "tie"} for i in range(n)]
    return pd.DataFrame(rows + base)


def test_check_claim_skips_bon_scales_by_the_orm_level_and_caps_the_orms_own_reward():
    from sp_prm_lib.experiments.decoding_claims import check_claim

    smoke, lab = load_profile("smoke"), load_profile("smoke-lab")
    assert smoke.analysis.judge == "rm-proxy" and lab.analysis.judge == "gold"
    rgs = ("args", "tbs", "cbs", "cards")
    g = _generations(effect={m: 0.5 for m in rgs} | {"bon-16": -1.0, "bon-64": -1.0})
    # the lab: the gold's reward decides; BoN's drop is shown but does not decide
    claim = check_claim(lab, g, "table1-reward")
    r = claim.results[""]
    assert claim.metrics[""] == "judge_reward" and claim.dependence[""] == ""
    table = r.table.set_index("part")
    assert not table.loc[["bon-16", "bon-64"], "decides"].any() and table.loc[list(rgs), "decides"].all()
    assert table.loc["bon-16", "mean"] < -0.5
    assert r.verdict == "reproduced", r.why
    orm = g[(g.variant == "orm") & g.method.isin(rgs)].groupby("method").judge_reward.mean().mean()
    assert claim.scales[""] == pytest.approx(orm)
    assert r.test.paper_effect == pytest.approx(0.0423 * abs(orm))  # relative effect times the ORM level
    # the human track: the ORM's own reward cannot decide SP-PRM against the ORM, either way
    capped = check_claim(smoke, g, "table1-reward")
    assert capped.metrics[""] == "reward" and "ORM's own reward" in capped.dependence[""]
    assert capped.results[""].verdict == "inconclusive" and "not independent" in capped.results[""].why
    down = check_claim(smoke, _generations(effect={"args": -1.0}), "table1-reward")
    assert down.results[""].verdict == "inconclusive" and "would read contradicted" in down.results[""].why
    # every method must hold: one method down contradicts the claim in the lab
    one_down = check_claim(
        lab, _generations(effect={"args": 0.5, "tbs": 0.5, "cbs": 0.5, "cards": -1.0}), "table1-reward"
    )
    assert one_down.results[""].verdict == "contradicted" and "cards" in one_down.results[""].why


def test_check_claim_runs_each_named_test_on_its_metric_in_shares():
    from sp_prm_lib.experiments.decoding_claims import check_claim

    lab = load_profile("smoke-lab")
    g = _generations(n=60)
    claim = check_claim(lab, g, "table3")
    assert set(claim.results) == {"asr", "reward"} and claim.metrics == {"asr": "asr", "reward": "judge_reward"}
    asr = claim.results["asr"].table.set_index("part")
    args = g[g.method == "args"].sort_values("index")
    naive = (args[args.variant == "sp-prm"].asr.to_numpy() - args[args.variant == "orm"].asr.to_numpy()) / 100
    assert set(np.unique(naive)) <= {-1.0, 0.0, 1.0}  # a share per prompt, not percentage points
    assert asr.loc["args", "mean"] == pytest.approx(naive.mean())
    assert claim.results["asr"].verdict == "reproduced"  # 20% vs 60% attack success, every method
    assert claim.results["reward"].verdict != "reproduced"  # no reward effect
    verdict, _ = claim.verdict
    assert verdict != "reproduced" and claim.record_kwargs().keys() == {"results"}
    # the ablation: SP-PRM against SC, three tests, family 3; the reward scaled by the SC level
    ablation = check_claim(lab, g, "table1-ablation", against="sc")
    assert set(ablation.results) == {"reward", "diversity", "coherence"}
    sc = g[(g.variant == "sc") & (g.method != "base")].groupby("method").judge_reward.mean().mean()
    assert ablation.scales["reward"] == pytest.approx(sc) and ablation.scales["diversity"] is None
    assert (ablation.results["reward"].table.part == "pooled").sum() == 1
    assert ablation.results["reward"].table.set_index("part").loc["pooled", "decides"]
    with pytest.raises(ConfigError, match="metrics names no metric"):
        check_claim(lab, g, "table3", metrics={"rouge_l": "rouge_l"})


def test_evaluator_dependence_names_every_judge_that_took_part():
    from sp_prm_lib.experiments.decoding_claims import evaluator_dependence

    assert "ORM's own reward" in evaluator_dependence("reward", "orm", judge_independent=True)
    assert evaluator_dependence("reward", "sc", judge_independent=True) == ""
    assert evaluator_dependence("reward", "sp-prm-tlt", judge_independent=False) == ""
    assert "reference RM" in evaluator_dependence("ref_reward", "sc", judge_independent=True)
    assert "rm-proxy" in evaluator_dependence("win_tie", "orm", judge_independent=False, judge="rm-proxy")
    assert evaluator_dependence("win_tie", "orm", judge_independent=True) == ""
    for metric in ("asr", "accuracy", "rouge_l", "diversity", "coherence", "judge_reward"):
        assert evaluator_dependence(metric, "orm", judge_independent=True) == ""


def test_win_tie_table_counts_wins_and_ties_apart_and_views_take_the_parents_verdict(tmp_path, monkeypatch):
    import json

    from sp_prm_lib.experiments import comparison
    from sp_prm_lib.experiments.comparison import view_verdict
    from sp_prm_lib.experiments.decoding_claims import win_tie_table

    g = _generations(n=10)
    rates = win_tie_table(g).set_index(["method", "variant"])
    rows = g[(g.method == "tbs") & (g.variant == "sp-prm")]
    assert rates.loc[("tbs", "sp-prm"), "win"] == pytest.approx(100 * (rows.outcome == "a").mean())
    assert rates.loc[("tbs", "sp-prm"), "tie"] == pytest.approx(100 * (rows.outcome == "tie").mean())
    assert set(rates.index.get_level_values(1)) == {"orm", "sp-prm"}
    P = load_profile("smoke")
    monkeypatch.setattr(comparison, "results_dir", lambda name: tmp_path / name)
    assert view_verdict(P, "fig8")[0] == "inconclusive"  # the parent filed nothing yet
    (tmp_path / P.name).mkdir()
    (tmp_path / P.name / "table1-reward.json").write_text(json.dumps({"verdict": "contradicted"}))
    verdict, why = view_verdict(P, "fig8")
    assert verdict == "contradicted" and why == "a view of Table 1 (reward): not counted again"
    with pytest.raises(ConfigError, match="not a view_of claim"):
        view_verdict(P, "table1-reward")
    comparison.record(P, "fig8", evidence="e", setting="s")  # a view filed without a verdict takes its parent's
    filed = json.loads((tmp_path / P.name / "fig8.json").read_text())
    assert (filed["verdict"], filed["why"]) == ("contradicted", "a view of Table 1 (reward): not counted again")
    (tmp_path / P.name / "table1-reward.json").write_text('{"verdict": ')
    with pytest.raises(ConfigError, match="table1-reward.json: not a verdict record"):
        view_verdict(P, "fig8")


def test_reward_metric_prefers_an_independent_judges_reward_else_the_fallback():
    from sp_prm_lib.experiments.decoding_claims import reward_metric

    g = pd.DataFrame({"reward": [1.0, 2.0], "ref_reward": [0.5, 0.1], "judge_reward": [np.nan, 0.3]})
    assert reward_metric(g, True) == "judge_reward"
    assert reward_metric(g, False) == "reward"
    assert reward_metric(g, False, fallback="ref_reward") == "ref_reward"
    unscored = g.assign(judge_reward=np.nan)  # a judge that gives no reward (an LM judge)
    assert reward_metric(unscored, True, fallback="ref_reward") == "ref_reward"
    assert reward_metric(g.drop(columns="judge_reward"), True) == "reward"
    with pytest.raises(ConfigError, match="no column 'gold' in the generations"):
        reward_metric(g, True, fallback="gold")
