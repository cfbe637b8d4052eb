"""The Prometheus family: prompts pinned byte for byte, upstream's result parsing, row checks.

The expected prompts are written out in full (not built from the module's constants) and were
compared with prometheus-eval 0.1.20's `prometheus_eval/prompts.py`; the parser cases are
prometheus-eval's own (`libs/prometheus-eval/tests/test_parser.py`, README examples) and the GPT-4
feedback of prometheus-eval's benchmark records (../shared/data/prometheus_eval).
"""

from __future__ import annotations

import json
import re

import pytest

from judgelm_ray import verdicts
from judgelm_ray.families import prometheus
from judgelm_ray.inputs.dialogue import as_text

ABS_SYSTEM = ("You are a fair judge assistant tasked with providing clear, objective feedback based on specific "
              "criteria, ensuring each assessment reflects the absolute standards set for performance.")
REL_SYSTEM = ("You are a fair judge assistant assigned to deliver insightful feedback that compares individual "
              "performances, highlighting how each stands relative to others within the same cohort.")

ABSOLUTE = (
    "###Task Description:\n"
    "An instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a "
    "score of 5, and a score rubric representing a evaluation criteria are given.\n"
    "1. Write a detailed feedback that assess the quality of the response strictly based on the given score "
    "rubric, not evaluating in general.\n"
    "2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the "
    "score rubric.\n"
    '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number '
    'between 1 and 5)"\n'
    "4. Please do not generate any other opening, closing, and explanations.\n\n"
    "###The instruction to evaluate:\nQ?\n\n"
    "###Response to evaluate:\nR\n\n"
    "###Reference Answer (Score 5):\nREF\n\n"
    "###Score Rubrics:\n[Is it right?]\nScore 1: no\nScore 2: barely\nScore 3: partly\nScore 4: mostly\n"
    "Score 5: yes\n\n"
    "###Feedback: "
)
ABSOLUTE_WO_REF = (
    "###Task Description:\n"
    "An instruction (might include an Input inside it), a response to evaluate, and a score rubric representing "
    "a evaluation criteria are given.\n"
    "1. Write a detailed feedback that assess the quality of the response strictly based on the given score "
    "rubric, not evaluating in general.\n"
    "2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the "
    "score rubric.\n"
    '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number '
    'between 1 and 5)"\n'
    "4. Please do not generate any other opening, closing, and explanations.\n\n"
    "###The instruction to evaluate:\nQ?\n\n"
    "###Response to evaluate:\nR\n\n"
    "###Score Rubrics:\n[Is it right?]\nScore 1: no\nScore 2: barely\nScore 3: partly\nScore 4: mostly\n"
    "Score 5: yes\n\n"
    "###Feedback: "
)
RELATIVE = (
    "###Task Description:\n"
    "An instruction (might include an Input inside it), a response to evaluate, a reference answer, and a score "
    "rubric representing a evaluation criteria are given.\n"
    "1. Write a detailed feedback that assess the quality of two responses strictly based on the given score "
    "rubric, not evaluating in general.\n"
    "2. After writing a feedback, choose a better response between Response A and Response B. You should refer "
    "to the score rubric.\n"
    '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (A or B)"\n'
    "4. Please do not generate any other opening, closing, and explanations.\n\n"
    "###Instruction:\nQ?\n\n"
    "###Response A:\nRA\n\n"
    "###Response B:\nRB\n\n"
    "###Reference Answer:\nREF\n\n"
    "###Score Rubric:\nIs it right?\n\n"
    "###Feedback: "
)
RELATIVE_WO_REF = (
    "###Task Description:\n"
    "An instruction (might include an Input inside it), a response to evaluate, and a score rubric representing "
    "a evaluation criteria are given.\n"
    "1. Write a detailed feedback that assess the quality of two responses strictly based on the given score "
    "rubric, not evaluating in general.\n"
    "2. After writing a feedback, choose a better response between Response A and Response B. You should refer "
    "to the score rubric.\n"
    '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (A or B)"\n'
    "4. Please do not generate any other opening, closing, and explanations.\n\n"
    "###Instruction:\nQ?\n\n"
    "###Response A:\nRA\n\n"
    "###Response B:\nRB\n\n"
    "###Score Rubric:\nIs it right?\n\n"
    "###Feedback: "
)

RUBRIC = prometheus.rubric_text("Is it right?", "no", "barely", "partly", "mostly", "yes")


