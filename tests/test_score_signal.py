import itertools
import math

import pytest

from judgelm_ray.engines.base import TokenLogprobs
from judgelm_ray.modes import single
from judgelm_ray.score_signal import error_bounds, expected, outcome_probabilities, row_signal, score_distributions
from judgelm_ray.verdicts import merge_orders, parse_judgment, verdict_from_scores

SP = "\u2581"  # SentencePiece's space
BPE = "\u0120"  # byte-level BPE's space


def tok(token: str, top: dict[str, float] | None = None) -> TokenLogprobs:
    """A generated token with its top candidates given as probabilities (the chosen one alone: certain)."""
    top = top if top is not None else {token: 1.0}
    return TokenLogprobs(token=token, top={text: math.log(p) if p > 0 else -math.inf for text, p in top.items()})


def approx(dists):
    return [pytest.approx(d) for d in dists]


NEWLINE = tok("\n")


# --- score_distributions: tokenizers ------------------------------------------------------------


def test_llama_digits_two_token_ten():
    tokens = [
        tok("1", {"1": 0.6, "9": 0.3, "8": 0.1}),
        tok("0", {"0": 0.9, ".": 0.1}),  # P("10") = 0.6 * 0.9
        tok(SP),
        tok("8", {"8": 0.5, "7": 0.5}),
        NEWLINE,
        tok("Assistant", {"Assistant": 1.0}),
    ]
    assert score_distributions(tokens, 2) == approx([{10: 0.54, 1: 0.06, 9: 0.3, 8: 0.1}, {8: 0.5, 7: 0.5}])
    assert error_bounds(tokens, 2) == [0.0, 0.0]  # the chosen "1" was split by the next position


def test_chosen_one_followed_by_space_is_mostly_one():
    tokens = [tok("1", {"1": 0.8, "2": 0.2}), tok(SP, {SP: 0.95, "0": 0.05}), tok("7"), NEWLINE]
    (first, second) = score_distributions(tokens, 2)
    assert first == pytest.approx({1: 0.76, 10: 0.04, 2: 0.2})
    assert second == {7: 1.0}


def test_spaced_zero_after_one_is_not_ten():
    # "1 0": "▁0" starts a new number, so it says nothing about "10".
    tokens = [tok("1", {"1": 0.5, "9": 0.5}), tok(SP, {SP: 0.5, SP + "0": 0.5}), tok("7"), NEWLINE]
    assert score_distributions(tokens, 2)[0] == pytest.approx({1: 0.5, 9: 0.5})


def test_candidate_one_under_another_choice_goes_to_one_with_a_bound():
    tokens = [tok("8", {"8": 0.6, "1": 0.2, "9": 0.2}), tok(SP), tok("7"), NEWLINE]
    assert score_distributions(tokens, 2)[0] == pytest.approx({8: 0.6, 1: 0.2, 9: 0.2})
    assert error_bounds(tokens, 2) == pytest.approx([9 * 0.2, 0.0])


def test_chosen_one_at_the_end_is_unsplit():
    tokens = [tok(SP), tok("1", {"1": 0.5, "2": 0.5})]
    assert score_distributions(tokens, 1) == approx([{1: 0.5, 2: 0.5}])
    assert error_bounds(tokens, 1) == pytest.approx([4.5])


def test_byte_level_whole_tokens():
    tokens = [
        tok("10", {"10": 0.7, "9": 0.2, "1": 0.1}),
        tok(" 8", {" 8": 0.4, BPE + "9": 0.4, " 10": 0.2}),
        tok("\n"),
    ]
    assert score_distributions(tokens, 2) == approx([{10: 0.7, 9: 0.2, 1: 0.1}, {8: 0.4, 9: 0.4, 10: 0.2}])


def test_non_values_are_renormalised_away():
    top = {"8": 0.3, "9": 0.1, "Great": 0.3, "0": 0.1, "11": 0.1, SP: 0.05, ".": 0.05}
    tokens = [tok("8", top), tok(SP), tok("7"), NEWLINE]
    assert score_distributions(tokens, 2)[0] == pytest.approx({8: 0.75, 9: 0.25})


def test_expected_score():
    assert expected({10: 0.5, 8: 0.25, 6: 0.25}) == pytest.approx(8.5)


# --- score_distributions: which numbers are on the line -----------------------------------------


def test_comma_separated_and_leading_blank_line():
    tokens = [tok("\n"), tok(SP), tok("8"), tok(","), tok("7"), NEWLINE, tok("9")]
    assert score_distributions(tokens, 2) == [{8: 1.0}, {7: 1.0}]


