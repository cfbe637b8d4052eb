"""The judgelm-mmvet family: JudgeLM's MM-Vet template, byte for byte, and how its answer is read.

The expected prompts are written out in full, the instruction as the one line it is in
baaivision/JudgeLM judgelm/llm_judge/common.py (conv_judge_vqa_single_answer); Assistant 1's text
follows judgelm/llm_judge/gen_model_judgement_mmvet.py.
"""

from __future__ import annotations

import pytest

from judgelm_ray import prompts
from judgelm_ray.families import FAMILIES
from judgelm_ray.families import judgelm_mmvet as mmvet

INSTRUCTION = "We would like to request your feedback on the performance of two AI assistants' answers in comparing with the reference answer and determine if they match meaningfully. Please rate the helpfulness, relevance, accuracy, level of details of the Assistants' answers. To accomplish the task, you must : 1. Focus on the meaningful match between the reference answer and the Assistants' answers.\n 2. Consider synonyms or paraphrases as valid matches.\n 3. Evaluate the correctness of the Assistants' answers compared to the reference answer.\n 4. If there are multiple reference answers, the Assistants' answer is considered correct as long as it is close to any of the answers.\nPlease first output a single line containing only two values indicating the scores for Assistant 1 and 2, respectively. The two scores are separated by a space. In the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any potential bias and ensuring that the order in which the responses were presented does not affect your judgment."  # noqa: E501

# <OR>: Assistant 1 is the first alternative; the reference block keeps the markup.
OR_PROMPT = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nWhat is d in the last equation?\n\n"
    "[Reference Answer]\n1.25<OR>5/4\n\n"
    "[The Start of Assistant 1's Answer]\n1.25\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nd = 5/4\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n" + INSTRUCTION + "\n\n"
    "### Response:10"
)
# <AND>: Assistant 1 joins the parts with " and ".
AND_PROMPT = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nWhat is x in the equation?\n\n"
    "[Reference Answer]\n-1<AND>-5\n\n"
    "[The Start of Assistant 1's Answer]\n-1 and -5\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nx = -1 or x = -5\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n" + INSTRUCTION + "\n\n"
    "### Response:10"
)


def row(question: str, answer: str, reference: str | None, **extra) -> dict:
    return {"question": question, "answers": [answer], "reference": reference, "source": "in.jsonl", "row": 3, **extra}


def test_or_and_and_ground_truths_render_byte_for_byte():
    assert mmvet.prompt(row("What is d in the last equation?", "d = 5/4", "1.25<OR>5/4"), "single", True) == OR_PROMPT
    assert mmvet.prompt(row("What is x in the equation?", "x = -1 or x = -5", "-1<AND>-5"), "single", False) == AND_PROMPT


@pytest.mark.parametrize("truth, shown", [
    ("mantle", "mantle"),
    ("eight<OR>8.0<OR>8", "eight"),
    (" a <OR> b", " a "),  # split, not stripped, as upstream
    ("a<AND>b<AND>c", "a and b and c"),
    ("x<AND>y<OR>z", "x<AND>y"),  # <OR> is looked at first; the alternative keeps its <AND>
])
def test_assistant_1_is_the_ground_truth_written_as_an_answer(truth, shown):
    assert mmvet.ground_truth_answer(truth) == shown
    # upstream picks any alternative at random: ours is always one of upstream's possible texts
    if "<OR>" in truth:
        assert shown in truth.split("<OR>")


def test_the_family_contract_and_its_delimiters():
    assert FAMILIES["judgelm-mmvet"] is mmvet
    assert mmvet.MODES == ("single",) and mmvet.FAST is True
    template = mmvet.SYSTEM + "\n" + mmvet.TEMPLATE + mmvet.APPENDIX
    for delimiter in mmvet.DELIMITERS:
        assert delimiter in template, delimiter
    assert len(set(mmvet.DELIMITERS)) == len(mmvet.DELIMITERS)
    # the pre-filled score is the one single mode's parser puts back
    assert mmvet.APPENDIX == prompts.APPENDIX + prompts.SINGLE_SCORE_PREFIX
    assert mmvet.SYSTEM == prompts.SYSTEM
    # upstream's VQA template is its pair-with-reference template
    assert mmvet.TEMPLATE == prompts.TEMPLATE_W_REFERENCE.replace("{answer_more}", "")


def test_check_needs_the_ground_truth_and_single_mode():
    assert mmvet.check(row("Q?", "A", "R"), "single", False) is None
    for missing in (None, "  "):
        reason = mmvet.check(row("Q?", "A", missing), "single", False)
        assert reason.startswith("in.jsonl row 3: field 'reference': missing; the MM-Vet template grades")
    assert "mode 'single'" in mmvet.check(row("Q?", "A", "R"), "pairwise", False)
    turns = [[{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]]
    assert mmvet.check(row("Q?", "A", "R", answer_turns=turns), "single", False).startswith(
        "in.jsonl row 3: field 'answer_turns':")


def test_prompt_ignores_images_and_use_reference_and_writes_turns_into_the_question():
    plain = mmvet.prompt(row("What is d in the last equation?", "d = 5/4", "1.25<OR>5/4"), "single", False)
    with_image = row("What is d in the last equation?", "d = 5/4", "1.25<OR>5/4",
                     images=[{"path": "images/v1_1.png", "bytes": None}])
    assert mmvet.prompt(with_image, "single", True) == plain == OR_PROMPT
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    text = mmvet.prompt(row("Q?", "A", "R", turns=turns), "single", False)
    assert "[Question]\n### User:\nHi\n\n### Assistant:\nHello\n\n### User:\nQ?\n\n[Reference Answer]\nR\n\n" in text
    with pytest.raises(ValueError, match="exactly 1 answer"):
        mmvet.prompt({**row("Q?", "A", "R"), "answers": ["A", "B"]}, "single", False)
    with pytest.raises(ValueError, match="mode 'pairwise'"):
        mmvet.prompt(row("Q?", "A", "R"), "pairwise", False)


@pytest.mark.parametrize("text, policy, scores", [
    (" 7\nThe answer matches one alternative.", "judgelm", [7.0]),
    (" 7.5", "judgelm", [7.5]),
    (" 7/10\n", "lenient", [7.0]),
])
def test_parse_reads_the_graded_answer_after_the_prefilled_10(text, policy, scores):
    parsed = mmvet.parse(text, "single", 1, policy)
    assert (parsed.scores, parsed.error) == (scores, None)


@pytest.mark.parametrize("text, error", [
    ("0 8", "pre-filled score 10 was continued into 100"),
    ("", "expected 2 scores"),
    (" eight", "non-numeric score"),
])
def test_parse_failures_have_no_scores_and_say_why(text, error):
    parsed = mmvet.parse(text, "single", 1, "judgelm")
    assert parsed.scores is None and parsed.verdict is None and error in parsed.error