def row(**values) -> dict:
    out = {"source": "in.jsonl", "row": 3, "question": "Q?", "answers": ["R"], "reference": "REF",
           "rubric": RUBRIC, "turns": None, "answer_turns": None}
    return out | values


PAIR = {"answers": ["RA", "RB"], "rubric": "Is it right?"}


@pytest.mark.parametrize("mode, use_reference, values, system, user", [
    ("single", True, {}, ABS_SYSTEM, ABSOLUTE),
    ("single", False, {}, ABS_SYSTEM, ABSOLUTE_WO_REF),
    ("single", False, {"reference": None}, ABS_SYSTEM, ABSOLUTE_WO_REF),
    ("pairwise", True, PAIR, REL_SYSTEM, RELATIVE),
    ("pairwise", False, PAIR, REL_SYSTEM, RELATIVE_WO_REF),
])
def test_every_prompt_byte_for_byte(mode, use_reference, values, system, user):
    messages = prometheus.prompt(row(**values), mode, use_reference)
    assert messages == [{"role": "system", "content": system}, {"role": "user", "content": user}]


def test_the_rubric_helper_writes_upstreams_score_rubric_template():
    assert RUBRIC == "[Is it right?]\nScore 1: no\nScore 2: barely\nScore 3: partly\nScore 4: mostly\nScore 5: yes"


def test_row_text_is_put_in_as_is_braces_included():
    messages = prometheus.prompt(row(question="{instruction} {0}", answers=["{response}"]), "single", False)
    assert "###The instruction to evaluate:\n{instruction} {0}\n\n###Response to evaluate:\n{response}\n\n" \
        in messages[1]["content"]


def test_pairwise_shows_the_answers_in_the_order_given():
    swapped = prometheus.prompt(row(**{**PAIR, "answers": ["RB", "RA"]}), "pairwise", False)[1]["content"]
    assert "###Response A:\nRB\n\n###Response B:\nRA\n\n" in swapped


def test_upstreams_vllm_rendering_of_the_messages():
    messages = prometheus.prompt(row(), "single", True)
    assert prometheus.fastchat_mistral(messages) == f"[INST] {ABS_SYSTEM}\n{ABSOLUTE} [/INST]"


def test_a_dialogue_goes_into_the_instruction_slot_as_text():
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    own = [{"role": "user", "content": "Name a fruit."}, {"role": "assistant", "content": "Apple."}]
    rendered = as_text([*turns, {"role": "user", "content": "Q?"}])
    single = prometheus.prompt(row(turns=turns), "single", True)[1]["content"]
    assert single == ABSOLUTE.replace("evaluate:\nQ?\n\n", f"evaluate:\n{rendered}\n\n")
    pair = prometheus.prompt(row(turns=turns, **PAIR), "pairwise", False)[1]["content"]
    assert pair == RELATIVE_WO_REF.replace("###Instruction:\nQ?\n\n", f"###Instruction:\n{rendered}\n\n")
    # single mode: the answer's own earlier turns come between the shared ones and the question
    with_own = prometheus.prompt(row(turns=turns, answer_turns=[own]), "single", False)[1]["content"]
    assert f"evaluate:\n{as_text([*turns, *own, {'role': 'user', 'content': 'Q?'}])}\n\n" in with_own


@pytest.mark.parametrize("values, mode, use_reference, reason", [
    ({"rubric": None}, "single", False,
     "in.jsonl row 3: field 'rubric': missing; Prometheus grades against a score rubric: set judge.rubric, "
     "or give each row a rubric"),
    ({"rubric": "  "}, "pairwise", False, "field 'rubric': missing"),
    ({"reference": None}, "single", True,
     "in.jsonl row 3: field 'reference': missing; the Prometheus prompt with a reference answer needs one: give "
     "the row a reference, or set judge.reference to 'auto' or 'never'"),
    ({"reference": " "}, "pairwise", True, "field 'reference': missing"),
    ({"answers": ["a", "b"], "answer_turns": [[{"role": "user", "content": "x"}], []]}, "pairwise", False,
     "field 'answer_turns': Prometheus' relative prompt has one instruction slot"),
])
def test_rows_it_cannot_judge_name_the_field_and_the_fix(values, mode, use_reference, reason):
    got = prometheus.check(row(**values), mode, use_reference)
    assert got is not None and (got == reason or reason in got)


