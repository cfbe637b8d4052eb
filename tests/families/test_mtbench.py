"""The mtbench judge family: FastChat's judge prompts byte for byte, its template choice, and its parsers.

The expected prompts are written out in full: FastChat's judge_prompts.jsonl formatted with the
keyword arguments `fastchat/llm_judge/common.py` (run_judge_pair / run_judge_single) passes, for a
turn-1 row (Q1?, A1, B1, reference R1) and a turn-2 row (Q2?, A2, B2, reference R2).
"""

from __future__ import annotations

import json

import pytest

from judgelm_ray import modes
from judgelm_ray.families import mtbench

PAIR_V2_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. You should choose the assistant that follows the "
    "user's instructions and answers the user's question better. Your evaluation should consider factors "
    "such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their "
    "responses. Begin your evaluation by comparing the two responses and provide a short explanation. "
    "Avoid any position biases and ensure that the order in which the responses were presented does not "
    "influence your decision. Do not allow the length of the responses to influence your evaluation. Do "
    "not favor certain names of the assistants. Be as objective as possible. After providing your "
    "explanation, output your final verdict by strictly following this format: \"[[A]]\" if assistant A is "
    "better, \"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_V2_USER = (
    "[User Question]\nQ1?\n\n"
    "[The Start of Assistant A's Answer]\nA1\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\nB1\n[The End of Assistant B's Answer]"
)

PAIR_V2_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user questions. You should choose the assistant that follows the user's "
    "instructions and answers the user's questions better. Your evaluation should consider factors such "
    "as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their responses. "
    "You should focus on who provides a better answer to the second user question. Begin your evaluation "
    "by comparing the responses of the two assistants and provide a short explanation. Avoid any "
    "position biases and ensure that the order in which the responses were presented does not influence "
    "your decision. Do not allow the length of the responses to influence your evaluation. Do not favor "
    "certain names of the assistants. Be as objective as possible. After providing your explanation, "
    "output your final verdict by strictly following this format: \"[[A]]\" if assistant A is better, "
    "\"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_V2_MULTI_TURN_USER = (
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\nQ1?\n\n"
    "### Assistant A:\nA1\n\n"
    "### User:\nQ2?\n\n"
    "### Assistant A:\nA2\n\n"
    "<|The End of Assistant A's Conversation with User|>\n\n"
    "\n"
    "<|The Start of Assistant B's Conversation with User|>\n\n"
    "### User:\nQ1?\n\n"
    "### Assistant B:\nB1\n\n"
    "### User:\nQ2?\n\n"
    "### Assistant B:\nB2\n\n"
    "<|The End of Assistant B's Conversation with User|>"
)

PAIR_MATH_V1_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. Your evaluation should consider correctness and "
    "helpfulness. You will be given a reference answer, assistant A's answer, and assistant B's answer. "
    "Your job is to evaluate which assistant's answer is better. Begin your evaluation by comparing both "
    "assistants' answers with the reference answer. Identify and correct any mistakes. Avoid any "
    "position biases and ensure that the order in which the responses were presented does not influence "
    "your decision. Do not allow the length of the responses to influence your evaluation. Do not favor "
    "certain names of the assistants. Be as objective as possible. After providing your explanation, "
    "output your final verdict by strictly following this format: \"[[A]]\" if assistant A is better, "
    "\"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_MATH_V1_USER = (
    "[User Question]\nQ1?\n\n"
    "[The Start of Reference Answer]\nR1\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant A's Answer]\nA1\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\nB1\n[The End of Assistant B's Answer]"
)

PAIR_MATH_V1_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user questions. Your evaluation should consider correctness and helpfulness. You "
    "will be given reference answers, the assistant A's answers, the assistant B's answers. Your job is "
    "to determine which assistant provides correct and helpful answers to the second user question. "
    "Begin your evaluation by comparing both assistants' answers with the reference answers. Identify "
    "and correct any mistakes. Avoid any position biases and ensure that the order in which the "
    "responses were presented does not influence your decision. Do not allow the length of the responses "
    "to influence your evaluation. Do not favor certain names of the assistants. Be as objective as "
    "possible. After providing your explanation, output your final verdict by strictly following this "
    "format: \"[[A]]\" if assistant A is better, \"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