@pytest.mark.parametrize("count", [1, 3])
def test_wrong_number_of_scores_is_none(count):
    tokens = [tok("8"), tok(SP), tok("7"), NEWLINE, tok("9")]  # the 9 is past the first line
    assert score_distributions(tokens, count) is None


def test_glued_newline_or_no_tokens_is_none():
    assert score_distributions([tok("8"), tok(" 7\n")], 2) is None
    assert score_distributions([], 1) is None
    assert score_distributions(None, 1) is None


def test_position_without_value_mass_is_none():
    tokens = [tok("8", {"8": 0.0, "Great": 0.9}), tok(SP), tok("7"), NEWLINE]
    assert score_distributions(tokens, 2) is None


def test_garbage_logprobs_do_not_raise():
    tokens = [TokenLogprobs("8", {"8": float("nan"), "9": 5000.0}), tok(SP), tok("7")]
    assert score_distributions(tokens, 2) == [{9: 1.0}, {7: 1.0}]


def test_count_below_one_is_an_error():
    with pytest.raises(ValueError):
        score_distributions([tok("8")], 0)
    with pytest.raises(ValueError):
        outcome_probabilities([])


# --- outcome_probabilities ----------------------------------------------------------------------


def brute_force(dists):
    out: dict[str, float] = {}
    for values in itertools.product(range(1, 11), repeat=len(dists)):
        p = math.prod(d.get(v, 0.0) for d, v in zip(dists, values))
        verdict = verdict_from_scores(list(values))
        out[verdict] = out.get(verdict, 0.0) + p
    return out


PAIR = [{8: 0.5, 7: 0.3, 9: 0.2}, {8: 0.4, 9: 0.4, 6: 0.2}]
TRIPLE = [{8: 0.5, 7: 0.3, 9: 0.2}, {8: 0.4, 9: 0.4, 6: 0.2}, {10: 0.1, 8: 0.6, 5: 0.3}]


@pytest.mark.parametrize("dists", [PAIR, TRIPLE])
def test_outcomes_match_brute_force(dists):
    got = outcome_probabilities(dists)
    want = brute_force(dists)
    assert set(got) == {str(i) for i in range(1, len(dists) + 1)} | {"tie"}
    assert got == pytest.approx({k: want.get(k, 0.0) for k in got})


def test_single_score_outcomes_are_values():
    got = outcome_probabilities([{8: 0.7, 9: 0.3}])
    assert got == pytest.approx({str(v): {8: 0.7, 9: 0.3}.get(v, 0.0) for v in range(1, 11)})


# --- row_signal ---------------------------------------------------------------------------------


def line(*dists: dict[str, float]) -> list[TokenLogprobs]:
    """A Llama-style score line: "▁" before every score but the first, each score one digit token."""
    tokens: list[TokenLogprobs] = []
    for i, top in enumerate(dists):
        tokens += [tok(SP)] if i else []
        tokens.append(tok(max(top, key=top.get), top))
    return tokens + [NEWLINE]


def pairwise(forward_text, swapped_text):
    swapped = parse_judgment(swapped_text, 2) if swapped_text is not None else None
    return merge_orders(parse_judgment(forward_text, 2), swapped)


F = line({"8": 0.7, "7": 0.3}, {"6": 0.6, "8": 0.4})  # forward: answer 1 better


def test_pairwise_forward_only():
    signal = row_signal({"forward": F}, pairwise("8 6", None), 2)
    p1 = 0.7 * 0.6 + 0.3 * 0.6  # 8 or 7 over 6
    p2 = 0.4 * 0.3  # 8 over 7 (8 against 8 is a tie)
    assert signal["expected_scores"] == pytest.approx([7.7, 6.8])
    assert signal["expected_scores_forward"] == pytest.approx([7.7, 6.8])
    assert signal["expected_scores_swapped"] is None
    assert signal["confidence"] == pytest.approx(p1)
    assert signal["margin"] == pytest.approx(p1 - (1 - p1 - p2))


def test_pairwise_swap_consistent():
    swapped = line({"6": 0.9, "7": 0.1}, {"9": 0.5, "8": 0.5})  # answers reversed: its answer 2 is our 1
    signal = row_signal({"forward": F, "swapped": swapped}, pairwise("8 6", "6 9"), 2)
    assert signal["expected_scores_swapped"] == pytest.approx([8.5, 6.1])
    assert signal["expected_scores"] == pytest.approx([(7.7 + 8.5) / 2, (6.8 + 6.1) / 2])
    forward = outcome_probabilities([{8: 0.7, 7: 0.3}, {6: 0.6, 8: 0.4}])
    back = outcome_probabilities([{9: 0.5, 8: 0.5}, {6: 0.9, 7: 0.1}])
    p1, p2 = forward["1"] * back["1"], forward["2"] * back["2"]
    assert signal["confidence"] == pytest.approx(p1)
    assert signal["margin"] == pytest.approx(p1 - max(p2, 1 - p1 - p2))


