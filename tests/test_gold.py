"""The gold reward of the lab: components, scores of texts and prefixes, labels with noise, bad config."""

import numpy as np
import pandas as pd
import pytest

from sp_prm_lib.config.gold import GoldSpec
from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.gold import GoldReward, gold_labels, label_ceiling
from sp_prm_lib.gold.components import last_human_turn, length, sentiment
from sp_prm_lib.judge import Comparison, make_judge
from sp_prm_lib.models.tiny import byte_tokenizer

PROMPT = "\n\nHuman: Can you help me bake bread?\n\nAssistant:"


class BagEmbedder:
    """A sentence embedder stand-in: normalised letter counts (cosine = letter overlap)."""

    def encode(self, texts, batch_size=64, normalize_embeddings=True, convert_to_tensor=False):
        out = np.zeros((len(texts), 26))
        for i, t in enumerate(texts):
            for c in t.lower():
                if "a" <= c <= "z":
                    out[i, ord(c) - 97] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def test_components_on_plain_text():
    assert sentiment([PROMPT] * 2, ["I love this, great job!", "This is awful and terrible."]).tolist()[0] > 0.5
    assert sentiment([PROMPT], ["The oven is at 200 degrees."])[0] == 0.0
    assert length([PROMPT] * 2, ["", "one two three"]).tolist() == [0.0, pytest.approx(np.log(4))]
    assert last_human_turn("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: bake bread?\n\nAssistant:") == "bake bread?"


def test_sentence_mean_sentiment_does_not_grow_with_length():
    from sp_prm_lib.gold.components import sentiment_mean

    one = sentiment_mean([PROMPT], ["I love it."])[0]
    many = sentiment_mean([PROMPT], ["I love it. " * 6])[0]
    assert one == pytest.approx(many) and one > 0.5
    assert sentiment_mean([PROMPT], [""])[0] == 0.0


def test_gold_is_the_weighted_sum_and_memoised():
    gold = GoldReward({"sentiment": 1.0, "length": -0.5}, tokenizer=byte_tokenizer())
    texts = ["Great, happy to help!", "No."]
    got = gold.score([PROMPT] * 2, texts).numpy()
    want = sentiment([PROMPT] * 2, texts) - 0.5 * length([PROMPT] * 2, texts)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    gold._memo[(PROMPT, "No.")] = 123.0  # a second call reads the memo
    assert float(gold.score([PROMPT], ["No."])[0]) == 123.0
    assert "sentiment" in gold.describe() and "length" in gold.describe()


def test_prefix_scores_are_the_gold_of_the_prefix_text():
    tok = byte_tokenizer()
    gold = GoldReward({"sentiment": 1.0, "relevance": 2.0}, embedder=BagEmbedder(), tokenizer=tok)
    text = "Sure, I would love to help you bake bread."
    (scores,) = gold.score_prefixes([PROMPT], [text], [[5, 20, len(text)]])
    want = gold.score([PROMPT] * 3, [text[:5], text[:20], text]).numpy()
    np.testing.assert_allclose(scores.numpy(), want, rtol=1e-6)


def test_gold_labels_without_noise_follow_the_gold_and_drop_ties():
    gold = GoldReward({"sentiment": 1.0})
    pairs = pd.DataFrame(
        {
            "prompt": [PROMPT] * 3,
            "chosen": ["awful", "great!", "ok then"],
            "rejected": ["wonderful", "terrible", "fine then"],
        }
    )
    out = gold_labels(gold, pairs, beta=None)
    # VADER: awful -0.46 < wonderful 0.57; great! 0.66 > terrible -0.48; "ok then" 0.30 > "fine then" 0.20
    assert out.pairs.chosen.tolist() == ["wonderful", "great!", "ok then"] and out.ties == 0
    assert (out.gap > 0).all() and out.ceiling == 1.0 and out.flipped_by_noise == 0