PAIR_MATH_V1_MULTI_TURN_USER = (
    "<|The Start of Reference Answer|>\n\n"
    "### User:\nQ1?\n\n"
    "### Reference answer:\nR1\n\n"
    "### User:\nQ2?\n\n"
    "### Reference answer:\nR2\n\n"
    "<|The End of Reference Answer|>\n\n"
    "\n"
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\nQ1?\n\n"
    "### Assistant A:\nA1\n\n"
    "### User:\nQ2?\n\n"
    "### Assistant A:\nA2\n\n"
    "<|The End of Assistant A's Conversation with User|>\n\n"
    "\n"
    "<|The Start of Assistant B's Conversation with User|>\n\n"
    "### User:\nQ1?\n\n"
    "### Assistant B:\nB1\n\n"
    "### User:\nQ2?\n\n"
    "### Assistant B:\nB2\n\n"
    "<|The End of Assistant B's Conversation with User|>"
)

SINGLE_V1_SYSTEM = "You are a helpful assistant."
SINGLE_V1_USER = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by "
    "an AI assistant to the user question displayed below. Your evaluation should consider factors such "
    "as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. "
    "Begin your evaluation by providing a short explanation. Be as objective as possible. After "
    "providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following "
    "this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n"
    "[Question]\nQ1?\n\n"
    "[The Start of Assistant's Answer]\nA1\n[The End of Assistant's Answer]"
)

SINGLE_MATH_V1_SYSTEM = "You are a helpful assistant."
SINGLE_MATH_V1_USER = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by "
    "an AI assistant to the user question displayed below. Your evaluation should consider correctness "
    "and helpfulness. You will be given a reference answer and the assistant's answer. Begin your "
    "evaluation by comparing the assistant's answer with the reference answer. Identify and correct any "
    "mistakes. Be as objective as possible. After providing your explanation, you must rate the response "
    "on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: "
    "[[5]]\".\n\n"
    "[Question]\nQ1?\n\n"
    "[The Start of Reference Answer]\nR1\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant's Answer]\nA1\n[The End of Assistant's Answer]"
)

SINGLE_V1_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. You "
    "evaluation should focus on the assistant's answer to the second user question. Begin your "
    "evaluation by providing a short explanation. Be as objective as possible. After providing your "
    "explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "
    "\"[[rating]]\", for example: \"Rating: [[5]]\".\n"
    "\n"
)
SINGLE_V1_MULTI_TURN_USER = (
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\nQ1?\n\n"
    "### Assistant A:\nA1\n\n"
    "### User:\nQ2?\n\n"
    "### Assistant A:\nA2\n\n"
    "<|The End of Assistant A's Conversation with User|>"
)

SINGLE_MATH_V1_MULTI_TURN_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question. Your evaluation should consider correctness and helpfulness. You "
    "will be given a reference answer and the assistant's answer. You evaluation should focus on the "
    "assistant's answer to the second question. Begin your evaluation by comparing the assistant's "
    "answer with the reference answer. Identify and correct any mistakes. Be as objective as possible. "
    "After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly "
    "following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n"
    "\n"
)
SINGLE_MATH_V1_MULTI_TURN_USER = (
    "<|The Start of Reference Answer|>\n\n"
    "### User:\nQ1?\n\n"
    "### Reference answer:\nR1\n\n"
    "### User:\nQ2?\n\n"
    "### Reference answer:\nR2\n\n"
    "<|The End of Reference Answer|>\n\n"
    "\n"
    "<|The Start of Assistant A's Conversation with User|>\n\n"
    "### User:\nQ1?\n\n"
    "### Assistant A:\nA1\n\n"
    "### User:\nQ2?\n\n"
    "### Assistant A:\nA2\n\n"
    "<|The End of Assistant A's Conversation with User|>"
)


def _turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def row_turn1(n_answers: int = 2, **over) -> dict:
    row = {"source": "in.jsonl", "row": 3, "question": "Q1?", "answers": ["A1", "B1"][:n_answers], "reference": "R1",
           "turns": None, "answer_turns": None, "reference_turns": None}
    return row | over