def test_pairwise_swap_inconsistent_is_tie():
    swapped = line({"8": 0.8, "9": 0.2}, {"6": 1.0})  # its answer 1 (our answer 2) wins
    merged = pairwise("8 6", "8 6")
    assert merged["verdict"] == "tie"
    signal = row_signal({"forward": F, "swapped": swapped}, merged, 2)
    forward = outcome_probabilities([{8: 0.7, 7: 0.3}, {6: 0.6, 8: 0.4}])
    back = outcome_probabilities([{6: 1.0}, {8: 0.8, 9: 0.2}])
    p1, p2 = forward["1"] * back["1"], forward["2"] * back["2"]
    assert signal["confidence"] == pytest.approx(1 - p1 - p2)
    assert signal["margin"] == pytest.approx(1 - p1 - p2 - max(p1, p2))


def test_multi_swap_maps_index_i_to_n_plus_one_minus_i():
    forward = [{8: 0.6, 9: 0.4}, {7: 1.0}, {5: 0.5, 9: 0.5}]
    swapped = forward[::-1]  # a judge that sees the same answers reversed and scores them alike
    tokens = {
        order: line(*({str(v): p for v, p in d.items()} for d in dists))
        for order, dists in (("forward", forward), ("swapped", swapped))
    }
    merged = merge_orders(parse_judgment("8 7 5", 3), parse_judgment("5 7 8", 3))
    assert merged["verdict"] == "1"
    signal = row_signal(tokens, merged, 3)
    assert signal["expected_scores_forward"] == pytest.approx([8.4, 7.0, 7.0])
    assert signal["expected_scores_swapped"] == pytest.approx([8.4, 7.0, 7.0])
    outcomes = brute_force(forward)
    assert signal["confidence"] == pytest.approx(outcomes["1"] ** 2)
    p1, p3 = outcomes["1"] ** 2, outcomes["3"] ** 2  # answer 2's 7 never wins
    assert signal["margin"] == pytest.approx(p1 - max(p3, 1 - p1 - p3))


def test_missing_swapped_logprobs_leave_merged_fields_none():
    swapped_parsed = pairwise("8 6", "6 9")
    signal = row_signal({"forward": F, "swapped": None}, swapped_parsed, 2)
    assert signal["expected_scores_forward"] == pytest.approx([7.7, 6.8])
    assert signal["expected_scores"] is None
    assert signal["expected_scores_swapped"] is None
    assert signal["confidence"] is None and signal["margin"] is None


def test_failed_parse_or_decimal_scores_give_none():
    failed = row_signal({"forward": F, "swapped": F}, pairwise("8 6", "great answers"), 2)
    assert failed["expected_scores_forward"] == pytest.approx([7.7, 6.8])
    assert failed["expected_scores"] == pytest.approx([7.7, 6.8])  # as merge_orders' scores: the order that parsed
    assert failed["confidence"] is None  # no verdict: an order failed
    decimal = row_signal({"forward": F}, pairwise("8.5 6", None), 2)
    assert decimal == dict.fromkeys(decimal, None)


def test_count_mismatch_is_a_programming_error():
    with pytest.raises(ValueError):
        row_signal({"forward": F}, pairwise("8 6", None), 3)
    with pytest.raises(ValueError):
        row_signal({"forward": F}, pairwise("8 6", None), 0)


def single_row(text: str, chosen: str, top: dict[str, float]):
    """Single mode's generated line continues the pre-filled "10": " 8\n..."."""
    merged = merge_orders(single.parse(text), None)
    merged.update(verdict=None, verdict_forward=None, verdict_swapped=None)  # as modes.read does for single
    return {"forward": [tok(SP), tok(chosen, top), NEWLINE]}, merged


def test_single_mode_confidence_is_the_parsed_score():
    logprobs, merged = single_row(" 8\nGood.", "8", {"8": 0.7, "9": 0.2, "7": 0.1})
    signal = row_signal(logprobs, merged, 1)
    assert signal["expected_scores"] == pytest.approx([8.1])
    assert signal["confidence"] == pytest.approx(0.7)
    assert signal["margin"] == pytest.approx(0.5)


def test_single_mode_margin_negative_when_another_value_was_likelier():
    logprobs, merged = single_row(" 8\nGood.", "8", {"9": 0.6, "8": 0.4})  # sampled, not greedy
    signal = row_signal(logprobs, merged, 1)
    assert signal["confidence"] == pytest.approx(0.4)
    assert signal["margin"] == pytest.approx(-0.2)
