"""Pairwise: two answers scored side by side, the better one is the verdict (JudgeLM's main mode).

Both answer orders can be judged (`judge.swap`); the swapped order's scores are mapped back to
the original order and merged with the forward ones (`verdicts.merge_orders`).
"""

from __future__ import annotations

from judgelm_ray import verdicts
from judgelm_ray.modes import common

ANSWERS = (2, 2)
SWAPPABLE = True
VERDICT = True


def check(row: dict) -> str | None:
    return common.answer_count_error(row, "pairwise", *ANSWERS, hint="; use mode 'multi' to compare more answers")


def prompt(question: str, answers: list[str], reference: str | None, use_reference: bool) -> str:
    if len(answers) != 2:
        raise ValueError(f"pairwise mode needs exactly 2 answers, got {len(answers)}")
    return common.ranked_prompt(question, answers, reference, use_reference)



def parse(text: str, n_answers: int, policy: str) -> verdicts.ParsedJudgment:
    # Stripped first, as JudgeLM strips every output before its parser sees it.
    return verdicts.parse_judgment(text.strip(), n_answers, policy)
