"""Turn JudgeLM judge text into scores and verdicts, optionally merging a swapped-order run.

Two parsing policies:
- "judgelm": JudgeLM's `parse_score` generalised to n scores, quirks included, so numbers stay
  comparable with the paper. The one deviation: NaN/inf are rejected (upstream would accept them,
  and they poison every mean downstream). Negative numbers are kept, as upstream does.
- "lenient": also accepts the drift fine-tuned judges commonly produce ("8/10", "Assistant 1: 8",
  "8 and 7", extra spaces, trailing words), but still needs exactly n numbers at the start of the
  first non-empty line. Signs are not part of its number syntax, so negatives fail.

How each judging mode applies them (stripping, single-answer grading's pre-filled score) is in
`judgelm_ray.modes`. `normalise_verdict` reads a verdict written by people or other judges.
"""

import math
import re
from dataclasses import dataclass
from typing import TypedDict

POLICIES = ("judgelm", "lenient")
_QUOTE_LIMIT = 80

# One lenient score: optional "Assistant k:" label, the number, an optional "/10" denominator
# (which is not a score). The label needs its colon so trailing prose like "Assistant 1 is
# better" is not read as a score; the lookahead rejects numbers glued to words ("7x").
_ITEM = (
    r"(?:assistant\s*(?P<label>\d+)\s*:\s*)?"
    r"(?P<score>\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s*/\s*\d+(?:\.\d+)?)?(?!\w)"
)
_FIRST_ITEM = re.compile(_ITEM, re.IGNORECASE)
# Scores after the first are separated by whitespace, ',' or ';', optionally followed by "and".
_NEXT_ITEM = re.compile(r"(?:\s*[,;]\s*|\s+)(?:and\s+)?" + _ITEM, re.IGNORECASE)


@dataclass(frozen=True)
class ParsedJudgment:
    scores: list[float] | None  # None when parsing failed (or the judge names a winner without scores)
    error: str | None  # None on success, else a short reason quoting the first line
    # A winner the judge names itself ("1", "2", "tie"), in the order the answers were shown: judges
    # that give no scores (MT-bench's [[A]], Prometheus' [RESULT] B). None: read it from the scores.
    verdict: str | None = None


class MergedJudgment(TypedDict):
    scores: list[float] | None
    verdict: str | None
    verdict_forward: str | None
    verdict_swapped: str | None
    consistent: bool | None
    scores_forward: list[float] | None
    scores_swapped: list[float] | None
    parse_error: str | None


def _quote(line: str) -> str:
    if len(line) > _QUOTE_LIMIT:
        line = line[: _QUOTE_LIMIT - 3] + "..."
    return repr(line)


def _fail(reason: str) -> ParsedJudgment:
    return ParsedJudgment(scores=None, error=reason)


def _parse_judgelm(text: str, n_scores: int) -> ParsedJudgment:
    line = text.split("\n")[0]
    # Splitting on a single ' ' is deliberate: "8  7" fails upstream, so it fails here too.
    fields = line.replace(",", " ").split(" ")
    if len(fields) != n_scores:
        return _fail(
            f"expected {n_scores} scores, got {len(fields)} fields in first line {_quote(line)}"
        )
    try:
        scores = [float(field) for field in fields]
    except ValueError:
        return _fail(f"non-numeric score in first line {_quote(line)}")
    if not all(math.isfinite(score) for score in scores):
        return _fail(f"non-finite score in first line {_quote(line)}")
    return ParsedJudgment(scores=scores, error=None)


def _parse_lenient(text: str, n_scores: int) -> ParsedJudgment:
    line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    scores: list[float] = []
    match = _FIRST_ITEM.match(line)
    while match:
        label = match.group("label")
        # A label must name the position it sits in, or scores would be silently reordered.
        if label is not None and int(label) != len(scores) + 1:
            position = len(scores) + 1
            return _fail(f"'Assistant {label}' at position {position} in first line {_quote(line)}")
        scores.append(float(match.group("score")))
        match = _NEXT_ITEM.match(line, match.end())
    # Counting every leading score (not stopping at n) is what rejects "8 7 6" for n=2.
    if len(scores) != n_scores:
        return _fail(
            f"expected {n_scores} scores, found {len(scores)} at start of first line {_quote(line)}"
        )
    return ParsedJudgment(scores=scores, error=None)


