"""JudgeLM's family: single-turn prompts unchanged, dialogues written into its one question slot (pinned)."""

from __future__ import annotations

from judgelm_ray.families import judgelm
from judgelm_ray.modes import build_prompt


def row(**values):
    base = {"question": "Q?", "answers": ["A1", "A2"], "reference": None, "turns": None, "answer_turns": None,
            "reference_turns": None, "source": "x.jsonl", "row": 3}
    return {**base, **values}


def test_a_single_turn_row_gets_judgelms_own_prompt():
    assert judgelm.prompt(row(), "pairwise", False) == build_prompt("Q?", ["A1", "A2"], None, "pairwise", False)


def test_shared_turns_go_into_the_question_slot():
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    prompt = judgelm.prompt(row(turns=turns, question="What is 2+2?", answers=["4", "5"]), "pairwise", False)
    assert prompt == (
        "You are a helpful and precise assistant for checking the quality of the answer.\n"
        "[Question]\n### User:\nHi\n\n### Assistant:\nHello!\n\n### User:\nWhat is 2+2?\n\n"
        "[The Start of Assistant 1's Answer]\n4\n\n[The End of Assistant 1's Answer]\n\n"
        "[The Start of Assistant 2's Answer]\n5\n\n[The End of Assistant 2's Answer]\n\n"
        "[System]\n" + prompt.split("[System]\n", 1)[1]
    )
    assert prompt.endswith("\n\n### Response:")


def test_answers_with_their_own_turns_show_their_own_conversation():
    user = {"role": "user", "content": "q1"}
    slots = judgelm.slots(row(turns=[user], question="q2", answers=["a2", "b2"], reference="r2",
                              answer_turns=[[{"role": "assistant", "content": "a1"}], [{"role": "assistant", "content": "b1"}]],
                              reference_turns=[{"role": "assistant", "content": "r1"}]))
    assert slots == (
        "### User:\nq1",
        ["### Assistant:\na1\n\n### User:\nq2\n\n### Assistant:\na2", "### Assistant:\nb1\n\n### User:\nq2\n\n### Assistant:\nb2"],
        "### Assistant:\nr1\n\n### User:\nq2\n\n### Assistant:\nr2",
    )


def test_single_grading_needs_a_reference():
    assert judgelm.check(row(answers=["A"]), "single", False).startswith("x.jsonl row 3: field 'reference': missing")
    assert judgelm.check(row(answers=["A"], reference="R"), "single", False) is None
    assert judgelm.check(row(), "pairwise", False) is None