def row_turn2(n_answers: int = 2, **over) -> dict:
    row = {"source": "in.jsonl", "row": 3, "question": "Q2?", "answers": ["A2", "B2"][:n_answers], "reference": "R2",
           "turns": [_turn("user", "Q1?")],
           "answer_turns": [[_turn("assistant", "A1")], [_turn("assistant", "B1")]][:n_answers],
           "reference_turns": [_turn("assistant", "R1")]}
    return row | over


CASES = {  # FastChat's prompt name: (mode, use_reference, row, system, user)
    "pair-v2": ("pairwise", False, row_turn1(), PAIR_V2_SYSTEM, PAIR_V2_USER),
    "pair-v2-multi-turn": ("pairwise", False, row_turn2(), PAIR_V2_MULTI_TURN_SYSTEM, PAIR_V2_MULTI_TURN_USER),
    "pair-math-v1": ("pairwise", True, row_turn1(), PAIR_MATH_V1_SYSTEM, PAIR_MATH_V1_USER),
    "pair-math-v1-multi-turn": ("pairwise", True, row_turn2(), PAIR_MATH_V1_MULTI_TURN_SYSTEM,
                                PAIR_MATH_V1_MULTI_TURN_USER),
    "single-v1": ("single", False, row_turn1(1), SINGLE_V1_SYSTEM, SINGLE_V1_USER),
    "single-math-v1": ("single", True, row_turn1(1), SINGLE_MATH_V1_SYSTEM, SINGLE_MATH_V1_USER),
    "single-v1-multi-turn": ("single", False, row_turn2(1), SINGLE_V1_MULTI_TURN_SYSTEM, SINGLE_V1_MULTI_TURN_USER),
    "single-math-v1-multi-turn": ("single", True, row_turn2(1), SINGLE_MATH_V1_MULTI_TURN_SYSTEM,
                                  SINGLE_MATH_V1_MULTI_TURN_USER),
}


# ---------------------------------------------------------------- the prompts


def test_prompts_are_fastchats_bytes(shared_data):
    upstream = [json.loads(line) for line in (shared_data / "fastchat_mtbench" / "judge_prompts.jsonl").open()]
    assert [p["name"] for p in upstream] == list(mtbench.PROMPTS) == list(CASES)
    for p in upstream:
        assert mtbench.PROMPTS[p["name"]] == (p["system_prompt"], p["prompt_template"]), p["name"]
        mode, use_reference, row, system, user = CASES[p["name"]]
        assert (mode, use_reference, system) == (p["type"], "math" in p["name"], p["system_prompt"])


@pytest.mark.parametrize("name", list(CASES))
def test_rendered_prompt_bytes(name):
    mode, use_reference, row, system, user = CASES[name]
    assert mtbench.template_name(mode, use_reference, bool(row["turns"])) == name
    assert mtbench.check(row, mode, use_reference) is None
    assert mtbench.prompt(row, mode, use_reference) == [{"role": "system", "content": system},
                                                        {"role": "user", "content": user}]


def test_delimiters_are_template_lines():
    lines = {line for _, template in mtbench.PROMPTS.values() for line in template.split("\n")}
    assert [d for d in mtbench.DELIMITERS if d not in lines] == []
    assert len(set(mtbench.DELIMITERS)) == len(mtbench.DELIMITERS)
    # every fixed line of the templates is one, but the single templates' instruction paragraph
    fixed = {line for line in lines if line and not line.startswith("{")}
    assert {line[:41] for line in fixed - set(mtbench.DELIMITERS)} == {"Please act as an impartial judge and eval"}


def test_row_text_is_not_formatted_again():
    row = row_turn1(answers=["{answer_b} {0}", "}{"], question="{question}")
    user = mtbench.prompt(row, "pairwise", False)[1]["content"]
    assert user == ("[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{answer_b} {0}\n"
                    "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n}{\n"
                    "[The End of Assistant B's Answer]")