def parse_judgment(text: str, n_scores: int, policy: str = "judgelm") -> ParsedJudgment:
    """Parse the judge's first line into exactly `n_scores` scores (see module doc for policies)."""
    if n_scores < 1:
        raise ValueError(f"n_scores must be >= 1, got {n_scores}")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {POLICIES}")
    if not text.strip():
        return _fail("empty judge output")
    if policy == "judgelm":
        return _parse_judgelm(text, n_scores)
    return _parse_lenient(text, n_scores)


def verdict_from_scores(scores: list[float]) -> str:
    """1-based index (as str) of the unique highest score, or "tie" when the maximum is shared."""
    if len(scores) < 2:
        raise ValueError(f"a verdict needs at least 2 scores, got {len(scores)}")
    best = max(scores)
    if scores.count(best) > 1:
        return "tie"
    return str(scores.index(best) + 1)


def normalise_verdict(value, n_answers: int | None = None) -> str | None:
    """A verdict as "1".."N" or "tie" (0 and "tie" in any case mean tie); None stays None (no verdict).

    Accepts numbers, integer-valued floats (pandas-written Parquet) and digit strings; with
    `n_answers`, a number above it is refused too.
    """
    if value is None:
        return None
    number = None
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "tie":
            return "tie"
        if text.isascii() and text.isdigit():
            number = int(text)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        number = int(value)
    if number == 0:
        return "tie"
    if number is not None and number >= 1 and (n_answers is None or number <= n_answers):
        return str(number)
    if n_answers is None:
        raise ValueError(f"expected a verdict 1, 2, ... or 'tie' (0), got {value!r}")
    raise ValueError(f"expected the number of the better answer (1..{n_answers}), 0 or 'tie', got {value!r}")


def best_of(scores: list[float] | None) -> str | None:
    """The verdict scores imply, or None where there are none or one (a single graded answer has no winner)."""
    return verdict_from_scores(scores) if scores is not None and len(scores) >= 2 else None


def _unswap(verdict: str) -> str:
    """A named verdict on the two answers swapped, as the original order numbers it (judges name winners
    of pairs only: multi-answer judges score every answer)."""
    return {"1": "2", "2": "1"}.get(verdict, verdict)


def merge_orders(forward: ParsedJudgment, swapped: ParsedJudgment | None) -> MergedJudgment:
    """Combine the judgment of the original order with the one of the reversed order (if any).

    `swapped` was judged on answers[::-1], so its scores are reversed back first. The verdict is
    None whenever an order failed to parse: a failure must never be counted as a tie. With one
    score per order (single mode) the scores are merged but there is no verdict to compare.
    """
    scores_forward = forward.scores
    swapped_raw = swapped.scores if swapped is not None else None
    scores_swapped = swapped_raw[::-1] if swapped_raw is not None else None
    verdict_forward = forward.verdict or best_of(scores_forward)
    verdict_swapped = _unswap(swapped.verdict) if swapped is not None and swapped.verdict else best_of(scores_swapped)

    errors = [f"forward: {forward.error}"] if forward.error is not None else []
    if swapped is not None and swapped.error is not None:
        errors.append(f"swapped: {swapped.error}")

    scores = scores_forward if scores_forward is not None else scores_swapped
    verdict = verdict_forward if swapped is None else None
    consistent: bool | None = None
    if scores_forward is not None and scores_swapped is not None:
        if len(scores_forward) != len(scores_swapped):
            raise ValueError(f"score counts differ: {len(scores_forward)} vs {len(scores_swapped)}")
        scores = [(a + b) / 2 for a, b in zip(scores_forward, scores_swapped)]
    if verdict_forward is not None and verdict_swapped is not None:
        consistent = verdict_forward == verdict_swapped
        # Disagreement between orders means position bias decided it: call it a tie.
        verdict = verdict_forward if consistent else "tie"

    return MergedJudgment(
        scores=scores,
        verdict=verdict,
        verdict_forward=verdict_forward,
        verdict_swapped=verdict_swapped,
        consistent=consistent,
        scores_forward=scores_forward,
        scores_swapped=scores_swapped,
        parse_error="; ".join(errors) or None,
    )
