"""Teacher judgments -> JudgeLM-format training records that the judgelm reader and training accept."""

from __future__ import annotations

import json

from judgelm_ray.inputs import adapt_records
from judgelm_ray.spec import AugmentSpec
from judgelm_ray.teacher.records import record
from judgelm_ray.train.augment import example_from_row


def judgment(**fields) -> dict:
    row = {"id": "7:alpha:beta", "question": "What is 2 + 2?", "answers": ["4", "5"], "reference": None, "turns": None,
           "answer_turns": None, "reference_turns": None, "meta": json.dumps({"answer1_model_id": "alpha",
                                                                               "answer2_model_id": "beta"}),
           "model": "gpt-4", "judge_text_forward": "9 2\nAssistant 1 is right.", "scores_forward": [9.0, 2.0],
           "parse_error": None}
    row.update(fields)
    return row


def train_on(records: list[dict], reference_ratio: float = 0.5):
    data = "\n".join(json.dumps(r) for r in records).encode()
    rows = adapt_records(data, "records.jsonl", "judgelm")
    return [example_from_row(row, "judgelm", AugmentSpec(reference_ratio=reference_ratio)) for row in rows]


def test_a_pair_judged_with_and_without_its_reference_keeps_both_judgments():
    with_ref = judgment(reference="4", judge_text_forward="10 1\nMatches the reference.", scores_forward=[10.0, 1.0])
    out = record(judgment(reference="4"), with_ref)
    assert out["question_id"] == "7:alpha:beta" and out["question_body"] == "What is 2 + 2?"
    assert (out["answer1_body"], out["answer2_body"]) == ("4", "5")
    assert (out["answer1_model_id"], out["answer2_model_id"]) == ("alpha", "beta")
    assert out["reference"] == {"text": "4"}
    assert (out["text"], out["score"]) == ("9 2\nAssistant 1 is right.", [9.0, 2.0])
    assert (out["text_w_reference"], out["score_w_reference"]) == ("10 1\nMatches the reference.", [10.0, 1.0])
    [(example, reason)] = train_on([out])
    assert reason is None and example.judgment_w_reference == "10 1\nMatches the reference."


def test_unparseable_and_missing_teacher_outputs_are_kept_marked_and_training_drops_them():
    unparseable = record(judgment(judge_text_forward="I cannot decide.", scores_forward=None), None)
    assert (unparseable["text"], unparseable["score"]) == ("I cannot decide.", [-1, -1])
    missing = record(judgment(id="8:a:b", judge_text_forward=None, scores_forward=None), None)
    assert missing["text"] == "error"
    reasons = [reason for _, reason in train_on([unparseable, missing])]
    assert all("teacher judgment is missing, marked error or unparseable" in r for r in reasons)


def test_a_dialogue_row_trains_on_the_text_its_prompt_showed():
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    out = record(judgment(turns=turns, question="And 2 + 2?", meta=json.dumps({"models": ["a", "b"]})), None)
    assert out["question_body"].startswith("### User:\nHi") and out["question_body"].endswith("And 2 + 2?")
    assert (out["answer1_model_id"], out["answer2_model_id"]) == ("a", "b")


def test_pandalm_pairs_name_their_models_from_cmp_key():
    out = record(judgment(meta=json.dumps({"cmp_key": "bloom-7b_llama-7b"})), None)
    assert (out["answer1_model_id"], out["answer2_model_id"]) == ("bloom-7b", "llama-7b")
