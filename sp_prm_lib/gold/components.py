"""The components a gold reward is built from; each maps (prompts, responses) to one number per pair."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from sp_prm_lib.core.errors import ConfigError
from sp_prm_lib.data.dialogue import dialogue_to_messages


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()  # reads the lexicon shipped in the wheel: no download


def sentiment(prompts: Sequence[str], responses: Sequence[str], embedder=None) -> np.ndarray:
    """VADER compound sentiment of each response, in [-1, 1] (0 for text without sentiment words)."""
    analyzer = _vader()
    return np.array([analyzer.polarity_scores(r)["compound"] for r in responses], dtype=float)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentiment_mean(prompts: Sequence[str], responses: Sequence[str], embedder=None) -> np.ndarray:
    """Mean VADER compound over the response's sentences (split at . ! ? and line breaks; 0 if empty).

    Unlike ``sentiment`` of the whole text, a longer answer does not pile up sentiment words.
    """
    analyzer = _vader()
    out = []
    for r in responses:
        sentences = [s for s in _SENTENCE_END.split(r) if s.strip()]
        out.append(float(np.mean([analyzer.polarity_scores(s)["compound"] for s in sentences])) if sentences else 0.0)
    return np.array(out, dtype=float)


def last_human_turn(prompt: str) -> str:
    """The last user message of an HH-RLHF dialogue prompt (the prompt itself if it has no turns)."""
    messages = [m for m in dialogue_to_messages(prompt) if m["role"] == "user"] if "Human:" in prompt else []
    return messages[-1]["content"] if messages else prompt.strip()


def relevance(prompts: Sequence[str], responses: Sequence[str], embedder=None) -> np.ndarray:
    """Cosine similarity of the last human turn and the response (0 for an empty response)."""
    if embedder is None:
        raise ConfigError("the relevance component needs a sentence embedder (the profile's embedder)")
    questions = [last_human_turn(p) for p in prompts]
    texts = list(dict.fromkeys([*questions, *responses]))
    vectors = embedder.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_tensor=False)
    index = {t: np.asarray(v, dtype=float) for t, v in zip(texts, vectors)}
    out = np.array([float(index[q] @ index[r]) for q, r in zip(questions, responses)])
    return np.where([bool(r.strip()) for r in responses], out, 0.0)


def length(prompts: Sequence[str], responses: Sequence[str], embedder=None) -> np.ndarray:
    """log(1 + number of whitespace words) of each response."""
    return np.log1p([len(r.split()) for r in responses])


COMPONENTS = {"sentiment": sentiment, "sentiment_mean": sentiment_mean, "relevance": relevance, "length": length}
