"""GSM8K: questions with worked answers, and preference pairs of model solutions.

``train.jsonl`` / ``test.jsonl`` (and hub ``openai/gsm8k``, config ``main``):
``{"question": str, "answer": str}`` with the answer ending "#### N".
``example_model_solutions.jsonl`` (the 1319 test questions):
``{"question", "ground_truth", "6b_finetuning", "6b_verification",
"175b_finetuning", "175b_verification"}``, each solution being
``{"is_correct": bool, "solution": str}`` ending "A: N".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sp_prm_lib.data.dialogue import messages_to_dialogue
from sp_prm_lib.data.rows import Pair, RowError, Skip, nonempty_text, text_field, type_name

SOLUTION_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
NO_CONTRAST = "no_contrast"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FINAL = re.compile(r"(?:####|(?:^|\n)\s*A:)\s*([^\n]*?)\s*$")


def final_number(text: str) -> str | None:
    """The final number after "#### " (GSM8K answers) or a last "A: " line
    (model solutions), without commas, "$" or trailing "."; None if absent."""
    match = _FINAL.search(text.rstrip())
    if not match:
        return None
    value = match.group(1).replace(",", "").replace("$", "").strip().rstrip(".")
    return value if _NUMBER.fullmatch(value) else None


def map_gsm8k_row(record: Mapping[str, Any]) -> dict[str, str]:
    """One question to {prompt, reference (full answer), final_answer} (pure)."""
    question = nonempty_text(record, "question")
    answer = nonempty_text(record, "answer")
    if "####" not in answer:
        raise RowError("answer", "no final '#### N' line")
    final = final_number(answer)
    if final is None:
        raise RowError("answer", "the text after '####' is not a number")
    return {"prompt": question, "reference": answer, "final_answer": final}


def _solution(record: Mapping[str, Any], key: str) -> tuple[bool, str]:
    if key not in record:
        raise RowError(key, "missing")
    entry = record[key]
    if not isinstance(entry, Mapping):
        raise RowError(key, f"expected an object, got {type_name(entry)}")
    if not isinstance(entry.get("is_correct"), bool):
        raise RowError(f"{key}.is_correct", f"expected true or false, got {type_name(entry.get('is_correct'))}")
    return entry["is_correct"], text_field(entry, "solution", label=f"{key}.solution").strip()


def map_solutions_row(record: Mapping[str, Any]) -> Pair | Skip:
    """First correct vs first incorrect solution (in SOLUTION_KEYS order) of a question (pure)."""
    question = nonempty_text(record, "question")
    solutions = [_solution(record, key) for key in SOLUTION_KEYS]
    correct = [text for ok, text in solutions if ok]
    wrong = [text for ok, text in solutions if not ok]
    if not correct or not wrong:
        return Skip(NO_CONTRAST)
    prompt = messages_to_dialogue([{"role": "user", "content": question}])
    return Pair(prompt, correct[0], wrong[0])
