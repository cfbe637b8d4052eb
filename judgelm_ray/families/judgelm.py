"""JudgeLM's own templates (`judgelm_ray.prompts`) in every mode, with dialogues in its one question slot.

The prompt of each mode and its score-line parser are JudgeLM's (`judgelm_ray.modes`). JudgeLM's
templates have a single question slot and one block per answer, so a dialogue row is written
into them as text (`inputs.dialogue.as_text`, FastChat's "### User:" / "### Assistant:" blocks, one
blank line apart):
- the question slot holds the shared turns and then the final user turn;
- where the answers (or the reference) have their own earlier turns (`answer_turns`), the
  question slot holds the shared turns only, and each answer block that answer's own
  conversation from where they part, ending with its final answer as an "### Assistant:" block.
A single-turn row's prompt is byte-identical to JudgeLM's, so released checkpoints read it unchanged.
"""

from __future__ import annotations

from judgelm_ray import modes, prompts, verdicts
from judgelm_ray.engines.score_line import ScoreLine
from judgelm_ray.inputs.canonical import has_reference
from judgelm_ray.inputs.dialogue import as_text

MODES = tuple(modes.MODES)  # JudgeLM has a prompt for every mode
FAST = True  # the score line comes first
CHAT = False  # one raw prompt
DELIMITERS = prompts.DELIMITERS


def check(row: dict, mode: str, use_reference: bool) -> str | None:
    if mode == "single" and not has_reference(row):
        return (f"{row['source']} row {row['row']}: field 'reference': missing; JudgeLM's single mode grades the "
                "answer against the reference (shown to the judge as Assistant 1), so every row needs one")
    return None


def prompt(row: dict, mode: str, use_reference: bool) -> str:
    question, answers, reference = slots(row)
    return modes.get(mode).prompt(question, answers, reference, use_reference)


def slots(row: dict) -> tuple[str, list[str], str | None]:
    """The text of the question slot, each answer block and the reference block."""
    turns, question = row.get("turns") or [], row["question"]
    own = row.get("answer_turns")
    if not turns:
        return question, row["answers"], row["reference"]
    if own is None and not row.get("reference_turns"):
        return as_text([*turns, _turn("user", question)]), row["answers"], row["reference"]

    def branch(earlier: list[dict] | None, final: str | None) -> str | None:
        if final is None:
            return None
        return as_text([*(earlier or []), _turn("user", question), _turn("assistant", final)])

    answers = [branch(own[i] if own else None, answer) for i, answer in enumerate(row["answers"])]
    return as_text(turns), answers, branch(row.get("reference_turns"), row["reference"])


def _turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def score_line(mode: str, n_answers: int) -> ScoreLine:
    """The first line the judge writes for a row: a score per answer; single grading continues the
    pre-filled "10" (`prompts.SINGLE_SCORE_PREFIX`) with " <score>"."""
    return ScoreLine(1, lead=" ") if mode == "single" else ScoreLine(n_answers)


def parse(text: str, mode: str, n_answers: int, policy: str) -> verdicts.ParsedJudgment:
    return modes.get(mode).parse(text, n_answers, policy)
