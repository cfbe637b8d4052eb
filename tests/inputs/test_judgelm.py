"""The judgelm input format (JudgeLM-100K / val records)."""

from __future__ import annotations

import json

import pytest

from support.rows import adapt_one, assert_canonical_types

JUDGELM = {
    "review_id": "r1", "question_id": 12, "answer1_model_id": "m1", "answer2_model_id": "m2",
    "question_body": "What is 2+2?", "answer1_body": "4", "answer2_body": "five",
    "reference": {"text": "4"}, "score": [9, 3], "text": "9 3\nAssistant 1 is right.",
    "score_w_reference": [10.0, 10.0], "text_w_reference": "10 10\n...",
}


def test_judgelm_record():
    row = adapt_one(JUDGELM, "judgelm")
    assert_canonical_types(row)
    assert row["error"] is None
    assert (row["id"], row["question"], row["answers"], row["reference"]) == ("12", "What is 2+2?", ["4", "five"], "4")
    assert (row["gold_scores"], row["gold_verdict"]) == ([9.0, 3.0], "1")
    meta = json.loads(row["meta"])
    assert meta == {
        "review_id": "r1", "answer1_model_id": "m1", "answer2_model_id": "m2",
        "text": "9 3\nAssistant 1 is right.", "score_w_reference": [10.0, 10.0], "text_w_reference": "10 10\n...",
        "gold_scores_w_reference": [10.0, 10.0], "gold_verdict_w_reference": "tie",
    }


def test_judgelm_string_reference_no_reference_and_tie():
    row = adapt_one({**JUDGELM, "reference": "four", "score": [5, 5]}, "judgelm")
    assert (row["reference"], row["gold_verdict"]) == ("four", "tie")
    row = adapt_one({k: v for k, v in JUDGELM.items() if k not in ("reference", "score")}, "judgelm")
    assert row["error"] is None and (row["reference"], row["gold_scores"], row["gold_verdict"]) == (None, None, None)


def test_judgelm_unparseable_teacher_score_is_no_gold_not_an_error():
    row = adapt_one({**JUDGELM, "score": [-1, -1]}, "judgelm")
    assert row["error"] is None
    assert (row["gold_scores"], row["gold_verdict"]) == (None, None)
    assert json.loads(row["meta"])["score"] == [-1, -1]


def test_judgelm_multi_answers_and_numbering_gaps():
    row = adapt_one({**JUDGELM, "answer3_body": "4!", "score": [8, 2, 9], "score_w_reference": None}, "judgelm")
    assert (row["error"], row["answers"], row["gold_verdict"]) == (None, ["4", "five", "4!"], "3")
    row = adapt_one({k: v for k, v in JUDGELM.items() if k != "answer2_body"} | {"answer3_body": "x"}, "judgelm")
    assert row["error"] == "in.jsonl row 0: field 'answer2_body': missing while 'answer3_body' is present; number answers 1, 2, 3, ..."


@pytest.mark.parametrize("change, message", [
    ({"question_body": None}, "field 'question_body': expected a string, got null"),
    ({"answer2_body": 5}, "field 'answer2_body': expected a string, got int"),
    ({"reference": {"text": 3}}, "field 'reference': expected a string or {\"text\": string} or null, got int"),
    ({"score": "9 3"}, "field 'score': expected a list of numbers, got str"),
    ({"score": [float("nan"), 3]}, "field 'score'[0]: expected a finite number, got nan; give a real score or null"),
    ({"score_w_reference": [10, float("inf")]},
     "field 'score_w_reference'[1]: expected a finite number, got inf; give a real score or null"),
])
def test_judgelm_bad_fields(change, message):
    assert adapt_one({**JUDGELM, **change}, "judgelm")["error"] == f"in.jsonl row 0: {message}"


def test_judgelm_missing_answers():
    row = adapt_one({"question_body": "q"}, "judgelm")
    assert row["error"] == "in.jsonl row 0: field 'answer1_body': missing"
