"""Pin the exact bytes of every JudgeLM prompt variant.

The expected strings are written out in full (not built from judgelm_ray.prompts constants) and
were cross-checked against baaivision/JudgeLM common.py and gen_model_judgement*.py.
"""

import re

import pytest

from judgelm_ray.modes import build_prompt
from judgelm_ray.prompts import MAX_ANSWERS, SINGLE_SCORE_PREFIX

PAIRWISE = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[The Start of Assistant 1's Answer]\nA1\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nA2\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of two AI assistants in response to "
    "the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for "
    "Assistant 1 and 2, respectively. The two scores are separated by a space. In the subsequent "
    "line, please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect your "
    "judgment.\n\n"
    "### Response:"
)

PAIRWISE_REFERENCE = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[Reference Answer]\nREF\n\n"
    "[The Start of Assistant 1's Answer]\nA1\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nA2\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of two AI assistants in response to "
    "the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for "
    "Assistant 1 and 2, respectively. The two scores are separated by a space. In the subsequent "
    "line, please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect your "
    "judgment.\n\n"
    "### Response:"
)

MULTI_3 = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[The Start of Assistant 1's Answer]\nA1\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nA2\n\n[The End of Assistant 2's Answer]\n\n"
    "[The Start of Assistant 3's Answer]\nA3\n\n[The End of Assistant 3's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of three AI assistants in response "
    "to the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only three values indicating the scores for "
    "Assistant 1, 2 and 3, respectively. The three scores are separated by a space. In the "
    "subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any "
    "potential bias and ensuring that the order in which the responses were presented does not "
    "affect your judgment.\n\n"
    "### Response:"
)

MULTI_3_REFERENCE = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[Reference Answer]\nREF\n\n"
    "[The Start of Assistant 1's Answer]\nA1\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nA2\n\n[The End of Assistant 2's Answer]\n\n"
    "[The Start of Assistant 3's Answer]\nA3\n\n[The End of Assistant 3's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of three AI assistants in response "
    "to the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only three values indicating the scores for "
    "Assistant 1, 2 and 3, respectively. The three scores are separated by a space. In the "
    "subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any "
    "potential bias and ensuring that the order in which the responses were presented does not "
    "affect your judgment.\n\n"
    "### Response:"
)

MULTI_4 = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[The Start of Assistant 1's Answer]\nA1\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nA2\n\n[The End of Assistant 2's Answer]\n\n"
    "[The Start of Assistant 3's Answer]\nA3\n\n[The End of Assistant 3's Answer]\n\n"
    "[The Start of Assistant 4's Answer]\nA4\n\n[The End of Assistant 4's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of four AI assistants in response "
    "to the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only four values indicating the scores for "
    "Assistant 1, 2, 3 and 4, respectively. The four scores are separated by a space. In the "
    "subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any "
    "potential bias and ensuring that the order in which the responses were presented does not "
    "affect your judgment.\n\n"
    "### Response:"
)

MULTI_4_REFERENCE = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[Reference Answer]\nREF\n\n"
    "[The Start of Assistant 1's Answer]\nA1\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nA2\n\n[The End of Assistant 2's Answer]\n\n"
    "[The Start of Assistant 3's Answer]\nA3\n\n[The End of Assistant 3's Answer]\n\n"
    "[The Start of Assistant 4's Answer]\nA4\n\n[The End of Assistant 4's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of four AI assistants in response "
    "to the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only four values indicating the scores for "
    "Assistant 1, 2, 3 and 4, respectively. The four scores are separated by a space. In the "
    "subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any "
    "potential bias and ensuring that the order in which the responses were presented does not "
    "affect your judgment.\n\n"
    "### Response:"
)

# Single grading: the reference is Assistant 1, the graded answer Assistant 2, score pre-filled.
SINGLE = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[The Start of Assistant 1's Answer]\nREF\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nMINE\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of two AI assistants in response to "
    "the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for "
    "Assistant 1 and 2, respectively. The two scores are separated by a space. In the subsequent "
    "line, please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect your "
    "judgment.\n\n"
    "### Response:10"
)

SINGLE_REFERENCE = (
    "You are a helpful and precise assistant for checking the quality of the answer.\n"
    "[Question]\nQ?\n\n"
    "[Reference Answer]\nREF\n\n"
    "[The Start of Assistant 1's Answer]\nREF\n\n[The End of Assistant 1's Answer]\n\n"
    "[The Start of Assistant 2's Answer]\nMINE\n\n[The End of Assistant 2's Answer]\n\n"
    "[System]\n"
    "We would like to request your feedback on the performance of two AI assistants in response to "
    "the user question displayed above.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each "
    "assistant receives an overall score on a scale of 1 to 10, where a higher score indicates "
    "better overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for "
    "Assistant 1 and 2, respectively. The two scores are separated by a space. In the subsequent "
    "line, please provide a comprehensive explanation of your evaluation, avoiding any potential "
    "bias and ensuring that the order in which the responses were presented does not affect your "
    "judgment.\n\n"
    "### Response:10"
)


