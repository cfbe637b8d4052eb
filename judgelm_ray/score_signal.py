"""Expected scores, a confidence and a margin from the judge's top-k logprobs of its score line.

With `judge.logprobs`, the engine returns the top-k candidates of every generated token
(`engines.base.TokenLogprobs`). Each number on the first line gets a distribution over the values 1..10
from the candidates at the token that starts it; its mean is the G-Eval style expected score. Pure (stdlib
only): it runs in the judge's CPU parse stage. A line the walk cannot read as exactly `count` plain numbers
(labels, "/10", decimals, a newline glued to a digit) gives None, never a misread.

Approximations (no second pass over the model):
- Two-token "10". With Llama's SentencePiece "10" is "1", "0", so a candidate "1" is the value 1 or the
  start of 10. Where the model chose "1", the next position splits it: P(10) = P("1")·P(next starts with
  "0"), exact but for the "0" being followed by more digits. Where it chose another value, the next
  position belongs to that value, and all of P("1") goes to 1: the expected score is then low by at most
  9·P("1")/mass (`error_bounds`). Where "10" is one token (byte-level BPE: "10", "Ġ10") a candidate "1"
  really is 1 and that bound is merely conservative.
- Conditioning. Each position's candidates are conditioned on the tokens the model actually wrote before
  it (the second score given the first; the digit given the chosen "▁"), and `outcome_probabilities`
  treats the scores as independent. `confidence` ranks rows; it is not a calibrated probability.
- Top-k only. Mass outside the top k, and candidates that are not values ("0", "11", words), are
  dropped and the rest renormalised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from judgelm_ray.engines.base import TokenLogprobs

VALUES = range(1, 11)
_BLANK = " \t\u2581\u0120"  # a space as decoded, SentencePiece's "▁", byte-level BPE's "Ġ"
_NEWLINE_PIECES = ("<0x0A>", "\u010a")  # "\n" as raw pieces: Llama's byte fallback, byte-level BPE's "Ċ"
_UNAMBIGUOUS = {str(v): v for v in range(2, 11)}  # "1" may start "10": see the module doc


class RowSignal(TypedDict):
    expected_scores: list[float] | None  # answer order; mean over the orders that parsed, as `scores`
    expected_scores_forward: list[float] | None
    expected_scores_swapped: list[float] | None  # mapped back to the original answer order
    confidence: float | None  # probability of the row's verdict (single mode: of its parsed score)
    margin: float | None  # confidence minus the most probable other outcome (may be negative)


def _p(logprob: float) -> float:
    """A probability from an engine's logprob; garbage (NaN, > 0) must not raise or exceed 1."""
    return math.exp(min(logprob, 0.0)) if logprob == logprob else 0.0


def _number_starts(tokens: Sequence[TokenLogprobs]) -> list[int] | None:
    """Indices of the tokens starting a number on the first non-blank line (pairwise mode strips its output,
    so leading blank lines are skipped); None where a digit is glued to the line's newline."""
    starts: list[int] = []
    started = in_number = False
    for i, token in enumerate(tokens):
        text = token.token
        for piece in _NEWLINE_PIECES:
            text = text.replace(piece, "\n")
        head, newline, _ = text.partition("\n")
        if newline and not started and not text.strip(_BLANK + "\n\r"):
            continue
        if newline:
            return None if any(c.isdigit() for c in head) else starts
        stripped = head.lstrip(_BLANK)
        if not stripped:  # a separator: the number before it has ended
            in_number = False
            continue
        started = True
        glued = in_number and stripped == head  # "0" right after "1" continues "10"
        if stripped[0].isdigit() and not glued:
            starts.append(i)
        in_number = stripped[-1].isdigit()
    return starts


def _distribution(tokens: Sequence[TokenLogprobs], i: int) -> tuple[dict[int, float], float] | None:
    """The value distribution of the number starting at tokens[i], and the share of it given to 1 without
    knowing whether it meant 10; None when no candidate is a value."""
    chosen = tokens[i].token.lstrip(_BLANK)
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    q0 = None
    if chosen == "1" and after is not None:
        # Raw text: "▁0" / "Ġ0" would be a new number " 0", not the end of "10".
        q0 = min(1.0, sum(_p(lp) for text, lp in after.top.items() if text.startswith("0")))
    mass = dict.fromkeys(VALUES, 0.0)
    unsplit = 0.0
    for text, logprob in tokens[i].top.items():
        value, p = text.lstrip(_BLANK), _p(logprob)
        if value == "1" and q0 is not None:
            mass[10] += p * q0
            mass[1] += p * (1.0 - q0)
        elif value == "1":
            mass[1] += p
            unsplit += p
        elif value in _UNAMBIGUOUS:
            mass[_UNAMBIGUOUS[value]] += p
    total = sum(mass.values())
    if not (total > 0 and math.isfinite(total)):
        return None
    return {v: m / total for v, m in mass.items() if m > 0}, unsplit / total


def _read(tokens: Sequence[TokenLogprobs] | None, count: int) -> list[tuple[dict[int, float], float]] | None:
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    starts = _number_starts(tokens) if tokens else None
    if starts is None or len(starts) != count:
        return None
    read = [_distribution(tokens, i) for i in starts]
    return None if any(r is None for r in read) else read


