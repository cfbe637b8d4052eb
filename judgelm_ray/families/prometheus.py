"""Prometheus 2 (prometheus-eval): absolute grading of one answer against a score rubric (single mode,
"... [RESULT] 3" -> scores=[3]) and relative grading of two answers (pairwise mode, "... [RESULT] B" ->
verdict "2").

The templates, system prompts and result patterns are those of the prometheus-eval package 0.1.20
(PyPI; `prometheus_eval/prompts.py`, `parser.py`, `judge.py`; commit 485d2b4 of
prometheus-eval/prometheus-eval holds the same prompts). Prometheus 2 was trained on these exact bytes,
so do not tidy them.

What a row puts in the slots:
  instruction         row["question"]; for a dialogue row, the turns and then the final user turn as
                      one text (`inputs.dialogue.as_text`), since the templates have one instruction
                      slot. In single mode an answer's own earlier turns (`answer_turns[0]`) come between
                      them; pairwise rows cannot have those (both responses share the one slot).
  response            answers[0] (single); response_A / response_B = answers[0] / answers[1] (pairwise)
  reference_answer    row["reference"] (only with `use_reference`: the templates with a reference block)
  rubric              row["rubric"] as given, already filled from `judge.rubric`: the whole rubric text.
                      Upstream writes an absolute rubric as criteria + five score descriptions
                      (`rubric_text`), and a relative one as the criteria alone (its `load_rubric` keeps
                      the first line for relative grading).
prompt() returns the messages PrometheusEval builds, [system, user], which it sends as they are to
API models (LiteLLM); for a local vLLM model it renders them with FastChat's "mistral" conversation
template instead (`fastchat_mistral`), which a model's own chat template may or may not reproduce.
Upstream's benchmark script (eval/run_evaluate.py) uses the model's chat template: [system, user]
where the template mentions a system role, else one user turn of the system prompt directly followed
by the prompt (no separator).
"""

from __future__ import annotations

import re

from judgelm_ray import verdicts
from judgelm_ray.inputs.canonical import has_reference
from judgelm_ray.inputs.dialogue import as_text
from judgelm_ray.modes.common import where

MODES = ("single", "pairwise")  # single: absolute grading; pairwise: relative grading
FAST = False  # the feedback comes first, the result last
CHAT = True  # system + user messages

# ---------------------------------------------------------------- prometheus_eval/prompts.py, verbatim
ABS_SYSTEM_PROMPT = "You are a fair judge assistant tasked with providing clear, objective feedback based on specific criteria, ensuring each assessment reflects the absolute standards set for performance."
REL_SYSTEM_PROMPT = "You are a fair judge assistant assigned to deliver insightful feedback that compares individual performances, highlighting how each stands relative to others within the same cohort."

ABSOLUTE_PROMPT = """###Task Description:
An instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.
1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"
4. Please do not generate any other opening, closing, and explanations.

###The instruction to evaluate:
{instruction}

###Response to evaluate:
{response}

###Reference Answer (Score 5):
{reference_answer}

###Score Rubrics:
{rubric}

###Feedback: """

ABSOLUTE_PROMPT_WO_REF = """###Task Description:
An instruction (might include an Input inside it), a response to evaluate, and a score rubric representing a evaluation criteria are given.
1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"
4. Please do not generate any other opening, closing, and explanations.

###The instruction to evaluate:
{instruction}

###Response to evaluate:
{response}

###Score Rubrics:
{rubric}

###Feedback: """

RELATIVE_PROMPT = """###Task Description:
An instruction (might include an Input inside it), a response to evaluate, a reference answer, and a score rubric representing a evaluation criteria are given.
1. Write a detailed feedback that assess the quality of two responses strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, choose a better response between Response A and Response B. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (A or B)"
4. Please do not generate any other opening, closing, and explanations.

###Instruction:
{instruction}

###Response A:
{response_A}

###Response B:
{response_B}

###Reference Answer:
{reference_answer}

###Score Rubric:
{rubric}

###Feedback: """