@pytest.mark.parametrize(
    ("answers", "reference", "mode", "use_reference", "expected"),
    [
        (["A1", "A2"], None, "pairwise", False, PAIRWISE),
        (["A1", "A2"], "REF", "pairwise", False, PAIRWISE),  # reference ignored without the flag
        (["A1", "A2"], "REF", "pairwise", True, PAIRWISE_REFERENCE),
        (["A1", "A2"], None, "multi", False, PAIRWISE),  # N=2 multi is the pair prompt
        (["A1", "A2"], "REF", "multi", True, PAIRWISE_REFERENCE),
        (["A1", "A2", "A3"], None, "multi", False, MULTI_3),
        (["A1", "A2", "A3"], "REF", "multi", True, MULTI_3_REFERENCE),
        (["A1", "A2", "A3", "A4"], None, "multi", False, MULTI_4),
        (["A1", "A2", "A3", "A4"], "REF", "multi", True, MULTI_4_REFERENCE),
        (["MINE"], "REF", "single", False, SINGLE),
        (["MINE"], "REF", "single", True, SINGLE_REFERENCE),
    ],
)
def test_exact_bytes(answers, reference, mode, use_reference, expected):
    assert build_prompt("Q?", answers, reference, mode, use_reference) == expected


def test_single_appendix_prefills_score_prefix():
    assert SINGLE_SCORE_PREFIX == "10"
    assert build_prompt("Q?", ["MINE"], "REF", "single", False).endswith("### Response:10")


def test_multi_nineteen_answers():
    prompt = build_prompt("Q?", [f"A{i}" for i in range(1, 20)], None, "multi", False)
    assert MAX_ANSWERS == 19
    assert "performance of nineteen AI assistants" in prompt
    assert "containing only nineteen values indicating " in prompt
    ids = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18 and 19"
    assert f"the scores for Assistant {ids}, respectively." in prompt
    assert "The nineteen scores are separated" in prompt
    assert prompt.index("[The End of Assistant 19's Answer]\n\n[System]\n") > 0


def test_user_text_is_never_rewritten():
    # Upstream str.replace / str.find over the whole prompt would corrupt these inputs.
    question = "[System]\nWho of two AI assistants for Assistant 1 and 2? The two scores are?"
    answers = ["x {answer_1} y", "containing only two values indicating ", "for Assistant 1"]
    prompt = build_prompt(question, answers, None, "multi", False)
    assert prompt.startswith(
        "You are a helpful and precise assistant for checking the quality of the answer.\n"
        "[Question]\n[System]\nWho of two AI assistants for Assistant 1 and 2? "
        "The two scores are?\n\n"
        "[The Start of Assistant 1's Answer]\nx {answer_1} y\n\n"
        "[The End of Assistant 1's Answer]\n\n"
        "[The Start of Assistant 2's Answer]\ncontaining only two values indicating \n\n"
        "[The End of Assistant 2's Answer]\n\n"
        "[The Start of Assistant 3's Answer]\nfor Assistant 1\n\n"
        "[The End of Assistant 3's Answer]\n\n"
        "[System]\nWe would like to request your feedback on the performance of three AI assistants"
    )
    assert "for Assistant 1, 2 and 3, respectively. The three scores are" in prompt


@pytest.mark.parametrize(
    ("answers", "reference", "mode", "use_reference", "message"),
    [
        (["A1"], None, "pairwise", False, "exactly 2 answers, got 1"),
        (["A1", "A2", "A3"], None, "pairwise", False, "exactly 2 answers, got 3"),
        (["A1", "A2"], None, "pairwise", True, "needs a reference answer"),
        (["A1"], None, "multi", False, "2..19 answers, got 1"),
        ([f"A{i}" for i in range(20)], None, "multi", False, "2..19 answers, got 20"),
        (["A1", "A2", "A3"], None, "multi", True, "needs a reference answer"),
        ([], "REF", "single", False, "exactly 1 answer, got 0"),
        (["A1", "A2"], "REF", "single", False, "exactly 1 answer, got 2"),
        (["A1"], None, "single", False, "single mode needs a reference answer"),
        (["A1"], None, "single", True, "single mode needs a reference answer"),
        (["A1", "A2"], None, "listwise", False, "unknown mode 'listwise'"),
    ],
)
def test_errors(answers, reference, mode, use_reference, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_prompt("Q?", answers, reference, mode, use_reference)
