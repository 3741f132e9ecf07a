"""Judges of (partial) answers behind one interface, with the paper's templates.

Backends (``make_judge(name, ...)``): ``api`` (an OpenAI-compatible chat API,
cached on disk and retried), ``local-lm`` (a local causal LM read through
verdict-token log-probabilities) and ``rm-proxy`` (a reward model).
``judge_pairs`` judges both answer orders; ``win_tie_rate`` gives the paper's
win-tie rate against a base policy; ``judge_agreement`` measures a judge
against human labels; ``judged_accuracy`` grades GSM8K solutions.
"""

from sp_prm_lib.judge.backends import BACKENDS, judge_identity, make_judge
from sp_prm_lib.judge.base import Comparison, Judge, JudgeError, TemplateJudge, Verdict
from sp_prm_lib.judge.grading import grade_solutions, judged_accuracy
from sp_prm_lib.judge.pairwise import combine, judge_pairs, outcome_summary, win_tie_rate
from sp_prm_lib.judge.parsing import parse_verdict
from sp_prm_lib.judge.quality import judge_agreement, judge_agreement_table

__all__ = [
    "BACKENDS",
    "Comparison",
    "Judge",
    "JudgeError",
    "TemplateJudge",
    "Verdict",
    "judge_agreement_table",
    "combine",
    "grade_solutions",
    "judge_agreement",
    "judge_identity",
    "judge_pairs",
    "judged_accuracy",
    "make_judge",
    "outcome_summary",
    "parse_verdict",
    "win_tie_rate",
]