RELATIVE_PROMPT_WO_REF = """###Task Description:
An instruction (might include an Input inside it), a response to evaluate, and a score rubric representing a evaluation criteria are given.
1. Write a detailed feedback that assess the quality of two responses strictly based on the given score rubric, not evaluating in general.
2. After writing a feedback, choose a better response between Response A and Response B. You should refer to the score rubric.
3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (A or B)"
4. Please do not generate any other opening, closing, and explanations.

###Instruction:
{instruction}

###Response A:
{response_A}

###Response B:
{response_B}

###Score Rubric:
{rubric}

###Feedback: """

SCORE_RUBRIC_TEMPLATE = """[{criteria}]
Score 1: {score1_description}
Score 2: {score2_description}
Score 3: {score3_description}
Score 4: {score4_description}
Score 5: {score5_description}"""
# ---------------------------------------------------------------- end of the verbatim copy

# The section lines of the templates above (tests check each occurs in a template's bytes). "###Feedback:"
# without its trailing space, so that a forged "###Feedback:\n" is found too.
DELIMITERS = (
    "###Task Description:",
    "###The instruction to evaluate:",
    "###Response to evaluate:",
    "###Reference Answer (Score 5):",
    "###Score Rubrics:",
    "###Instruction:",
    "###Response A:",
    "###Response B:",
    "###Reference Answer:",
    "###Score Rubric:",
    "###Feedback:",
)
_TEMPLATES = {  # (mode, use_reference) -> (system prompt, template)
    ("single", True): (ABS_SYSTEM_PROMPT, ABSOLUTE_PROMPT),
    ("single", False): (ABS_SYSTEM_PROMPT, ABSOLUTE_PROMPT_WO_REF),
    ("pairwise", True): (REL_SYSTEM_PROMPT, RELATIVE_PROMPT),
    ("pairwise", False): (REL_SYSTEM_PROMPT, RELATIVE_PROMPT_WO_REF),
}


def rubric_text(criteria: str, score1: str, score2: str, score3: str, score4: str, score5: str) -> str:
    """An absolute-grading rubric written as upstream's SCORE_RUBRIC_TEMPLATE writes it (for judge.rubric)."""
    return SCORE_RUBRIC_TEMPLATE.format(criteria=criteria, score1_description=score1, score2_description=score2,
                                        score3_description=score3, score4_description=score4,
                                        score5_description=score5)


def check(row: dict, mode: str, use_reference: bool) -> str | None:
    _known(mode)
    rubric = row.get("rubric")
    if not isinstance(rubric, str) or not rubric.strip():
        return (f"{where(row)}: field 'rubric': missing; Prometheus grades against a score rubric: set "
                "judge.rubric, or give each row a rubric")
    if use_reference and not has_reference(row):
        return (f"{where(row)}: field 'reference': missing; the Prometheus prompt with a reference answer needs "
                "one: give the row a reference, or set judge.reference to 'auto' or 'never'")
    if mode == "pairwise" and any(row.get("answer_turns") or []):
        return (f"{where(row)}: field 'answer_turns': Prometheus' relative prompt has one instruction slot for "
                "both responses, so they cannot have their own earlier turns; grade each in mode 'single'")
    return None


def prompt(row: dict, mode: str, use_reference: bool) -> list[dict]:
    """[system, user] messages of one request, the answers in the order shown."""
    system, template = _TEMPLATES[(_known(mode), use_reference)]
    reference = row.get("reference")
    if use_reference and not isinstance(reference, str):
        raise ValueError(f"use_reference=True needs a reference answer (str), got {type(reference).__name__}")
    answers = row["answers"]
    slots = dict(instruction=_instruction(row, mode), rubric=row["rubric"], reference_answer=reference)
    if mode == "single":
        content = template.format(response=answers[0], **slots)
    else:
        content = template.format(response_A=answers[0], response_B=answers[1], **slots)
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def _instruction(row: dict, mode: str) -> str:
    turns = row.get("turns") or []
    own = (row.get("answer_turns") or [[]])[0] if mode == "single" else []  # check() refuses them in pairwise
    if not turns and not own:
        return row["question"]
    return as_text([*turns, *own, {"role": "user", "content": row["question"]}])


