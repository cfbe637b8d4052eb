"""The metric definitions on small hand-checked cases, cross-checked with sklearn and JudgeLM's loop."""

from __future__ import annotations

import math
import random

import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from judgelm_ray.evaluate import metrics


def test_classification_hand_checked():
    gold = ["1", "1", "2", "tie", "2"]
    predicted = ["1", "2", "2", "1", "tie"]
    result = metrics.classification(gold, predicted)
    # "1": tp 1 of 2 predicted, 2 gold; "tie": tp 0; "2": tp 1 of 2 predicted, 2 gold.
    assert result["agreement"] == pytest.approx(0.4)
    assert result["precision"] == pytest.approx(1 / 3)
    assert result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(1 / 3)
    assert result["per_class"]["1"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert result["per_class"]["tie"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert result["confusion"] == {"gold": ["1", "tie", "2"], "predicted": ["1", "tie", "2"],
                                   "matrix": [[1, 0, 1], [1, 0, 0], [0, 1, 1]]}


def test_a_failure_counted_wrong_costs_recall_but_is_no_class():
    result = metrics.classification(["1", "2", "2"], ["1", None, "2"])
    assert result["agreement"] == pytest.approx(2 / 3)
    assert result["precision"] == pytest.approx(1.0)  # the failure is no false positive of any class
    assert result["recall"] == pytest.approx(0.75)
    assert result["f1"] == pytest.approx((1 + 2 / 3) / 2)
    assert result["confusion"]["predicted"] == ["1", "2", "failed"]
    assert result["confusion"]["matrix"] == [[1, 0, 0], [0, 1, 1]]


def test_classification_matches_sklearn_macro_convention():
    rng = random.Random(3)
    for _ in range(30):
        n = rng.randint(1, 40)
        # Some draws leave a class out of gold or of the predictions: sklearn's label-union convention.
        gold = [rng.choice(["1", "2", "tie"]) for _ in range(n)]
        predicted = [rng.choice(["1", "2"]) for _ in range(n)]
        result = metrics.classification(gold, predicted)
        p, r, f, _ = precision_recall_fscore_support(gold, predicted, average="macro", zero_division=0)
        assert result["agreement"] == pytest.approx(accuracy_score(gold, predicted))
        assert (result["precision"], result["recall"], result["f1"]) == pytest.approx((p, r, f))


def test_label_order_reads_one_tie_two_then_the_rest():
    assert metrics.label_order({"2", "10", "tie", "3", "1"}) == ["1", "tie", "2", "3", "10"]


def test_order_metrics_hand_checked():
    gold = ["1", "1", "2", "2", "tie"]
    forward = ["1", "1", "tie", "2", None]
    swapped = ["1", "2", "2", "tie", "tie"]
    result = metrics.order_metrics(gold, forward, swapped)
    # row 2: the first-shown answer won in both orders; row 3: tie -> 2 once answer 2 moved first;
    # row 4: 2 -> tie once answer 2 moved second; row 5 failed forward: inconsistent, no preference,
    # though its swapped verdict is right.
    assert result == pytest.approx({
        "agreement_swapped": 0.6, "agreement_both": 0.2, "consistency": 0.2,
        "prefer_first": 0.4, "prefer_second": 0.2, "delta_bias": 0.2, "total_bias": 0.6,
    })


def _judgelm_loop(forward: list[str], swapped: list[str]) -> dict:
    """JudgeLM's consistency loop, in its own terms: win lists by position (1 first, -1 second, 0 draw)."""
    position = {"1": 1, "tie": 0, "2": -1}
    sequential = [position[v] for v in forward]
    reversed_ = [-position[v] for v in swapped]  # answer 1 sits second in the reversed prompt
    same = before = after = 0
    for s, r in zip(sequential, reversed_):
        s = -s
        if s == r:
            same += 1
        elif s - r > 0:
            after += 1
        else:
            before += 1
    n = len(forward)
    return {"consistency": same / n, "prefer_first": before / n, "prefer_second": after / n,
            "delta_bias": abs(before - after) / n, "total_bias": (before + after) / n}


def test_order_metrics_match_judgelms_loop():
    rng = random.Random(7)
    for _ in range(30):
        n = rng.randint(1, 30)
        forward = [rng.choice(["1", "2", "tie"]) for _ in range(n)]
        swapped = [rng.choice(["1", "2", "tie"]) for _ in range(n)]
        result = metrics.order_metrics(["1"] * n, forward, swapped)
        assert {k: result[k] for k in _judgelm_loop(forward, swapped)} == pytest.approx(_judgelm_loop(forward, swapped))


def test_order_metrics_without_positions_for_multi_answer_verdicts():
    result = metrics.order_metrics(["3", "1"], ["3", "1"], ["3", "2"])
    assert result["consistency"] == 0.5
    assert result["prefer_first"] is None and result["total_bias"] is None


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = random.Random(0)
    gold = [rng.choice(["1", "2", "tie"]) for _ in range(200)]
    predicted = [g if rng.random() < 0.7 else rng.choice(["1", "2", "tie"]) for g in gold]
    first = metrics.bootstrap_ci(gold, predicted, samples=300, seed=5)
    assert first == metrics.bootstrap_ci(gold, predicted, samples=300, seed=5)
    assert first != metrics.bootstrap_ci(gold, predicted, samples=300, seed=6)
    point = metrics.classification(gold, predicted)
    for key in ("agreement", "f1"):
        low, high = first[key]
        assert low < point[key] < high and high - low < 0.25
    assert metrics.bootstrap_ci(gold, predicted, samples=0, seed=5) is None
    assert metrics.bootstrap_ci(["1", "2"], ["1", "2"], samples=50, seed=0)["agreement"] == [1.0, 1.0]


def test_bootstrap_in_chunks_equals_one_pass(monkeypatch):
    gold, predicted = ["1", "2", "tie", "2"] * 5, ["1", "2", "2", "1"] * 5
    whole = metrics.bootstrap_ci(gold, predicted, samples=40, seed=1)
    monkeypatch.setattr(metrics, "_BOOTSTRAP_CHUNK", 60)  # three samples of 20 rows per chunk
    assert metrics.bootstrap_ci(gold, predicted, samples=40, seed=1) == whole


def test_correlations():
    assert metrics.correlations([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(
        {"n": 4, "pearson": 1.0, "spearman": 1.0, "kendall": 1.0})
    result = metrics.correlations([1, 2, 3], [3, 1, 2])
    assert result["spearman"] == pytest.approx(-0.5) and result["kendall"] == pytest.approx(-1 / 3)
    assert metrics.correlations([5], [5]) == {"n": 1, "pearson": None, "spearman": None, "kendall": None}
    assert metrics.correlations([1, 1, 1], [1, 2, 3])["pearson"] is None


# (confidence, gold, forward verdict), in input order: the five most confident are right, then 1 of 5.
CONFIDENT = [(0.6, "2", "2"), (0.95, "2", "2"), (0.4, "2", "1"), (None, "1", "1"), (0.85, "tie", "tie"),
             (0.99, "1", "1"), (0.6, "1", "2"), (0.7, "1", "2"), (0.9, "1", "1"), (0.55, "1", "2"), (0.8, "2", "2")]


def _coverage(rows, percents=metrics.COVERAGE_PERCENTS):
    return metrics.coverage(*zip(*rows), percents=percents)


def test_coverage_keeps_the_most_confident_rows():
    result = _coverage(CONFIDENT)
    assert (result["with_confidence"], result["without_confidence"]) == (10, 1)  # the row without one is left out
    assert [(v["kept"], v["rows"], v["threshold"]) for v in result["levels"]] == [
        (0.5, 5, 0.8), (0.8, 8, 0.6), (0.9, 9, 0.55), (1.0, 10, 0.4)]
    assert [v["agreement"] for v in result["levels"]] == pytest.approx([1.0, 6 / 8, 6 / 9, 6 / 10])


def test_coverage_agreement_is_the_main_agreement_of_the_rows_kept():
    rng = random.Random(11)
    rows = [(rng.choice([None, 0.1, 0.5, rng.random()]), rng.choice("12"), rng.choice(["1", "2", "tie", None]))
            for _ in range(37)]
    ranked = sorted((r for r in rows if r[0] is not None), key=lambda r: -r[0])
    for level in _coverage(rows)["levels"]:
        kept = ranked[: level["rows"]]
        assert level["rows"] == math.ceil(level["kept"] * len(ranked) - 1e-9)
        assert level["agreement"] == metrics.classification([g for _, g, _ in kept], [p for _, _, p in kept])["agreement"]
        assert level["threshold"] == kept[-1][0]


def test_coverage_rounds_up_and_breaks_ties_by_input_order():
    # 70 % of 10 is 7 rows: the two rows at 0.6 compete for the last place, and the earlier one wins.
    assert _coverage(CONFIDENT, (70,))["levels"][0]["agreement"] == pytest.approx(6 / 7)
    swapped = [CONFIDENT[6], *CONFIDENT[1:6], CONFIDENT[0], *CONFIDENT[7:]]
    assert _coverage(swapped, (70,))["levels"][0]["agreement"] == pytest.approx(5 / 7)
    assert _coverage([(0.9, "1", "1"), (0.5, "1", "2"), (0.7, "2", "2")], (50,))["levels"][0]["rows"] == 2  # ceil(1.5)


def test_no_coverage_without_a_confidence():
    assert metrics.coverage([None, None], ["1", "2"], ["1", "1"]) is None
    assert metrics.coverage([], [], []) is None
    with pytest.raises(ValueError, match="differ in length"):
        metrics.coverage([0.5], ["1", "2"], ["1", "2"])