def score_distributions(tokens: Sequence[TokenLogprobs] | None, count: int) -> list[dict[int, float]] | None:
    """Per score on the first line, {value 1..10: probability} (values with mass only, summing to 1); None
    unless the line holds exactly `count` numbers, each with some value mass among its candidates."""
    read = _read(tokens, count)
    return None if read is None else [dist for dist, _ in read]


def error_bounds(tokens: Sequence[TokenLogprobs] | None, count: int) -> list[float] | None:
    """Per score, the most its expected score can be too low by the "1" vs "10" approximation: 9 x the
    probability given to 1 where the tokens could not tell it from 10."""
    read = _read(tokens, count)
    return None if read is None else [9.0 * unsplit for _, unsplit in read]


def expected(dist: Mapping[int, float]) -> float:
    """The probability-weighted score (G-Eval)."""
    return sum(value * p for value, p in dist.items())


def outcome_probabilities(dists: Sequence[Mapping[int, float]]) -> dict[str, float]:
    """With one score: {"1".."10": P(value)}. With N: {"1".."N": P(answer i has the unique highest score),
    "tie": the rest}, the scores taken as independent (see the module doc): O(N²·10), not 10^N."""
    if not dists:
        raise ValueError("outcome_probabilities needs at least one distribution")
    if len(dists) == 1:
        return {str(v): dists[0].get(v, 0.0) for v in VALUES}
    below = [{v: sum(d.get(u, 0.0) for u in VALUES if u < v) for v in VALUES} for d in dists]  # P_j(< v)
    out = {
        str(i + 1): sum(p * math.prod(below[j][v] for j in range(len(dists)) if j != i) for v, p in d.items())
        for i, d in enumerate(dists)
    }
    out["tie"] = max(0.0, 1.0 - sum(out.values()))
    return out


def _merge_outcomes(forward: dict[str, float], swapped_back: dict[str, float]) -> dict[str, float]:
    """merge_orders keeps a winner both orders agree on, else calls a tie: P(v) = Pf(v)·Ps(v) (independent orders)."""
    out = {k: p * swapped_back[k] for k, p in forward.items() if k != "tie"}
    out["tie"] = max(0.0, 1.0 - sum(out.values()))
    return out


def _readable(scores: Sequence[float]) -> bool:
    """Token distributions over 1..10 describe a parsed line of integers 1..10 only (not "8.5", "0", "11")."""
    return all(float(s).is_integer() and 1 <= s <= 10 for s in scores)


def row_signal(logprobs: Mapping[str, Sequence[TokenLogprobs] | None], merged: Mapping, count: int) -> RowSignal:
    """The five signal fields of one row. `logprobs`: per order ("forward", "swapped"), the generation's
    tokens or None; `merged`: the row's `verdicts.merge_orders` result (after `modes.read`); `count`: scores
    on the generated line (pairwise 2, multi N, single 1: single-answer grading, whose outcome is the
    graded score). An order counts where it parsed; one that parsed without readable logprobs makes the
    fields needing it None."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    dists: dict[str, list[dict[int, float]] | None] = {}
    for order, key in (("forward", "scores_forward"), ("swapped", "scores_swapped")):
        parsed = merged.get(key)
        if parsed is None:
            continue
        if len(parsed) != count:
            raise ValueError(f"{key} holds {len(parsed)} scores, count is {count}")
        found = score_distributions(logprobs.get(order), count) if _readable(parsed) else None
        dists[order] = found[::-1] if order == "swapped" and found else found  # swapped: answers reversed

    def means(order: str) -> list[float] | None:
        return [expected(d) for d in dists[order]] if dists.get(order) else None

    readable = bool(dists) and all(d is not None for d in dists.values())
    per_order = [means(order) for order in dists]
    signal = RowSignal(
        expected_scores=[sum(col) / len(col) for col in zip(*per_order)] if readable else None,
        expected_scores_forward=means("forward"),
        expected_scores_swapped=means("swapped"),
        confidence=None,
        margin=None,
    )
    if readable:
        signal.update(_confidence(list(dists.values()), merged, count))
    return signal


def _confidence(orders: list[list[dict[int, float]]], merged: Mapping, count: int) -> dict[str, float | None]:
    """P(the row's outcome) and its margin, from each order's distributions in the original answer order."""
    if count == 1:  # single-answer grading: the outcome is the graded score, from its one order
        scores = merged.get("scores_forward")
        target = str(int(scores[0])) if scores is not None and len(orders) == 1 else None
    else:
        target = merged.get("verdict")
    if target is None:  # no verdict (an order failed), or a mean of two single-mode scores
        return {"confidence": None, "margin": None}
    outcomes = [outcome_probabilities(dists) for dists in orders]
    merged_outcomes = _merge_outcomes(*outcomes) if len(outcomes) == 2 else outcomes[0]
    if target not in merged_outcomes:
        raise ValueError(f"verdict {target!r} is not an outcome of {count} scores")
    confidence = min(1.0, merged_outcomes[target])  # sums of products can pass 1 by a rounding error
    rest = max(p for k, p in merged_outcomes.items() if k != target)
    return {"confidence": confidence, "margin": confidence - rest}