def fastchat_mistral(messages: list[dict]) -> str:
    """The messages as prometheus-eval's VLLM path sends them: FastChat's "mistral" conversation template
    (fschat 0.2.36), "[INST] {system}\\n{user} [/INST]"; the tokenizer adds the BOS token."""
    system, user = (m["content"] for m in messages)
    return f"[INST] {system}\n{user} [/INST]"


# ---------------------------------------------------------------- parsing (prometheus_eval/parser.py)
# Upstream's patterns, written compactly (case-insensitive, so its "[RESULT]"/"[Result]" and
# "Score"/"score" alternatives collapse): the result must end the output, trailing whitespace aside.
# Absolute: "[RESULT] 4", "[RESULT] (4)", "Score: 4", "score of 4", "4/5", "4 out of 5".
_ABSOLUTE = re.compile(
    r"(?:\[result\]:?|\[score\]|score:?|result:?|score\s+of)\s*[(\[\s]*(\d+)"
    r"(?:[)\]\s]|/\s*5|\s*out\s*of\s*5)?\s*$",
    re.IGNORECASE,
)
# Relative: "[RESULT] A", "[RESULT: A]", "[Response A]", "[Result] Response A", or a line "Result: A";
# MULTILINE as upstream: the letter must end its line, not necessarily the output.
_RELATIVE = re.compile(
    r"(?:\[result\](?:\s+response)?|\[result:\s*|\[response\s+|(?:^|\n)result:?\s*)\s*([ab])\]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTE_LIMIT = 80


def parse(text: str, mode: str, n_answers: int, policy: str) -> verdicts.ParsedJudgment:
    """Absolute -> scores=[n] (1-5); relative -> verdict "1" (A) or "2" (B), in the order shown.

    `policy` is ignored: prometheus-eval has one parser, already lenient about the result's form
    ("[RESULT] 4", "Score: 4", "4/5"), and results stay comparable with upstream's only if read alike.
    Where upstream finds no result (or a score outside 1-5) it returns None and retries the request;
    here that is a parse failure, never a tie.
    """
    if not text.strip():
        return _fail("empty judge output")
    if _known(mode) == "single":
        score, error = absolute_score(text)
        if error is not None:
            return _fail(error)
        return verdicts.ParsedJudgment(scores=[float(score)], error=None)
    letter, error = relative_choice(text)
    if error is not None:
        return _fail(error)
    return verdicts.ParsedJudgment(scores=None, error=None, verdict={"A": "1", "B": "2"}[letter])


def absolute_score(text: str) -> tuple[int | None, str | None]:
    """(score, None), or (None, why) where upstream's parse_output(text, "absolute") gives None."""
    match = _ABSOLUTE.search(text)
    if match is None:
        return None, f"no '[RESULT] n' score at the end of the output {_quote_end(text)}"
    score = int(match.group(1))
    # Upstream takes the first match and refuses it when out of range, without looking further.
    if not 1 <= score <= 5:
        return None, f"score {score} is outside 1-5 in {_quote_end(text)}"
    return score, None


def relative_choice(text: str) -> tuple[str | None, str | None]:
    """("A" or "B", None), or (None, why) where upstream's parse_output(text, "relative") gives None."""
    match = _RELATIVE.search(text)
    if match is None:
        return None, f"no '[RESULT] A' or '[RESULT] B' ending a line of the output {_quote_end(text)}"
    return match.group(1).upper(), None


def _quote_end(text: str) -> str:
    # The result is looked for at the end, so the end is what explains a failure.
    text = text.rstrip()
    return repr(text if len(text) <= _QUOTE_LIMIT else "..." + text[3 - _QUOTE_LIMIT:])


def _fail(reason: str) -> verdicts.ParsedJudgment:
    return verdicts.ParsedJudgment(scores=None, error=reason)


def _known(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"the prometheus template has no {mode!r} mode; expected one of {MODES}")
    return mode