def test_a_shared_first_answer_fills_both_conversations():
    # turns holding the first user turn and its answer (no answer_turns): that answer is answer_x_1
    row = row_turn2(1, turns=[_turn("user", "Q1?"), _turn("assistant", "A1")], answer_turns=None, reference_turns=None)
    assert mtbench.prompt(row, "single", False)[1]["content"] == SINGLE_V1_MULTI_TURN_USER
    assert mtbench.prompt(row, "single", True)[1]["content"] == SINGLE_MATH_V1_MULTI_TURN_USER.replace("R1", "A1")


def test_swapped_order_swaps_whole_conversations():
    forward, swapped = modes.requests(row_turn2(), "pairwise", mtbench, False, True)
    assert forward["prompt"][1]["content"] == PAIR_V2_MULTI_TURN_USER
    assert swapped["prompt"][1]["content"] == PAIR_V2_MULTI_TURN_USER.replace("A1", "<1>").replace("A2", "<2>").replace(
        "B1", "A1").replace("B2", "A2").replace("<1>", "B1").replace("<2>", "B2")


@pytest.mark.parametrize(("mode", "use_reference", "row", "reason"), [
    ("pairwise", True, row_turn1(reference=None), "field 'reference': missing; the MT-bench math templates"),
    ("single", True, row_turn1(1, reference="  "), "field 'reference': missing"),
    ("pairwise", False, row_turn2(turns=[_turn("user", "Q0?"), _turn("assistant", "x"), _turn("user", "Q1?")]),
     "field 'turns': answer 1 has 4 turn(s) (user, assistant, user, assistant) before the question; FastChat's "
     "multi-turn templates show two turns"),
    ("single", False, row_turn2(1, turns=[_turn("system", "Be brief."), _turn("user", "Q1?")]),
     "field 'turns': answer 1 has 3 turn(s) (system, user, assistant) before the question"),
    ("pairwise", False, row_turn2(answer_turns=None), "field 'turns': answer 1 has 1 turn(s) (user) before"),
    ("pairwise", False, row_turn2(turns=None, answer_turns=[[_turn("user", "Q1?"), _turn("assistant", "A1")],
                                                            [_turn("user", "Q0?"), _turn("assistant", "B1")]]),
     "field 'answer_turns': the answers follow different first user turns"),
    ("pairwise", True, row_turn2(reference_turns=None),
     "field 'reference_turns': the reference has 1 turn(s) (user) before the question"),
])
def test_rows_the_templates_cannot_show(mode, use_reference, row, reason):
    assert mtbench.check(row, mode, use_reference).startswith(f"in.jsonl row 3: {reason}")
    with pytest.raises(ValueError, match="^field '"):
        mtbench.prompt(row, mode, use_reference)


def test_rows_it_can_show_without_reference_turns():
    # reference_turns are only needed where the reference is shown
    assert mtbench.check(row_turn2(reference_turns=None), "pairwise", False) is None
    assert mtbench.check(row_turn1(1, reference=None), "single", False) is None


def test_unknown_mode_is_a_configuration_error():
    with pytest.raises(ValueError, match="no 'multi' mode"):
        mtbench.check(row_turn1(), "multi", False)
    with pytest.raises(ValueError, match="no 'multi' mode"):
        mtbench.parse("[[A]]", "multi", 3, "judgelm")


# ---------------------------------------------------------------- reading the judge

