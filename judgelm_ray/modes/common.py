"""What the judging modes share: requests in one or both answer orders, and the checks they make.

A prepared row carries a list of requests, one per answer order it is judged in (lm-evaluation-
harness's `Instance`); the engine answers each, and the mode reads the texts back by order.
"""

from __future__ import annotations

from typing import TypedDict

from judgelm_ray import prompts

# "forward": the answers as the row gives them; "swapped": the same answers in reverse order.
ORDERS = ("forward", "swapped")


class Request(TypedDict):
    order: str  # one of ORDERS
    # The exact prompt: raw text, or chat messages for the model's chat template (`families`);
    # the judge job hands the engine its token ids.
    prompt: str | list[dict]


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
