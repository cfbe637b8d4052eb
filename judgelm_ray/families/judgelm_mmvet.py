"""JudgeLM's MM-Vet judge (`judge.template: judgelm-mmvet`): one answer graded against a ground truth.

The strings are copied verbatim from baaivision/JudgeLM `judgelm/llm_judge/common.py`
(`conv_judge_vqa_single_answer`); the assembly follows `judgelm/llm_judge/gen_model_judgement_mmvet.py`:

    system + "\\n" + template(question, reference=<the raw ground truth>,
                              answer_1=<the ground truth as an answer>, answer_2=<the graded answer>,
                              prompt=<instruction>) + "### Response:10"

The ground truth is Assistant 1, pre-filled with score 10 as in single-answer grading, and the
[Reference Answer] block always shows it raw, MM-Vet's <OR> / <AND> markup included. Assistant 1's
text is derived from it as upstream does, checked in this order:
- "a<OR>b": one of the alternatives, split on "<OR>" and not stripped. Upstream takes
  `random.choice` (unseeded, so it changes from run to run); the first alternative is taken here so
  that a run's prompts are reproducible. An alternative keeps any "<AND>" in it, as upstream does.
- "a<AND>b": every "<AND>" replaced by " and ".
- anything else: unchanged.
JudgeLM judges MM-Vet from text alone: a row's images are not written into this prompt (the judge
job sends them to a vision-language engine where one is configured). A dialogue row's earlier turns
are shown in the question slot (`dialogue.as_text`). The judge's score line comes first and is read
as single mode reads it (`modes.single.parse`: the pre-filled "10" is put back, two scores read,
the graded answer's returned).
"""

from __future__ import annotations

from judgelm_ray import verdicts
from judgelm_ray.inputs import dialogue
from judgelm_ray.inputs.canonical import has_reference
from judgelm_ray.modes import common, single

MODES = ("single",)
FAST = True  # the two scores are the first line, as in every JudgeLM template
CHAT = False  # one raw prompt

SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
INSTRUCTION = (
    "We would like to request your feedback on the performance of two AI assistants' answers in comparing "
    "with the reference answer and determine if they match meaningfully. Please rate the helpfulness, "
    "relevance, accuracy, level of details of the Assistants' answers. To accomplish the task, you must : "
    "1. Focus on the meaningful match between the reference answer and the Assistants' answers.\n"
    " 2. Consider synonyms or paraphrases as valid matches.\n"
    " 3. Evaluate the correctness of the Assistants' answers compared to the reference answer.\n"
    " 4. If there are multiple reference answers, the Assistants' answer is considered correct as long as "
    "it is close to any of the answers.\n"
    "Please first output a single line containing only two values indicating the scores for Assistant 1 "
    "and 2, respectively. The two scores are separated by a space. In the subsequent line, please provide "
    "a comprehensive explanation of your evaluation, avoiding any potential bias and ensuring that the "
    "order in which the responses were presented does not affect your judgment."
)
TEMPLATE = (
    "[Question]\n{question}\n\n[Reference Answer]\n{reference}\n\n"
    "[The Start of Assistant 1's Answer]\n{answer_1}\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\n{answer_2}\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n{prompt}\n\n"
)
# The pre-filled "10" is single mode's prompts.SINGLE_SCORE_PREFIX, which its parser puts back.
APPENDIX = "### Response:10"
# The template's fixed lines that row text could forge (`judge.guard`).
DELIMITERS = (
    "[Question]",
    "[Reference Answer]",
    "[The Start of Assistant 1's Answer]",
    "[The End of Assistant 1's Answer]",
    "[The Start of Assistant 2's Answer]",
    "[The End of Assistant 2's Answer]",
    "[System]",
    "### Response:",
)
OR, AND = "<OR>", "<AND>"


def ground_truth_answer(reference: str) -> str:
    """Assistant 1's text: the ground truth written as an answer (see the module doc)."""
    if OR in reference:
        return reference.split(OR)[0]
    if AND in reference:
        return reference.replace(AND, " and ")
    return reference


def check(row: dict, mode: str, use_reference: bool) -> str | None:
    """Why the row cannot be graded with this template (the answer count is the mode's check)."""
    where = common.where(row)
    if mode not in MODES:
        return f"{where}: the judgelm-mmvet template grades one answer (mode 'single'), not mode {mode!r}"
    if not has_reference(row):
        return (f"{where}: field 'reference': missing; the MM-Vet template grades the answer against the "
                "ground truth (MM-Vet's 'answer'), so every row needs one")
    for field in ("answer_turns", "reference_turns"):
        if row.get(field):
            return (f"{where}: field '{field}': the MM-Vet template shows one question and one answer; "
                    "turns of the answer's own cannot be shown")
    return None


def prompt(row: dict, mode: str, use_reference: bool) -> str:
    """The raw prompt. The template always shows the reference, so `use_reference` changes nothing."""
    if mode not in MODES:
        raise ValueError(f"the judgelm-mmvet template has no prompt for mode {mode!r}; expected one of {MODES}")
    if len(row["answers"]) != 1:
        raise ValueError(f"the judgelm-mmvet template grades exactly 1 answer, got {len(row['answers'])}")
    reference = common.require_reference(row["reference"], "the judgelm-mmvet template")
    question = row["question"]
    if row.get("turns"):
        question = dialogue.as_text([*row["turns"], {"role": "user", "content": question}])
    body = TEMPLATE.format(question=question, reference=reference, answer_1=ground_truth_answer(reference),
                           answer_2=row["answers"][0], prompt=INSTRUCTION)
    return SYSTEM + "\n" + body + APPENDIX


def parse(text: str, mode: str, n_answers: int, policy: str) -> verdicts.ParsedJudgment:
    """The graded answer's score (scores=[x]), read after the pre-filled "10" as single mode does."""
    return single.parse(text, n_answers, policy)
