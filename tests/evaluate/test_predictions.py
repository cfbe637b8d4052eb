"""Reading predictions (the judge job's own and published judges' files) and gold, by id."""

from __future__ import annotations

import json

import pytest

from judgelm_ray.evaluate.predictions import load_gold, load_predictions, normalise_verdict
from judgelm_ray.verdicts import best_of
from support.evaluation import write_jsonl


def test_normalise_verdict_and_best_of():
    assert [normalise_verdict(v, "x") for v in ("1", 2, 0, "TIE", " tie ", 2.0, None)] == ["1", "2", "tie", "tie", "tie", "2", None]
    with pytest.raises(ValueError, match="f.json row 3: expected a verdict"):
        normalise_verdict("maybe", "f.json row 3")
    assert (best_of([7, 8]), best_of([8, 8]), best_of([9, 1, 2]), best_of([5]), best_of(None)) == ("2", "tie", "1", None, None)


def test_judgments_prefer_the_forward_verdict_and_carry_gold(tmp_path):
    path = write_jsonl(tmp_path / "judgments.jsonl", [
        # judge-job shape: `verdict` merges the orders, the forward verdict is what JudgeLM scores
        {"id": "a", "verdict": "tie", "verdict_forward": "1", "verdict_swapped": "2", "judge_text_swapped": "3 8",
         "scores": [5, 5.5], "scores_forward": [8, 3], "gold_verdict": "1", "meta": '{"cat": "x"}'},
        {"id": "b", "verdict": None, "verdict_forward": None, "verdict_swapped": None, "judge_text_swapped": None,
         "gold_scores": [1, 2]},
        {"id": 7, "scores": [2, 9]},  # a bare file: the verdict comes from the scores
    ])
    predictions = load_predictions(path)
    assert predictions["a"] | {"meta": None} == {
        "forward": "1", "swapped": "2", "both_orders": True, "scores": [8, 3], "no_verdict": False,
        "gold_verdict": "1", "gold_scores": None, "meta": None, "columns": {}, "confidence": None}
    assert predictions["a"]["meta"] == {"cat": "x"}
    assert (predictions["b"]["forward"], predictions["b"]["both_orders"]) == (None, False)  # judged in one order only
    assert predictions["7"]["forward"] == "2"


@pytest.mark.parametrize("scores, message", [
    ("[NaN, 2]", "field 'gold_scores'[0]: expected a finite number, got nan; give a real score or null"),
    ("[8, -Infinity]", "field 'gold_scores'[1]: expected a finite number, got -inf; give a real score or null"),
    ('["nan", 2]', "field 'gold_scores'[0]: expected a number, got str"),
    ('"8 2"', "field 'gold_scores': expected a list of numbers or null, got str"),
])
def test_gold_scores_a_predictions_file_carries_must_be_finite_numbers(tmp_path, scores, message):
    # Written as the file has them: JSON's NaN / Infinity literals, which Python's json reads.
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"id": "a", "verdict": "1"}\n{"id": "b", "verdict": "1", "gold_scores": %s}\n' % scores)
    with pytest.raises(ValueError) as raised:
        load_predictions(str(path))
    assert str(raised.value) == f"{path} row 1: {message}"


def test_confidence_is_read_where_the_file_has_it(tmp_path):
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"id": "a", "verdict": "1", "confidence": 0.75}\n{"id": "b", "verdict": "1", "confidence": 1}\n'
                    '{"id": "c", "verdict": null, "confidence": null}\n{"id": "d", "verdict": "2", "confidence": NaN}\n'
                    '{"id": "e", "verdict": "2"}\n')
    assert {k: v["confidence"] for k, v in load_predictions(str(path)).items()} == {
        "a": 0.75, "b": 1.0, "c": None, "d": None, "e": None}  # NaN and a missing column: unknown


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"high"', "true"])
def test_a_confidence_outside_zero_to_one_is_an_error(tmp_path, value):
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"id": "a", "verdict": "1", "confidence": %s}\n' % value)
    with pytest.raises(ValueError, match=r"judgments.jsonl row 0: field 'confidence': expected a number in \[0, 1\]"):
        load_predictions(str(path))


def test_duplicate_prediction_ids_are_an_error(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "verdict": "1"}, {"id": "a", "verdict": "2"}])
    with pytest.raises(ValueError, match=r"p.jsonl row 1: field 'id': duplicate id 'a', first used by .*p.jsonl row 0"):
        load_predictions(path)


def test_published_judge_adapters(tmp_path):
    gpt = tmp_path / "gpt.json"
    gpt.write_text(json.dumps([{"idx": "0", "gpt_result": "Tie"}, {"idx": "1", "gpt_result": "garbage"}, {"idx": 2, "gpt_result": "2"}]))
    assert {k: v["forward"] for k, v in load_predictions(str(gpt), "pandalm-gpt").items()} == {"0": "tie", "1": None, "2": "2"}
    pandalm = tmp_path / "pandalm.json"
    pandalm.write_text(json.dumps([{"idx": 0, "pandalm_result": 0}, {"idx": 1, "pandalm_result": 1}]))
    assert {k: v["forward"] for k, v in load_predictions(str(pandalm), "pandalm").items()} == {"0": "tie", "1": "1"}
    llmbar = tmp_path / "result.json"
    results = "[{'swap = False': {'completion': ['x', 'stop'], 'winner': '2'}, 'swap = True': {'completion': ['y', 'stop'], 'winner': None}}]"
    llmbar.write_text(json.dumps([{"input": "q", "label": 2, "results": results}, {"input": "q", "label": 1, "results": results}]))
    loaded = load_predictions(str(llmbar), "llmbar-result")
    assert sorted(loaded) == ["dataset:0", "dataset:1"]  # the ids the llmbar gold adapter derives for dataset.json
    assert {k: loaded["dataset:0"][k] for k in ("forward", "swapped", "both_orders", "gold_verdict")} == {
        "forward": "2", "swapped": None, "both_orders": True, "gold_verdict": "2"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"idx": 0, "gpt_result": "Response 1"}]))
    with pytest.raises(ValueError, match="bad.json row 0: field 'gpt_result'"):
        load_predictions(str(bad), "pandalm-gpt")


def test_load_gold_uses_the_judge_adapters_and_their_ids(tmp_path):
    path = write_jsonl(tmp_path / "gold.jsonl", [
        {"question": "q", "answers": ["a", "b"], "gold_verdict": 2, "topic": "math"},
        {"question": "q", "answers": ["a", "b"], "gold_verdict": "nonsense"},  # rejected by the adapter: no gold
        {"id": "x", "question": "q", "answers": ["a", "b"], "gold_scores": [3, 3]},
        {"id": "nan", "question": "q", "answers": ["a", "b"], "gold_scores": [float("nan"), 3]},  # rejected too
    ])
    gold = load_gold(path, "canonical")
    assert sorted(gold) == ["gold:0", "gold:1", "nan", "x"]  # derived ids as the judge job derives them
    assert (gold["gold:0"]["gold_verdict"], gold["gold:0"]["meta"]) == ("2", {"topic": "math"})
    assert gold["gold:1"]["gold_verdict"] is None
    assert gold["x"]["gold_scores"] == [3.0, 3.0]
    assert (gold["nan"]["gold_verdict"], gold["nan"]["gold_scores"]) == (None, None)  # counted as gold unparseable
