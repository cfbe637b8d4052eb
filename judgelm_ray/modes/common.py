"""What the judging modes share: requests in one or both answer orders, and the checks they make.

A prepared row carries a list of requests, one per answer order it is judged in (lm-evaluation-
harness's `Instance`); the engine answers each, and the mode reads the texts back by order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

from judgelm_ray import prompts, verdicts

# "forward": the answers as the row gives them; "swapped": the same answers in reverse order.
ORDERS = ("forward", "swapped")


class Request(TypedDict):
    order: str  # one of ORDERS
    prompt: str  # the exact prompt text; the judge job hands the engine its token ids


def where(row: dict) -> str:
    return f"{row['source']} row {row['row']}"


def answer_count_error(row: dict, mode: str, low: int, high: int, hint: str = "") -> str | None:
    """Why a row has the wrong number of answers for `mode` (`hint` is added when it has too many), or None."""
    n = len(row["answers"] or [])
    if low <= n <= high:
        return None
    need = f"exactly {low}" if low == high else f"{low} to {high}"
    return f"{where(row)}: field 'answers': {mode} mode needs {need} answer(s), got {n}{hint if n > high else ''}"


def require_reference(reference: str | None, why: str) -> str:
    if not isinstance(reference, str):
        raise ValueError(f"{why} needs a reference answer (str), got {type(reference).__name__}")
    return reference


def ranked_prompt(question: str, answers: list[str], reference: str | None, use_reference: bool) -> str:
    """JudgeLM's prompt that scores every answer (pairwise and multi)."""
    if use_reference:
        require_reference(reference, "use_reference=True")
    return prompts.assemble(question, answers, reference, use_reference)


def requests_in_orders(row: dict, use_reference: bool, swap: bool, prompt: Callable[..., str]) -> list[Request]:
    """The forward request and, with `swap`, the one with the answers reversed."""
    answers = row["answers"]
    out = [Request(order="forward", prompt=prompt(row["question"], answers, row["reference"], use_reference))]
    if swap:
        out.append(Request(order="swapped", prompt=prompt(row["question"], answers[::-1], row["reference"], use_reference)))
    return out


def read_orders(
    texts: dict[str, str], n_answers: int, policy: str, parse: Callable[[str, int, str], verdicts.ParsedJudgment]
) -> verdicts.MergedJudgment:
    """Parse the judge text of each order and merge them (the swapped scores are mapped back)."""
    forward = parse(texts["forward"], n_answers, policy)
    swapped = parse(texts["swapped"], n_answers, policy) if "swapped" in texts else None
    return verdicts.merge_orders(forward, swapped)
