import pytest

from judgelm_ray.verdicts import ParsedJudgment, merge_orders, parse_judgment, verdict_from_scores


def ok(*scores: float) -> ParsedJudgment:
    return ParsedJudgment(scores=list(scores), error=None)


def failed(error: str = "empty judge output") -> ParsedJudgment:
    return ParsedJudgment(scores=None, error=error)


# --- parse_judgment: accepted by both policies ------------------------------------------------


@pytest.mark.parametrize("policy", ["judgelm", "lenient"])
@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("8 7", 2, [8.0, 7.0]),
        ("8,7", 2, [8.0, 7.0]),  # upstream turns ',' into ' '
        ("8 7\nAssistant 1 gave a more detailed answer.", 2, [8.0, 7.0]),
        ("10 9.5", 2, [10.0, 9.5]),
        (".5 10", 2, [0.5, 10.0]),
        ("9", 1, [9.0]),
        ("8 7 6", 3, [8.0, 7.0, 6.0]),
        ("8,7,6,5", 4, [8.0, 7.0, 6.0, 5.0]),
    ],
)
def test_both_policies_accept(policy, text, n, expected):
    assert parse_judgment(text, n, policy) == ParsedJudgment(scores=expected, error=None)


# --- parse_judgment: rejected by both policies ------------------------------------------------


@pytest.mark.parametrize("policy", ["judgelm", "lenient"])
@pytest.mark.parametrize(
    ("text", "n", "error_part"),
    [
        ("", 2, "empty judge output"),
        ("  \n \n", 2, "empty judge output"),
        ("8", 2, "'8'"),
        ("8 7 6", 2, "'8 7 6'"),
        ("eight seven", 2, "'eight seven'"),
        ("Assistant 1 is better.\n8 7", 2, "'Assistant 1 is better.'"),
        ("8 nan", 2, "'8 nan'"),
        ("inf 7", 2, "'inf 7'"),
    ],
)
def test_both_policies_reject(policy, text, n, error_part):
    parsed = parse_judgment(text, n, policy)
    assert parsed.scores is None
    assert error_part in parsed.error


def test_judgelm_error_messages():
    assert parse_judgment("8", 2).error == "expected 2 scores, got 1 fields in first line '8'"
    assert parse_judgment("8 x", 2).error == "non-numeric score in first line '8 x'"
    assert parse_judgment("8 nan", 2).error == "non-finite score in first line '8 nan'"


def test_error_quotes_long_first_line_truncated():
    quoted = f"'{'x' * 77}...'"  # 80 characters of the line
    judgelm = parse_judgment("x" * 200 + "\nmore", 2).error
    assert judgelm == f"expected 2 scores, got 1 fields in first line {quoted}"
    lenient = parse_judgment("x" * 200, 2, "lenient").error
    assert lenient == f"expected 2 scores, found 0 at start of first line {quoted}"


# --- JudgeLM quirks: fail upstream, pass lenient ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("8  7", 2, [8.0, 7.0]),  # double space makes an empty field upstream
        (" 8 7", 2, [8.0, 7.0]),
        ("8 7 ", 2, [8.0, 7.0]),
        ("\n8 7\nexplanation", 2, [8.0, 7.0]),  # first non-empty line
        ("8\t7", 2, [8.0, 7.0]),
        ("8, 7", 2, [8.0, 7.0]),  # ", " becomes two spaces upstream
        ("8/10", 1, [8.0]),
        ("8/10 7/10", 2, [8.0, 7.0]),  # denominators are not scores
        ("8 / 10, 7 / 10", 2, [8.0, 7.0]),
        ("Assistant 1: 8", 1, [8.0]),
        ("Assistant 1: 8, Assistant 2: 7", 2, [8.0, 7.0]),
        ("assistant 1: 8/10; assistant 2: 7/10", 2, [8.0, 7.0]),
        ("8 and 7", 2, [8.0, 7.0]),
        ("8, 7, and 6", 3, [8.0, 7.0, 6.0]),
        ("8 7 Assistant 1 is better", 2, [8.0, 7.0]),
        ("8 and 7. Assistant 1 is better", 2, [8.0, 7.0]),
    ],
)
def test_judgelm_quirks_fail_but_lenient_accepts(text, n, expected):
    assert parse_judgment(text, n, "judgelm").scores is None
    assert parse_judgment(text, n, "lenient") == ParsedJudgment(scores=expected, error=None)


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("8/10 7/10 6/10", 2),  # three scores, not two
        ("Assistant 1: 8, Assistant 2: 7, Assistant 3: 6", 2),
        ("Assistant 2: 7, Assistant 1: 8", 2),  # labels out of order would swap the scores
        ("Score: 8 7", 2),  # numbers must start the line
        ("8 7x", 2),  # a number glued to a word is not a score
        ("-1 5", 2),  # no negative scores in lenient mode
        ("8 -1", 2),
        ("Assistant 1: 8\nAssistant 2: 7", 2),  # only the first line counts
    ],
)
def test_lenient_rejects(text, n):
    parsed = parse_judgment(text, n, "lenient")
    assert parsed.scores is None
    assert parsed.error


def test_lenient_error_messages():
    assert parse_judgment("8 7 6", 2, "lenient").error == (
        "expected 2 scores, found 3 at start of first line '8 7 6'"
    )
    assert parse_judgment("Assistant 2: 7, Assistant 1: 8", 2, "lenient").error == (
        "'Assistant 2' at position 1 in first line 'Assistant 2: 7, Assistant 1: 8'"
    )


