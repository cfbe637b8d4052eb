"""Joining predictions with gold, parse-failure policies and the metrics computed from joined rows."""

from __future__ import annotations

import pytest

from judgelm_ray.evaluate.join import join
from judgelm_ray.evaluate.scoring import apply_policy, compute_metrics, score_pairs


def _prediction(forward, swapped=None, both=False, **extra) -> dict:
    row = {"forward": forward, "swapped": swapped, "both_orders": both, "scores": None, "no_verdict": False,
           "gold_verdict": None, "gold_scores": None, "meta": {}, "columns": {}}
    return row | extra


def _gold(verdict=None, scores=None, **meta) -> dict:
    return {"gold_verdict": verdict, "gold_scores": scores, "meta": meta, "columns": {}}


def test_join_by_id_reports_missing_and_unparseable_gold():
    predictions = {"a": _prediction("1"), "b": _prediction("2"), "c": _prediction("1"), "only-pred": _prediction("1")}
    gold = {"b": _gold("2"), "a": _gold(None, [7, 8]), "c": _gold(), "only-gold": _gold("1")}
    rows, joined = join(predictions, gold)
    assert [(r["id"], r["gold_verdict"]) for r in rows] == [("a", "2"), ("b", "2")]  # gold verdict from gold scores
    assert joined["counts"] == {"predictions": 4, "gold": 4, "joined": 3, "gold_unparseable": 1,
                                "missing_predictions": 1, "missing_gold": 1}
    assert joined["missing_ids"] == {"predictions": ["only-gold"], "gold": ["only-pred"]}


def test_join_without_gold_uses_the_predictions_own_gold_and_groups_from_meta():
    predictions = {"a": _prediction("1", gold_verdict="1", meta={"cat": "x"}), "b": _prediction("1", gold_verdict="2")}
    rows, joined = join(predictions, None, group_by=("cat",))
    assert [r["groups"] for r in rows] == [{"cat": "x"}, {"cat": "(none)"}]
    assert joined["counts"]["missing_gold"] == 0


ROWS = [  # gold, forward, swapped (original order); None is a parse failure
    {"gold_verdict": "1", "forward": "1", "swapped": "1"},
    {"gold_verdict": "2", "forward": None, "swapped": "2"},
    {"gold_verdict": "tie", "forward": "tie", "swapped": None},
    {"gold_verdict": "2", "forward": "1", "swapped": "2"},
]


def _rows():
    return [_prediction(r["forward"], r["swapped"], True) | {"id": str(i), "gold_verdict": r["gold_verdict"], "groups": {}}
            for i, r in enumerate(ROWS)]


def test_policy_tie_counts_failures_as_ties():
    result = compute_metrics(_rows(), "tie", bootstrap=0)
    assert result["n"] == 4
    assert result["agreement"] == 0.5  # rows 1 and 3
    assert result["agreement_swapped"] == 1.0  # row 3's failure became a tie, which is its gold
    assert result["consistency"] == 0.5  # rows 1 and 3 (tie, and a failure counted as tie)
    # rows 2 (tie, then answer 2 once it is shown first) and 4 (answer 1 first, then answer 2 first)
    assert result["prefer_first"] == 0.5 and result["prefer_second"] == 0.0
    assert result["parse_failures"] == {"policy": "tie", "forward": 1, "swapped": 1, "excluded": 0}
    assert result["ci"] is None


def test_policy_exclude_drops_rows_with_a_failure_in_either_order():
    result = compute_metrics(_rows(), "exclude", bootstrap=0)
    assert result["n"] == 2 and result["agreement"] == 0.5 and result["agreement_both"] == 0.5
    assert result["parse_failures"] == {"policy": "exclude", "forward": 1, "swapped": 1, "excluded": 2}


def test_policy_wrong_counts_failures_as_misses():
    result = compute_metrics(_rows(), "wrong", bootstrap=0)
    assert result["agreement"] == 0.5  # rows 1 and 3
    assert result["agreement_swapped"] == 0.75  # rows 1, 2 and 4: row 3's failure is a miss now
    assert result["consistency"] == 0.25  # only row 1: a failure is never consistent
    assert result["prefer_first"] == 0.25 and result["prefer_second"] == 0.0  # row 4: 1 forward, 2 swapped
    assert result["confusion"]["predicted"][-1] == "failed"
    with pytest.raises(ValueError, match="unknown parse-failure policy 'skip'"):
        apply_policy(_rows(), "skip")


def test_single_answer_rows_count_only_towards_score_correlations():
    rows = [_prediction(None, scores=[s], no_verdict=True) | {"id": str(i), "gold_verdict": None, "gold_scores": [g], "groups": {}}
            for i, (s, g) in enumerate([(2, 1), (5, 4), (9, 10)])]
    result = compute_metrics(rows, bootstrap=0)
    assert result["n"] == 0 and result["agreement"] is None and result["parse_failures"]["forward"] == 0
    assert result["scores"] == pytest.approx({"n": 3, "pearson": result["scores"]["pearson"], "spearman": 1.0, "kendall": 1.0})
    pairs = [_prediction("1", scores=[8, 6]) | {"gold_scores": [9, 5]}, _prediction("1", scores=[8, 6, 1]) | {"gold_scores": [1, 2, 3]}]
    assert score_pairs(pairs) == ([2], [4])  # answer 1 - answer 2; three answers are not compared


def test_coverage_follows_the_parse_failure_policy():
    # Row 1's forward failure has a confidence here: a tie (wrong for gold 2), a miss, or left out.
    rows = [r | {"confidence": c} for r, c in zip(_rows(), [0.9, 0.8, None, 0.3])]
    by_policy = {policy: compute_metrics(rows, policy, bootstrap=0)["coverage"] for policy in ("tie", "wrong", "exclude")}
    assert [v["rows"] for v in by_policy["tie"]["levels"]] == [2, 3, 3, 3]  # of rows 0, 1 and 3
    assert [v["agreement"] for v in by_policy["tie"]["levels"]] == pytest.approx([0.5, 1 / 3, 1 / 3, 1 / 3])
    assert by_policy["wrong"] == by_policy["tie"]  # a tie and a miss are both wrong for gold "2"
    assert by_policy["tie"]["without_confidence"] == 1  # row 2 (a swapped failure only): counted, not ranked
    # exclude drops rows 1 and 2 (a failure in either order): rows 0 and 3 are left, both with a confidence
    assert (by_policy["exclude"]["with_confidence"], by_policy["exclude"]["without_confidence"]) == (2, 0)
    assert [v["agreement"] for v in by_policy["exclude"]["levels"]] == [1.0, 0.5, 0.5, 0.5]


def test_no_coverage_without_confidence_or_without_verdicts():
    assert compute_metrics(_rows(), bootstrap=0)["coverage"] is None  # rows as older judgments give them
    assert compute_metrics([r | {"confidence": None} for r in _rows()], bootstrap=0)["coverage"] is None
    graded = [_prediction(None, scores=[s], no_verdict=True, confidence=0.9) | {"id": str(s), "gold_verdict": None,
                                                                                "gold_scores": [s], "groups": {}}
              for s in (1, 2, 3)]
    assert compute_metrics(graded, bootstrap=0)["coverage"] is None  # single-answer grading: no agreement to cover
