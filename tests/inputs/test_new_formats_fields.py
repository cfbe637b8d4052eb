"""`input.fields` works on every format: a file whose keys are named differently maps them onto the format's."""

from __future__ import annotations

import json

import pytest

from judgelm_ray.inputs import adapt_records

CASES = {
    "preference": ({"prompt": "Hi?", "chosen": "Hello!", "rejected": "Go away."}, {"prompt": "instruction"}),
    "evalbiasbench": ({"instruction": "Q", "response1": "good", "response2": "bad", "label": 1}, {"response1": "better"}),
    "mmvet": ({"question_id": "v1_0", "question": "What?", "answer": "cat<OR>kitten", "answer1_body": "A cat."},
              {"answer1_body": "model_answer"}),
}


@pytest.mark.parametrize("fmt", list(CASES))
def test_renamed_keys_map_onto_the_format(fmt):
    record, fields = CASES[fmt]
    renamed = {fields.get(key, key): value for key, value in record.items()}
    [plain] = adapt_records(json.dumps(record).encode(), "in.jsonl", fmt)
    [mapped] = adapt_records(json.dumps(renamed).encode(), "in.jsonl", fmt, {k: v for k, v in fields.items()})
    assert plain["error"] is None and mapped["error"] is None, (plain["error"], mapped["error"])
    for key in ("question", "answers", "reference", "gold_verdict", "turns", "images"):
        assert mapped[key] == plain[key], key


def test_prometheus_grading_prompt_under_another_key(shared_data):
    record = json.loads((shared_data / "prometheus_eval" / "vicuna_eval.json").read_text())[0]
    renamed = {("prompt" if k == "instruction" else k): v for k, v in record.items()}
    [plain] = adapt_records(json.dumps([record]).encode(), "v.json", "prometheus")
    [mapped] = adapt_records(json.dumps([renamed]).encode(), "v.json", "prometheus", {"instruction": "prompt"})
    assert plain["error"] is None and (mapped["question"], mapped["rubric"]) == (plain["question"], plain["rubric"])
