"""Single: one answer graded against the reference, its score is the result (no verdict).

As in JudgeLM's single-answer grading, the reference is shown as Assistant 1 and the appendix
pre-fills its score with "10" (`prompts.SINGLE_SCORE_PREFIX`): the engine's output continues
after it, so the parser puts the prefix back before reading two scores. One answer cannot be
reordered, so there is no swapped order.
"""

from __future__ import annotations

from judgelm_ray import prompts, verdicts
from judgelm_ray.modes import common

ANSWERS = (1, 1)
SWAPPABLE = False
VERDICT = False


def check(row: dict) -> str | None:
    # JudgeLM's single mode also needs a reference: its family checks that (`families.judgelm`).
    return common.answer_count_error(row, "single", *ANSWERS, hint="; use mode 'pairwise' or 'multi'")


def prompt(question: str, answers: list[str], reference: str | None, use_reference: bool) -> str:
    """`use_reference` also adds the [Reference Answer] block."""
    if len(answers) != 1:
        raise ValueError(f"single mode needs exactly 1 answer, got {len(answers)}")
    ref = common.require_reference(reference, "single mode")
    return prompts.assemble(question, [ref, answers[0]], ref, use_reference, prompts.APPENDIX + prompts.SINGLE_SCORE_PREFIX)


def parse(text: str, n_answers: int = 1, policy: str = "judgelm") -> verdicts.ParsedJudgment:
    """Score of the graded answer. Not stripped: the output continues the pre-filled "10", so its
    leading space matters."""
    parsed = verdicts.parse_judgment(prompts.SINGLE_SCORE_PREFIX + text, 2, policy)
    if parsed.scores is None:
        return parsed
    # Output like "0 8" would extend the pre-filled "10" to 100: the line is then misread.
    if parsed.scores[0] != float(prompts.SINGLE_SCORE_PREFIX):
        return verdicts.ParsedJudgment(
            scores=None, error=f"pre-filled score {prompts.SINGLE_SCORE_PREFIX} was continued into {parsed.scores[0]:g}"
        )
    return verdicts.ParsedJudgment(scores=[parsed.scores[1]], error=None)
