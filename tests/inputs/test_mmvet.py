"""The mmvet input format: JudgeLM's MM-Vet judge samples, images and GPT-4 grades, and joining MM-Vet's dicts.

MM-Vet's data is not in ../shared/data (its images are under a research licence), so these tests use
records shaped like MM-Vet's mm-vet.json items (v1_0 and v1_1 of MM-Vet's README).
"""

from __future__ import annotations

import json

import pytest

from judgelm_ray import inputs
from judgelm_ray.families import judgelm_mmvet
from judgelm_ray.inputs import mmvet
from support.rows import adapt_one, assert_canonical_types

# what JudgeLM's mmvet_preprocess.py writes for one item of mm-vet.json
SAMPLE = {"imagename": "v1_1.png", "capability": ["ocr", "math"], "question": "What is d in the last equation?",
          "answer": "1.25<OR>5/4", "answer1_body": "d = 5/4", "question_id": 1}


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    # The format's line in inputs.FORMATS is the lead's; registering it here keeps these tests independent of it.
    monkeypatch.setitem(inputs.FORMATS, "mmvet", mmvet)


def test_a_judgelm_mmvet_sample_is_a_single_answer_row_with_the_raw_ground_truth():
    row = adapt_one(SAMPLE, "mmvet")
    assert_canonical_types(row)
    assert (row["error"], row["id"], row["question"], row["answers"], row["reference"]) == (
        None, "1", "What is d in the last equation?", ["d = 5/4"], "1.25<OR>5/4")
    assert (row["gold_verdict"], row["gold_scores"], row["images"], row["turns"]) == (None, None, None, None)
    assert json.loads(row["meta"]) == {"imagename": "v1_1.png", "capability": ["ocr", "math"]}
    # the family turns the markup into Assistant 1's text and keeps it raw in the reference block
    text = judgelm_mmvet.prompt(row, "single", True)
    assert "[Reference Answer]\n1.25<OR>5/4\n\n[The Start of Assistant 1's Answer]\n1.25\n\n" in text
    assert "[The Start of Assistant 2's Answer]\nd = 5/4\n\n" in text and text.endswith("### Response:10")


def test_images_by_path_or_as_a_list():
    row = adapt_one({**SAMPLE, "image": "images/v1_1.png"}, "mmvet")
    assert (row["error"], row["images"]) == (None, [{"path": "images/v1_1.png", "bytes": None}])
    assert "image" not in json.loads(row["meta"])
    row = adapt_one({**SAMPLE, "images": ["s3://bucket/v1_1.png", {"path": "/data/v1_1b.png"}]}, "mmvet")
    assert row["images"] == [{"path": "s3://bucket/v1_1.png", "bytes": None}, {"path": "/data/v1_1b.png", "bytes": None}]
    assert adapt_one({**SAMPLE, "image": None}, "mmvet")["images"] is None


@pytest.mark.parametrize("score, gold", [(0.6, [6.0]), (1, [10.0]), (0, [0.0]), ([0.5, 0.7, 0.6], [6.0]), (None, None)])
def test_gpt4_correctness_is_gold_on_the_judges_10_point_scale(score, gold):
    row = adapt_one({**SAMPLE, "gpt4_score": score}, "mmvet")
    assert row["error"] is None
    assert row["gold_scores"] == (pytest.approx(gold) if gold else None)
    assert json.loads(row["meta"])["gpt4_score"] == score  # the grade as MM-Vet gave it


@pytest.mark.parametrize("change, error", [
    ({"question": None}, "field 'question': expected a string, got null"),
    ({"answer": ["1.25", "5/4"]}, "field 'answer': expected a string, got list"),
    ({"answer1_body": 5}, "field 'answer1_body': expected a string, got int"),
    ({"image": "a.png", "images": ["b.png"]}, "field 'images': given with 'image' as well; give one of them"),
    ({"image": ["a.png"]}, "field 'image': a list; give several images as 'images'"),
    ({"image": 3}, "field 'image'[0]: expected an image path, bytes or {path, bytes}, got int"),
    ({"images": "a.png"}, "field 'images': expected a list of image paths"),
    ({"gpt4_score": 6}, "field 'gpt4_score': expected MM-Vet's correctness between 0 and 1, got 6"),
    ({"gpt4_score": [0.5, 1.5]}, "field 'gpt4_score': expected MM-Vet's correctness between 0 and 1"),
    ({"gpt4_score": "0.5"}, "field 'gpt4_score': expected a number, got str"),
    ({"gpt4_score": [0.5, None]}, "field 'gpt4_score'[1]: expected a number, got null"),
    ({"gpt4_score": []}, "field 'gpt4_score': an empty list;"),
])
def test_broken_records_name_the_field(change, error):
    assert adapt_one({**SAMPLE, **change}, "mmvet")["error"].startswith(f"in.jsonl row 0: {error}")
    for key in ("question", "answer", "answer1_body"):
        broken = {k: v for k, v in SAMPLE.items() if k != key}
        assert adapt_one(broken, "mmvet")["error"] == f"in.jsonl row 0: field '{key}': missing"


def test_a_sample_passes_the_judge_checks_of_the_mmvet_template():
    from judgelm_ray.judge.stages import validate_row

    assert validate_row(adapt_one(SAMPLE, "mmvet"), "single", "auto", "judgelm-mmvet") is None
    blank = adapt_one({**SAMPLE, "answer": " "}, "mmvet")
    assert "field 'reference': missing" in validate_row(blank, "single", "auto", "judgelm-mmvet")


def test_from_mmvet_joins_mmvets_dicts_into_records():
    questions = {"v1_0": {"imagename": "v1_0.png", "capability": ["ocr", "math"], "question": "What is x in the equation?",
                          "answer": "-1<AND>-5"},
                 "v1_1": {k: SAMPLE[k] for k in ("imagename", "capability", "question", "answer")}}
    results = {"v1_1": "d = 5/4", "v1_0": "x = -1 or x = -5"}
    grades = {"v1_0": {"model": ["gpt-4-0613"], "content": ["1.0"], "score": [1.0]}}
    records = mmvet.from_mmvet(questions, results, grades)
    assert [r["question_id"] for r in records] == ["v1_0", "v1_1"]
    assert records[0] == {**questions["v1_0"], "question_id": "v1_0", "answer1_body": "x = -1 or x = -5",
                          "image": "images/v1_0.png", "gpt4_score": [1.0]}
    assert "gpt4_score" not in records[1] and records[1]["answer1_body"] == "d = 5/4"
    assert "image" not in mmvet.from_mmvet(questions, results, image_folder=None)[0]
    row = adapt_one(records[0], "mmvet")
    assert (row["error"], row["id"], row["reference"], row["gold_scores"]) == (None, "v1_0", "-1<AND>-5", [10.0])
    with pytest.raises(ValueError, match="1 MM-Vet question\\(s\\) have no result, e.g. 'v1_1'"):
        mmvet.from_mmvet(questions, {"v1_0": "x"})
