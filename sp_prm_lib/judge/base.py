"""What every judge backend shares: requests, verdicts, errors, input checks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from sp_prm_lib.core.errors import ConfigError, SpPrmError
from sp_prm_lib.core.validation import parallel_lists
from sp_prm_lib.judge import templates
from sp_prm_lib.judge.parsing import parse_verdict


class JudgeError(SpPrmError, RuntimeError):
    """A judge could not produce replies (server unreachable, refused, malformed)."""


@dataclass(frozen=True)
class Comparison:
    """Two answers to one prompt: answer A is shown first."""

    prompt: str
    answer_a: str
    answer_b: str


@dataclass(frozen=True)
class Verdict:
    """One judgement: ``value`` is 1 (A better), 2 (B better), -1 (tie) for
    comparisons, 1 / 0 (correct / contains errors) for grading, or None when
    the reply could not be parsed. ``raw`` is the reply (or how it was made);
    ``scores`` holds per-candidate log-probabilities or rewards where known."""

    value: int | None
    raw: str = ""
    scores: dict = field(default_factory=dict)

    @property
    def parsed(self) -> bool:
        return self.value is not None


def check_texts(**named: Sequence[str]) -> int:
    """Common length of the named text lists; one-line ConfigError when empty,
    mismatched or not strings."""
    return parallel_lists("judge", strings=True, **named)


class Judge(ABC):
    """A preference judge: compares two answers, optionally grades one solution."""

    name: str = "judge"

    @abstractmethod
    def compare(self, items: Sequence[Comparison]) -> list[Verdict]:
        """One verdict per comparison, in order (1: A better, 2: B better, -1: tie, None: unparseable)."""

    def rewards(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float] | None:
        """The judge's own reward of each response where it has one (reward-model judges), else None."""
        return None

    def grade(self, problems: Sequence[str], solutions: Sequence[str]) -> list[Verdict]:
        """GSM8K correctness verdicts (1 correct, 0 errors, None unparseable)."""
        raise ConfigError(f"judge {self.name!r} cannot grade solutions; use the api or local-lm backend")


class TemplateJudge(Judge):
    """A judge that answers the paper's chat templates (API model or local LM)."""

    @abstractmethod
    def answer(self, conversations: list[list[dict[str, str]]], allowed: tuple[int, ...]) -> list[Verdict]:
        """A verdict among ``allowed`` for each chat conversation."""

    def compare(self, items: Sequence[Comparison]) -> list[Verdict]:
        if not items:
            return []
        return self.answer(
            [templates.hh_messages(c.prompt, c.answer_a, c.answer_b) for c in items], templates.HH_VERDICTS
        )

    def grade(self, problems: Sequence[str], solutions: Sequence[str]) -> list[Verdict]:
        check_texts(problems=problems, solutions=solutions)
        return self.answer(
            [templates.gsm8k_messages(p, s) for p, s in zip(problems, solutions)], templates.GSM8K_VERDICTS
        )


def verdict_from_reply(reply: str, allowed: tuple[int, ...]) -> Verdict:
    """Parse a free-text reply into a Verdict (None value when unparseable)."""
    return Verdict(parse_verdict(reply, allowed), reply)
