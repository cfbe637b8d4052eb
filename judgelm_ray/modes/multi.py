"""Multi: 2 to 19 answers scored in one prompt ("Assistant 1, 2 and 3"), the best one is the verdict.

The instruction is rewritten for the number of answers as JudgeLM's gen_model_judgement_multi.py
does (`prompts.assemble`); reading the scores and merging both orders work as in pairwise mode.
"""

from __future__ import annotations

from judgelm_ray.modes import common
from judgelm_ray.modes.pairwise import parse  # noqa: F401 - the same score line as pairwise
from judgelm_ray.prompts import MAX_ANSWERS

ANSWERS = (2, MAX_ANSWERS)
SWAPPABLE = True
VERDICT = True


def check(row: dict) -> str | None:
    return common.answer_count_error(row, "multi", *ANSWERS)


def prompt(question: str, answers: list[str], reference: str | None, use_reference: bool) -> str:
    if not 2 <= len(answers) <= MAX_ANSWERS:
        raise ValueError(f"multi mode needs 2..{MAX_ANSWERS} answers, got {len(answers)}")
    return common.ranked_prompt(question, answers, reference, use_reference)