# GPT-4's pairwise judgments quoted in the MT-bench paper (Zheng et al. 2023, "Judging LLM-as-a-Judge
# with MT-Bench and Chatbot Arena", arXiv 2306.05685, appendix figures 13, 14 and 16), line breaks as printed.
PAPER_FIGURE_13 = (
    "Assistant B provided the correct answer to the user\u2019s question. Assistant A\u2019s response was incorrect.\n"
    "To calculate the total cost of Benjamin\u2019s purchases, we need to multiply the number of books by their\n"
    "respective prices and then add the results:\n"
    "5 sci-fi novels * $20 = $100\n3 history books * $30 = $90\n2 philosophy books * $45 = $90\n"
    "Total cost = $100 + $90 + $90 = $295\n"
    "Assistant B\u2019s response is accurate and directly answers the user\u2019s question. Therefore, my final\n"
    "verdict is: [[B]]"
)
PAPER_FIGURE_14 = (
    "Both Assistant A and Assistant B provided accurate and relevant responses to the user\u2019s question.\n"
    "They both concluded that the third statement is false based on the first two statements. However,\n"
    "Assistant B\u2019s response is slightly clearer and more concise in explaining the contradiction between\n"
    "the statements. Therefore, I choose Assistant B as the better response.\n[[B]]"
)
PAPER_FIGURE_16 = (
    "Assistant A provided a concrete plan for adapting \u201cThe Persistence of Memory\u201d by Salvador Dali into\n"
    "an interactive experience for children, while Assistant B provided a plan for the \u201cMona Lisa\n"
    "Interactive Experience for Children.\u201d The user\u2019s follow-up question specifically asked for a concrete\n"
    "plan for the second example, which was the \u201cMona Lisa\u201d experience provided by Assistant B.\n"
    "Therefore, Assistant B\u2019s answer is more relevant and directly addresses the user\u2019s request.\n"
    "My final verdict is: [[B]]"
)
# Figure 12's GPT-4 judgment as printed: it names a winner in words only, which FastChat reads as "error".
PAPER_FIGURE_12 = (
    "Both Assistant A and Assistant B provide accurate and relevant information about the central dogma of\n"
    "molecular biology, the processes involved, and who named it. However, Assistant A's answer contains a\n"
    "minor redundancy by rephrasing transcription and translation twice. Assistant B's answer is more\n"
    "concise and avoids this redundancy. Therefore, Assistant B's answer is better."
)
# GPT-4 single-answer judgments (judge "gpt-4", prompts single-v1 and single-v1-multi-turn) with the score
# FastChat recorded for each, from lm-sys/FastChat fastchat/llm_judge/data/japanese_mt_bench/model_judgment/
# gpt-4_single.jsonl (commit 3e0e7f1), questions 61 (turn 2), 18 and 75 (turn 1).
SINGLE_JUDGMENTS = [
    ("The assistant's response is somewhat confusing and not very helpful. The user asked about the assumptions "
     "in the assistant's previous response and whether they are valid. The assistant's response, however, is not "
     "clear. It repeats the same statement about entangled states being closely related twice, once as a valid "
     "assumption and once as an invalid one, which is contradictory and doesn't make sense. The assistant also "
     "doesn't clearly identify any assumptions from the previous response. The assistant's response lacks depth, "
     "clarity, and accuracy. Therefore, the quality of the response is poor. Rating: [[2]]", 2),
    ("The assistant's response is concise and directly answers the user's request. It provides a numerical rating "
     "for each of the three smartphones based on the reviews provided. However, the assistant does not provide any "
     "explanation or reasoning for the ratings given, which makes it difficult to assess the depth and accuracy of "
     "the response. The assistant could have provided a brief summary of the pros and cons for each phone as "
     "mentioned in the reviews to justify the ratings. Therefore, while the response is relevant and somewhat "
     "helpful, it lacks depth and detail. Rating: [[6]]", 6),
    ("The assistant's response is relevant and accurate to the user's request. It provides a vivid description of "
     "the samurai character, detailing his personality, appearance, skills, and way of life. However, there is a "
     "repetition in the description of the samurai's way of life, which is identical to the description of his "
     "personality. This repetition reduces the depth and detail of the response. The assistant could have provided "
     "more unique details about the samurai's way of life, such as his daily routines, beliefs, or relationships "
     "with others. Therefore, while the response is generally good, it could have been improved with more variety "
     "and depth in the description. Rating: [[7]]", 7),
]


@pytest.mark.parametrize("text", [PAPER_FIGURE_13, PAPER_FIGURE_14, PAPER_FIGURE_16])
def test_real_pairwise_judgments(text):
    assert mtbench.parse(text, "pairwise", 2, "judgelm") == mtbench.verdicts.ParsedJudgment(None, None, "2")


def test_a_verdict_in_words_only_is_a_failure_never_a_tie():
    parsed = mtbench.parse(PAPER_FIGURE_12, "pairwise", 2, "judgelm")
    assert (parsed.scores, parsed.verdict) == (None, None)
    assert parsed.error == ("no [[A]], [[B]] or [[C]] verdict in judge output ending \"...oncise and avoids this "
                            "redundancy. Therefore, Assistant B's answer is better.\"")