def test_judgelm_keeps_upstream_negatives():
    # Upstream float() accepts them; only NaN/inf are added as failures.
    assert parse_judgment("-1 5", 2).scores == [-1.0, 5.0]


def test_parse_judgment_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown policy"):
        parse_judgment("8 7", 2, "strict")
    with pytest.raises(ValueError, match="n_scores"):
        parse_judgment("8 7", 0)


# --- verdict_from_scores -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "verdict"),
    [
        ([8, 7], "1"),
        ([7, 8], "2"),
        ([7.5, 7.5], "tie"),
        ([6, 9, 8], "2"),
        ([6, 8, 9, 1], "3"),
        ([9, 9, 8], "tie"),  # shared max
        ([9, 8, 9], "tie"),
        ([5, 5, 5, 5], "tie"),
        ([7, 8, 8, 3], "tie"),
    ],
)
def test_verdict_from_scores(scores, verdict):
    assert verdict_from_scores(scores) == verdict


def test_verdict_needs_two_scores():
    with pytest.raises(ValueError, match="at least 2"):
        verdict_from_scores([8.0])


# --- merge_orders ------------------------------------------------------------------------------


def test_merge_without_swap():
    assert merge_orders(ok(8, 7), None) == {
        "scores": [8, 7],
        "verdict": "1",
        "verdict_forward": "1",
        "verdict_swapped": None,
        "consistent": None,
        "scores_forward": [8, 7],
        "scores_swapped": None,
        "parse_error": None,
    }


def test_merge_without_swap_failed():
    merged = merge_orders(failed("empty judge output"), None)
    assert merged["verdict"] is None and merged["scores"] is None
    assert merged["parse_error"] == "forward: empty judge output"


def test_merge_consistent_swap():
    # Swapped prompt showed answer 2 first: its "6 9" means answer 2 got 6, answer 1 got 9.
    merged = merge_orders(ok(8, 7), ok(6, 9))
    assert merged == {
        "scores": [8.5, 6.5],
        "verdict": "1",
        "verdict_forward": "1",
        "verdict_swapped": "1",
        "consistent": True,
        "scores_forward": [8, 7],
        "scores_swapped": [9, 6],
        "parse_error": None,
    }


def test_merge_consistent_tie():
    merged = merge_orders(ok(7, 7), ok(7, 7))
    assert (merged["verdict"], merged["consistent"]) == ("tie", True)


def test_merge_inconsistent_swap_is_tie():
    # Both orders prefer whichever answer came first: position bias.
    merged = merge_orders(ok(8, 7), ok(8, 7))
    assert merged["verdict_forward"] == "1"
    assert merged["verdict_swapped"] == "2"
    assert merged["verdict"] == "tie"
    assert merged["consistent"] is False
    assert merged["scores"] == [7.5, 7.5]


@pytest.mark.parametrize(
    ("forward", "swapped", "scores", "error"),
    [
        (ok(8, 7), failed("non-numeric score in first line 'x'"), [8, 7],
         "swapped: non-numeric score in first line 'x'"),
        (failed("empty judge output"), ok(6, 9), [9, 6], "forward: empty judge output"),
        (failed("empty judge output"), failed("bad"), None,
         "forward: empty judge output; swapped: bad"),
    ],
)
def test_merge_failed_order_gives_no_verdict(forward, swapped, scores, error):
    merged = merge_orders(forward, swapped)
    assert merged["verdict"] is None  # never a tie
    assert merged["consistent"] is None
    assert merged["scores"] == scores
    assert merged["parse_error"] == error


def test_merge_maps_three_answers_back():
    # Forward order A, B, C; swapped prompt showed C, B, A and scored them 9, 5, 3.
    merged = merge_orders(ok(2, 6, 8), ok(9, 5, 3))
    assert merged["scores_swapped"] == [3, 5, 9]
    assert merged["scores"] == [2.5, 5.5, 8.5]
    assert merged["verdict_forward"] == merged["verdict_swapped"] == merged["verdict"] == "3"
    assert merged["consistent"] is True


def test_merge_three_answers_inconsistent():
    merged = merge_orders(ok(9, 6, 8), ok(9, 6, 8))  # swapped back: [8, 6, 9]
    assert (merged["verdict_forward"], merged["verdict_swapped"]) == ("1", "3")
    assert merged["verdict"] == "tie"


def test_merge_single_scores_have_no_verdict():
    merged = merge_orders(ok(7), ok(8))
    assert merged["scores"] == [7.5]
    assert merged["verdict"] is None and merged["consistent"] is None


def test_named_verdicts_of_the_swapped_order_are_mapped_back():
    # Judges that name a winner (MT-bench's [[A]], Prometheus' [RESULT] B) give no scores.
    named = lambda v: ParsedJudgment(scores=None, error=None, verdict=v)  # noqa: E731
    same = merge_orders(named("1"), named("2"))  # answer 1 wins in both orders
    assert (same["verdict"], same["verdict_swapped"], same["consistent"], same["scores"]) == ("1", "1", True, None)
    flipped = merge_orders(named("1"), named("1"))  # the first shown wins: position bias
    assert (flipped["verdict"], flipped["verdict_swapped"], flipped["consistent"]) == ("tie", "2", False)
    tie = merge_orders(named("tie"), named("tie"))
    assert (tie["verdict"], tie["consistent"]) == ("tie", True)
    failed = merge_orders(named("1"), ParsedJudgment(scores=None, error="no [[A]]"))
    assert failed["verdict"] is None and failed["parse_error"] == "swapped: no [[A]]"