def test_rows_it_can_judge():
    assert prometheus.check(row(), "single", True) is None
    assert prometheus.check(row(reference=None), "single", False) is None  # no reference needed without one
    assert prometheus.check(row(**PAIR, answer_turns=[[], []]), "pairwise", True) is None
    with pytest.raises(ValueError, match="no 'multi' mode"):
        prometheus.check(row(), "multi", False)


def test_each_delimiter_is_a_section_line_of_a_template_and_none_is_missing():
    templates = [prometheus.ABSOLUTE_PROMPT, prometheus.ABSOLUTE_PROMPT_WO_REF, prometheus.RELATIVE_PROMPT,
                 prometheus.RELATIVE_PROMPT_WO_REF]
    for delimiter in prometheus.DELIMITERS:
        assert any(f"\n{delimiter}" in t or t.startswith(delimiter) for t in templates), delimiter
    section_lines = {line.rstrip() for t in templates for line in re.findall(r"^###[^\n]*", t, re.MULTILINE)}
    assert section_lines == set(prometheus.DELIMITERS)


# ---------------------------------------------------------------- parsing
# prometheus-eval's tests/test_parser.py, every case: (output, mode, expected)
UPSTREAM_CASES = [
    ("Excellent. [RESULT] 5 out of 5", "absolute", 5),
    ("Poor performance. [RESULT] score of 1", "absolute", 1),
    ("Good job. [Result] 3", "absolute", 3),
    ("Needs improvement. [Result] Score: 2", "absolute", 2),
    ("Well done. [Result] Result: 4", "absolute", 4),
    ("Average. [Result] 4/5", "absolute", 4),
    ("Excellent. [Result] 5 out of 5", "absolute", 5),
    ("Poor performance. [Result] score of 1", "absolute", 1),
    ("Good job. (Score 5)", "absolute", 5),
    ("Good job. [Score 4]", "absolute", 4),
    ("Good job. score: 3", "absolute", 3),
    ("Good job. Score: 3", "absolute", 3),
    ("Good job. score of 1", "absolute", 1),
    ("Good job. [RESULT] (5)", "absolute", 5),
    ("The score is definitely not 3.", "absolute", None),
    ("I rate this a perfect 10!", "absolute", None),
    ("Score: 2.5", "absolute", None),
    ("Result: A", "absolute", None),
    ("Response A is better. [RESULT] A", "relative", "A"),
    ("Prefer Response B. [RESULT] B", "relative", "B"),
    ("Feedback: Both responses are similar... [Response B]", "relative", "B"),
    ("Feedback: Both responses are clear... [Result] Response B", "relative", "B"),
    ("Feedback: Both responses are clear... Response B Response A", "relative", None),
    ("Feedback: Both responses are clear... [RESULT: B]", "relative", "B"),
    ("Feedback: Both responses are clear... [Result: B]", "relative", "B"),
    ("Feedback: Both responses are clear...Response A. [RESULT] B", "relative", "B"),
    ("After careful consideration, I select Response B.", "relative", None),
    ("Both responses have their merits.", "relative", None),
    ("Response C is clearly superior.", "relative", None),
    ("The better response is obviously B... or is it A? It's hard to decide.", "relative", None),
]


@pytest.mark.parametrize("output, kind, expected", UPSTREAM_CASES)
def test_upstreams_parser_cases(output, kind, expected):
    if kind == "absolute":
        parsed = prometheus.parse(output, "single", 1, "judgelm")
        assert parsed.scores == (None if expected is None else [float(expected)])
    else:
        parsed = prometheus.parse(output, "pairwise", 2, "judgelm")
        assert parsed.verdict == {"A": "1", "B": "2", None: None}[expected]
        assert parsed.scores is None
    assert (parsed.error is None) == (expected is not None)


# The README's example feedbacks (prometheus-eval 0.1.20), followed by the result as the model writes it.
README_ABSOLUTE = (
    "The response provided shows a high level of empathy and emotional intelligence. It effectively addresses "
    "the emotional distress expressed by the user. [...] The response does not have any deficiencies in "
    "emotional depth and successfully meets the criteria for a score of 5. [RESULT] 5")
README_RELATIVE = (
    "Both Response A and Response B correctly identify economic troubles and overreliance on slave labor as "
    "significant contributing factors to the fall of the Roman Empire. However, Response B is more effective "
    "in presenting the historian's argument due to its inclusion of scholarly sources to back up its claims. "
    "[...] Therefore, based on the provided rubric, Response B is the superior response due to its use of "
    "scholarly evidence to support the historian's claims. [RESULT] B")