@pytest.mark.parametrize(("text", "score"), SINGLE_JUDGMENTS)
def test_real_single_judgments(text, score):
    assert mtbench.parse(text, "single", 1, "judgelm") == mtbench.verdicts.ParsedJudgment([float(score)], None)


@pytest.mark.parametrize(("text", "verdict"), [
    ("[[A]]", "1"), ("[[B]]", "2"), ("[[C]]", "tie"),
    ("Assistant B is better than [[A]] claims. Final verdict: [[B]]", "1"),  # FastChat checks [[A]] first
    ("A tie would be [[C]], but no: [[B]]", "2"),  # and [[B]] before [[C]]
    ("verdict:[[A]]and more", "1"),
])
def test_pairwise_order_of_checks(text, verdict):
    for policy in ("judgelm", "lenient"):  # FastChat has one parser
        assert mtbench.parse(text, "pairwise", 2, policy).verdict == verdict


@pytest.mark.parametrize(("text", "error"), [
    ("", "empty judge output"),
    ("  \n", "empty judge output"),
    ("My final verdict is: [A]", "no [[A]], [[B]] or [[C]] verdict in judge output ending 'My final verdict is: [A]'"),
    ("[[a]] [[ B ]] [[D]]", "no [[A]], [[B]] or [[C]] verdict"),
])
def test_pairwise_failures(text, error):
    parsed = mtbench.parse(text, "pairwise", 2, "judgelm")
    assert (parsed.scores, parsed.verdict) == (None, None)
    assert parsed.error.startswith(error)


@pytest.mark.parametrize(("text", "score"), [
    ("Rating: [[8.5]]", 8.5),
    ("Rating: [[10]]", 10.0),
    ("Rating: [[8.]]", 8.0),
    ("Rating: [8]", 8.0),  # FastChat's backup pattern
    ("Scores like [9] are common. Rating: [[7]]", 7.0),  # [[x]] is looked for first, anywhere
    ("Rating: [[7]], though [[3]] was close", 7.0),  # the first one, as re.search finds it
    ("Rating: [[0]]", 0.0), ("Rating: [[15]]", 15.0),  # FastChat does not check the 1-10 range
])
def test_single_ratings(text, score):
    assert mtbench.parse(text, "single", 1, "judgelm") == mtbench.verdicts.ParsedJudgment([score], None)


@pytest.mark.parametrize(("text", "error"), [
    ("Rating: 8", "no [[rating]] in judge output ending 'Rating: 8'"),
    ("Rating: [[-3]]", "no [[rating]]"),
    ("Rating: [[8/10]]", "no [[rating]]"),
    ("", "empty judge output"),
    ("Rating: [[" + "9" * 400 + "]]", "rating '[[999"),
])
def test_single_failures(text, error):
    parsed = mtbench.parse(text, "single", 1, "judgelm")
    assert (parsed.scores, parsed.verdict) == (None, None)
    assert parsed.error.startswith(error)


def test_orders_merge_into_one_verdict():
    # [[A]] forward and [[B]] with the answers swapped name the same answer
    merged = modes.read({"forward": PAPER_FIGURE_13.replace("[[B]]", "[[A]]"), "swapped": PAPER_FIGURE_13},
                        "pairwise", mtbench, 2, "judgelm")
    assert (merged["verdict"], merged["verdict_forward"], merged["verdict_swapped"], merged["consistent"]) == (
        "1", "1", "1", True)
    merged = modes.read({"forward": "[[A]]", "swapped": "[[A]]"}, "pairwise", mtbench, 2, "judgelm")
    assert (merged["verdict"], merged["consistent"]) == ("tie", False)
    merged = modes.read({"forward": "[[C]]", "swapped": "no verdict"}, "pairwise", mtbench, 2, "judgelm")
    assert (merged["verdict"], merged["verdict_forward"], merged["parse_error"]) == (
        None, "tie", "swapped: no [[A]], [[B]] or [[C]] verdict in judge output ending 'no verdict'")
    graded = modes.read({"forward": SINGLE_JUDGMENTS[0][0]}, "single", mtbench, 1, "judgelm")
    assert (graded["scores"], graded["verdict"]) == ([2.0], None)
