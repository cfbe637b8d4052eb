"""The ``prometheus`` input format: prometheus-eval's absolute-grading records (``eval/benchmark/data/
vicuna_eval.json``, ``mt_bench_eval.json``): idx, response_source, category, instruction, gpt4_score,
gpt4_feedback.

``instruction`` is the whole grading prompt, which this adapter splits back into its sections:
  ###Task Description: ...  ###The instruction to evaluate:  -> question
  ###Response to evaluate:                                    -> answers = [response]
  ###Reference Answer (Score 5):  (when the prompt has one)   -> reference
  ###Score Rubrics:                                           -> rubric ("[criteria]\\nScore 1: ...")
  ###Feedback:                                                (the end of the prompt)
Each section is kept byte for byte (upstream's own loader strips them: MT-bench's questions end in
"Assistant: "), so rendering the fields with the template again gives the record's prompt. Only the
absolute-grading task descriptions of Prometheus 1 and 2, with and without a reference, are
accepted; meta["template"] says which ("prometheus-1" / "prometheus-2"). The two differ in one line:
Prometheus 1's output format reads "Feedback: (write a feedback for criteria) [RESULT] ...",
Prometheus 2's "(write a feedback for criteria) [RESULT] ...". These files are Prometheus 1's.

gold_scores = [the mean of the GPT-4 scores] (three 1-5 scores per record): prometheus-eval's own
evaluation correlates its judge with that mean (eval/utils.py, calculate_results). The scores and
GPT-4's feedback stay in meta, with idx, response_source and category. idx is shared by the four
models' answers to a question, so it is no row id: ids are derived from the file and row.
"""

from __future__ import annotations

import statistics

from judgelm_ray.inputs import fields as f

ID_KEY = "id"

# The task descriptions (Prometheus 2's ABSOLUTE_PROMPT / ABSOLUTE_PROMPT_WO_REF up to the instruction;
# `families.prometheus` holds the templates, tests check both agree).
_GIVEN = {
    True: "a response to evaluate, a reference answer that gets a score of 5, and a score rubric",
    False: "a response to evaluate, and a score rubric",
}
_FEEDBACK_LABEL = {"prometheus-1": "Feedback: ", "prometheus-2": ""}
_TASK = (
    "###Task Description:\n"
    "An instruction (might include an Input inside it), {given} representing a evaluation criteria are given.\n"
    "1. Write a detailed feedback that assess the quality of the response strictly based on the given score "
    "rubric, not evaluating in general.\n"
    "2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the "
    "score rubric.\n"
    '3. The output format should look as follows: "{label}(write a feedback for criteria) [RESULT] '
    '(an integer number between 1 and 5)"\n'
    "4. Please do not generate any other opening, closing, and explanations.\n\n"
    "###The instruction to evaluate:\n"
)
# (opening, template name, whether it has a reference section)
OPENINGS = [(_TASK.format(given=_GIVEN[ref], label=label), name, ref)
            for name, label in _FEEDBACK_LABEL.items() for ref in (True, False)]
RESPONSE = "\n\n###Response to evaluate:\n"
REFERENCE = "\n\n###Reference Answer (Score 5):\n"
RUBRIC = "\n\n###Score Rubrics:\n"
END = "\n\n###Feedback: "


def adapt(rec: dict) -> tuple[dict, dict]:
    sections, template = split_prompt(f.text(rec, "instruction"))
    values = {"question": sections["instruction"], "answers": [sections["response"]],
              "reference": sections.get("reference"), "rubric": sections["rubric"],
              "gold_verdict": None, "gold_scores": _gold(rec.get("gpt4_score"))}
    meta = f.rest(rec, {"id", "instruction"})
    meta["template"] = template
    return values, meta


def split_prompt(prompt: str) -> tuple[dict, str]:
    """An absolute-grading prompt -> ({instruction, response, [reference], rubric}, template name)."""
    opening = next((o for o in OPENINGS if prompt.startswith(o[0])), None)
    if opening is None:
        raise f.RowError("instruction", f"does not open with the task description of a Prometheus 1 or 2 "
                                        f"absolute-grading prompt: {prompt[:60]!r}")
    head, template, has_reference = opening
    if not prompt.endswith(END):
        raise f.RowError("instruction", f"does not end with {END.strip()!r} as a grading prompt does: "
                                        f"{prompt[-40:]!r}")
    body = prompt[len(head):-len(END)]
    markers = [RESPONSE, REFERENCE, RUBRIC] if has_reference else [RESPONSE, RUBRIC]
    parts = []
    for marker in markers:
        # The sections come in order, so a section line in row text is only ambiguous where it occurs
        # again in what is left (a forged rubric line in the reference): refuse that rather than guess.
        if body.count(marker) != 1:
            raise f.RowError("instruction", f"has the section line {marker.strip()!r} {body.count(marker)} "
                                            "times, not once; cannot tell its sections apart")
        part, body = body.split(marker)
        parts.append(part)
    names = ["instruction", "response", *(["reference"] if has_reference else []), "rubric"]
    return dict(zip(names, [*parts, body])), template


def _gold(value) -> list[float] | None:
    """The mean of the GPT-4 scores (a list, or one number), or None where there are none."""
    if value is None:
        return None
    scores = value if isinstance(value, list) else [value]
    numbers = [f.finite_number(score, "gpt4_score", i if isinstance(value, list) else None)
               for i, score in enumerate(scores)]
    if not numbers:
        raise f.RowError("gpt4_score", "is an empty list; give the GPT-4 scores or null")
    return [statistics.fmean(numbers)]
