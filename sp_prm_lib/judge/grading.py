"""GSM8K correctness judged with the Fig. 7 template (the paper's GPT-4 accuracy)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from sp_prm_lib.judge.base import Judge, check_texts


def grade_solutions(judge: Judge, problems: Sequence[str], solutions: Sequence[str]) -> pd.DataFrame:
    """One row per solution: verdict (1 correct, 0 errors, <NA> unparseable) and the reply."""
    check_texts(problems=problems, solutions=solutions)
    verdicts = judge.grade(problems, solutions)
    table = pd.DataFrame({"verdict": [v.value for v in verdicts], "reply": [v.raw for v in verdicts]})
    table["verdict"] = table["verdict"].astype("Int64")
    return table


def judged_accuracy(judge: Judge, problems: Sequence[str], solutions: Sequence[str]) -> dict:
    """Accuracy over parseable verdicts; unparseable replies counted apart."""
    table = grade_solutions(judge, problems, solutions)
    parsed = table.verdict.dropna()
    return {
        "judge": judge.name,
        "n": len(table),
        "correct": int((parsed == 1).sum()),
        "unparseable": int(table.verdict.isna().sum()),
        "accuracy": float((parsed == 1).mean()) if len(parsed) else float("nan"),
    }