def test_readme_outputs():
    assert prometheus.parse(README_ABSOLUTE, "single", 1, "lenient") == verdicts.ParsedJudgment([5.0], None)
    assert prometheus.parse(README_RELATIVE, "pairwise", 2, "judgelm") == verdicts.ParsedJudgment(None, None, "2")
    chose_a = README_RELATIVE.replace("[RESULT] B", "[RESULT] A")
    assert prometheus.parse(chose_a, "pairwise", 2, "judgelm").verdict == "1"


@pytest.mark.parametrize("output, mode, error", [
    ("", "single", "empty judge output"),
    (" \n", "pairwise", "empty judge output"),
    ("Good answer.", "single", "no '[RESULT] n' score at the end of the output 'Good answer.'"),
    ("Fine. [RESULT] 4, though 3 would be fair", "single", "no '[RESULT] n' score at the end"),  # must end it
    ("Great. [RESULT] 7", "single", "score 7 is outside 1-5 in 'Great. [RESULT] 7'"),
    ("Bad. [RESULT] 0\n", "single", "score 0 is outside 1-5 in 'Bad. [RESULT] 0'"),
    ("Too much. [RESULT] 10", "single", "score 10 is outside 1-5"),
    ("A is better. [RESULT] C", "pairwise", "no '[RESULT] A' or '[RESULT] B' ending a line of the output "
                                            "'A is better. [RESULT] C'"),
    ("x" * 200, "single", "output '..." + "x" * 77 + "'"),
])
def test_failures_are_errors_quoting_the_end_never_a_tie(output, mode, error):
    parsed = prometheus.parse(output, mode, 1 if mode == "single" else 2, "judgelm")
    assert (parsed.scores, parsed.verdict) == (None, None)
    assert error in parsed.error


def test_relative_result_may_end_a_line_within_the_output_and_any_case():
    # upstream matches line by line (MULTILINE) and reads the letter case-insensitively
    assert prometheus.parse("Feedback.\n[RESULT] B\nThanks!", "pairwise", 2, "judgelm").verdict == "2"
    assert prometheus.parse("Feedback.\nResult: a", "pairwise", 2, "judgelm").verdict == "1"


def test_named_verdicts_merge_across_orders():
    forward = prometheus.parse("A is better. [RESULT] A", "pairwise", 2, "judgelm")
    swapped = prometheus.parse("B is better. [RESULT] B", "pairwise", 2, "judgelm")  # B = answers[0] here
    merged = verdicts.merge_orders(forward, swapped)
    assert (merged["verdict"], merged["consistent"], merged["scores"]) == ("1", True, None)
    with pytest.raises(ValueError, match="no 'multi' mode"):
        prometheus.parse("[RESULT] 3", "multi", 3, "judgelm")


def records(shared_data, name):
    return json.loads((shared_data / "prometheus_eval" / name).read_text())


@pytest.mark.parametrize("name, feedback_alone_parses", [("vicuna_eval.json", 0), ("mt_bench_eval.json", 2)])
def test_gpt4_feedback_of_the_benchmark_records(shared_data, name, feedback_alone_parses):
    """The records keep GPT-4's feedback and its score apart: the feedback has no "[RESULT] n" (GPT-4
    wrote it, and the score was cut off into gpt4_score). Alone, it therefore fails to parse, but for two
    texts ending "###Score: 4" and "Score: 4", which upstream's pattern reads as 4 too. Written back as the prompt's
    output format asks ("<feedback> [RESULT] <score>", as prometheus-eval rebuilds outputs when it scores
    them), every one of the 960 parses to its GPT-4 score."""
    parsed, alone = 0, []
    for record in records(shared_data, name):
        for feedback, score in zip(record["gpt4_feedback"], record["gpt4_score"], strict=True):
            judged = prometheus.parse(f"{feedback} [RESULT] {score}", "single", 1, "judgelm")
            assert judged == verdicts.ParsedJudgment([float(score)], None), feedback[-80:]
            parsed += 1
            raw = prometheus.parse(feedback, "single", 1, "judgelm")
            assert raw.error is None or raw.error.startswith("no '[RESULT] n' score at the end of the output")
            if raw.error is None:
                alone.append((raw.scores, score, feedback))
    assert parsed == 960
    assert len(alone) == feedback_alone_parses
    assert all(scores == [float(score)] for scores, score, _ in alone)
    last_lines = [feedback.rsplit("\n", 1)[-1] for _, _, feedback in alone]
    assert last_lines == (["###Score: 4", "Score: 4"] if alone else [])
