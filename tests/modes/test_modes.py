"""The judging modes: what each asks (requests), how its answers are read, and the MODES table."""

from __future__ import annotations

import pytest

from judgelm_ray import modes
from judgelm_ray.families import judgelm
from judgelm_ray.modes import MODES, multi, single
from judgelm_ray.verdicts import ParsedJudgment


def ok(*scores: float) -> ParsedJudgment:
    return ParsedJudgment(scores=list(scores), error=None)


def parse_single(text: str, policy: str = "judgelm") -> ParsedJudgment:
    return single.parse(text, 1, policy)


def parse(text: str, mode: str, n_answers: int, policy: str = "judgelm") -> ParsedJudgment:
    """One order's engine text, read as the pipeline reads it."""
    return MODES[mode].parse(text, n_answers, policy)


ROW = {"question": "Q?", "answers": ["A1", "A2", "A3"], "reference": "R", "source": "in.jsonl", "row": 0}


def test_every_mode_has_the_whole_contract():
    for name, mode in MODES.items():
        low, high = mode.ANSWERS
        assert 1 <= low <= high, name
        assert isinstance(mode.SWAPPABLE, bool) and isinstance(mode.VERDICT, bool), name
        for attribute in ("check", "prompt", "parse"):
            assert callable(getattr(mode, attribute)), (name, attribute)
    assert tuple(MODES) == ("pairwise", "single", "multi")


@pytest.mark.parametrize("swap, orders", [(False, ["forward"]), (True, ["forward", "swapped"])])
def test_a_row_becomes_one_request_per_answer_order(swap, orders):
    requests = modes.requests(ROW, "multi", judgelm, use_reference=False, swap=swap)
    assert [r["order"] for r in requests] == orders
    assert requests[0]["prompt"] == multi.prompt("Q?", ["A1", "A2", "A3"], "R", False)
    if swap:
        assert requests[1]["prompt"] == multi.prompt("Q?", ["A3", "A2", "A1"], "R", False)


def test_single_mode_has_one_order_and_no_verdict():
    row = {**ROW, "answers": ["A1"]}
    assert [r["order"] for r in modes.requests(row, "single", judgelm, use_reference=True, swap=True)] == ["forward"]
    merged = modes.read({"forward": " 6\nclose"}, "single", judgelm, 1, "judgelm")
    assert merged["scores"] == [6.0] and merged["verdict"] is None and merged["verdict_forward"] is None


def test_reading_both_orders_maps_the_swapped_scores_back():
    merged = modes.read({"forward": "8 3\n", "swapped": "3 8\n"}, "pairwise", judgelm, 2, "judgelm")
    assert merged["scores_swapped"] == [8.0, 3.0] and merged["verdict"] == "1" and merged["consistent"] is True


def test_reference_policy_and_unknown_names():
    assert modes.use_reference({"reference": "r"}, "auto") is True
    assert modes.use_reference({"reference": "  "}, "auto") is False
    assert modes.use_reference({"reference": None}, "always") is True
    assert modes.use_reference({"reference": "r"}, "never") is False
    with pytest.raises(ValueError, match="unknown reference_policy"):
        modes.use_reference({"reference": "r"}, "sometimes")
    with pytest.raises(ValueError, match="unknown mode 'listwise'"):
        modes.get("listwise")


# --- parse_single ------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["judgelm", "lenient"])
def test_parse_single_returns_graded_score(policy):
    # The engine continues after the pre-filled "10".
    assert parse_single(" 7\nThe answer misses a step.", policy) == ok(7.0)
    assert parse_single(",8.5", policy) == ok(8.5)


def test_parse_single_failures():
    assert parse_single(" 7 6").scores is None  # three scores in judgelm mode
    assert parse_single("").error == "expected 2 scores, got 1 fields in first line '10'"
    assert parse_single("\n7").scores is None
    assert parse_single("0 7", "lenient").error == "pre-filled score 10 was continued into 100"
    assert parse_single("  7", "lenient") == ok(7.0)


# --- parse_output: what the pipeline calls on engine text --------------------------------------


def test_parse_output_strips_pairwise_text_like_judgelm_but_not_single():
    assert parse(" 8 7\nwhy ", "pairwise", 2).scores == [8.0, 7.0]
    assert parse("8 7 \nwhy", "pairwise", 2).scores is None  # JudgeLM strips the text, not the line
    assert parse(" 8 7 6\n", "multi", 3).scores == [8.0, 7.0, 6.0]
    assert parse(" 7\ngood", "single", 1).scores == [7.0]
    assert parse("7", "single", 1).scores is None  # "107" is not two scores