def test_noisy_labels_flip_about_as_often_as_bradley_terry_says():
    gold = GoldReward({"length": 1.0})
    n = 2000
    rng = np.random.default_rng(0)
    a = [" ".join(["w"] * int(k)) for k in rng.integers(1, 30, n)]
    b = [" ".join(["w"] * int(k)) for k in rng.integers(1, 30, n)]
    pairs = pd.DataFrame({"prompt": [PROMPT] * n, "chosen": a, "rejected": b})
    out = gold_labels(gold, pairs, beta=0.3, seed=1)
    expected_flips = float(np.sum(1 - np.maximum(out.p_first, 1 - out.p_first)))
    assert abs(out.flipped_by_noise - expected_flips) < 4 * np.sqrt(expected_flips)
    assert out.ceiling == pytest.approx(1 - expected_flips / len(out.pairs), abs=1e-9)
    again = gold_labels(gold, pairs, beta=0.3, seed=1)
    pd.testing.assert_frame_equal(out.pairs, again.pairs)  # seeded


def test_label_ceiling():
    assert label_ceiling(np.array([0.0, 100.0]), beta=1.0) == pytest.approx(0.75)
    assert label_ceiling(np.array([1.0]), beta=None) == 1.0


def test_the_gold_is_a_judge_backend():
    judge = make_judge("gold", gold=GoldReward({"sentiment": 1.0}))
    verdicts = judge.compare(
        [
            Comparison(PROMPT, "I am glad to help!", "I hate this."),
            Comparison(PROMPT, "I hate this.", "I am glad to help!"),
            Comparison(PROMPT, "Bread.", "Flour."),
        ]
    )
    assert [v.value for v in verdicts] == [1, 2, -1]  # both orders agree; neutral texts tie


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"components": {"humour": 1.0}}, "components.humour: unknown gold component"),
        ({"components": {"sentiment": 0.0}}, "every weight is 0"),
        ({"components": {}}, "at least one gold component"),
        ({"components": {"sentiment": float("nan")}}, "components.sentiment: weight must be a finite number"),
    ],
)
def test_bad_gold_config_is_one_line(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        GoldSpec(**kwargs)


def test_bad_labels_input():
    gold = GoldReward({"sentiment": 1.0})
    neutral = pd.DataFrame({"prompt": [PROMPT] * 2, "chosen": ["bread", "flour"], "rejected": ["oven", "salt"]})
    with pytest.raises(ConfigError, match="constant on this data"):
        gold_labels(gold, neutral)
    with pytest.raises(ConfigError, match="gold.beta must be > 0"):
        gold_labels(gold, neutral, beta=0.0)
    with pytest.raises(ConfigError, match="needs the profile's embedder"):
        GoldReward({"relevance": 1.0})


def test_a_profile_with_gold_labels_gets_gold_ordered_pairs_cached(tmp_path, monkeypatch):
    import yaml

    from sp_prm_lib.config.profile import load_profile
    from sp_prm_lib.experiments import pairs as pairs_mod
    from sp_prm_lib.gold.components import sentiment

    monkeypatch.setenv("SP_PRM_CACHE", str(tmp_path / "cache"))
    raw = yaml.safe_load(load_profile("smoke").path.read_text())
    raw["name"] = "smoke-gold"
    raw["data"]["labels"] = "gold"
    raw["gold"] = {"components": {"sentiment": 1.0}}
    path = tmp_path / "smoke-gold.yaml"
    path.write_text(yaml.safe_dump(raw))
    profile = load_profile(path)
    human = pairs_mod.preference_splits(load_profile("smoke"))["train"]
    gold = pairs_mod.preference_splits(profile)["train"]
    frame = gold.frame
    got = sentiment(frame.prompt.tolist(), frame.chosen.tolist()) - sentiment(
        frame.prompt.tolist(), frame.rejected.tolist()
    )
    assert (got > 0).all() and len(frame) + gold.dropped["gold_tie"] == len(human.frame)
    assert list((tmp_path / "cache" / "artifacts" / "gold-labels").iterdir())  # labelled once, cached
