"""Judging modes: what a mode asks the judge and how its answer is read, one module per mode.

A mode is a module with
- ``ANSWERS``: (fewest, most) answers a row may have;
- ``SWAPPABLE``: whether the answers can also be judged in reverse order (`judge.swap`);
- ``VERDICT``: whether a judgment names a winner (single-answer grading only scores);
- ``check(row)``: why a canonical row cannot be judged in this mode, naming the field, or None;
- ``prompt(question, answers, reference, use_reference)``: the exact JudgeLM prompt;
- ``parse(text, n_answers, policy)``: JudgeLM's score line -> scores.

What another judge family asks in a mode, and how it is read, is the family's (`judgelm_ray.families`;
JudgeLM's family is the prompts and parsers here). `requests` and `read` are the same for every mode:
one request per answer order, the texts parsed by the family and the orders merged. Dialogues and
images are row content, not modes of their own. A new mode is one file plus one line in ``MODES``.
"""

from __future__ import annotations

from typing import Protocol

from judgelm_ray import verdicts
from judgelm_ray.inputs.canonical import has_reference
from judgelm_ray.modes import multi, pairwise, single
from judgelm_ray.modes.common import ORDERS, Request

__all__ = ["MODES", "ORDERS", "REFERENCE_POLICIES", "Mode", "Request", "build_prompt", "get", "read", "requests",
           "use_reference"]


class Mode(Protocol):
    ANSWERS: tuple[int, int]
    SWAPPABLE: bool
    VERDICT: bool

    def check(self, row: dict) -> str | None: ...

    def prompt(self, question: str, answers: list[str], reference: str | None, use_reference: bool) -> str: ...

    def parse(self, text: str, n_answers: int, policy: str) -> verdicts.ParsedJudgment: ...


MODES: dict[str, Mode] = {
    "pairwise": pairwise,
    "single": single,
    "multi": multi,
}

# judge.reference: show the reference when the row has one (auto), on every row, or never.
REFERENCE_POLICIES = ("auto", "always", "never")


def get(name: str) -> Mode:
    if name not in MODES:
        raise ValueError(f"unknown mode {name!r}; expected one of {tuple(MODES)}")
    return MODES[name]


def use_reference(row: dict, policy: str) -> bool:
    """Whether a row's requests show its reference under `policy`."""
    if policy not in REFERENCE_POLICIES:
        raise ValueError(f"unknown reference_policy {policy!r}; expected one of {REFERENCE_POLICIES}")
    return policy == "always" or (policy == "auto" and has_reference(row))


def build_prompt(question: str, answers: list[str], reference: str | None, mode: str, use_reference: bool) -> str:
    """The exact JudgeLM prompt for one request in `mode` (what `judgelm-ray render` prints)."""
    return get(mode).prompt(question, answers, reference, use_reference)


def requests(row: dict, mode: str, family, use_reference: bool, swap: bool) -> list[Request]:
    """The requests a row becomes: the forward order and, with `swap`, the answers (and their own
    turns) reversed; `family` (`judgelm_ray.families`) writes each prompt."""
    out = [Request(order="forward", prompt=family.prompt(row, mode, use_reference))]
    if swap and get(mode).SWAPPABLE:
        own = row.get("answer_turns")
        swapped = {**row, "answers": row["answers"][::-1], "answer_turns": own[::-1] if own else own}
        out.append(Request(order="swapped", prompt=family.prompt(swapped, mode, use_reference)))
    return out


def read(texts: dict[str, str], mode: str, family, n_answers: int, policy: str) -> verdicts.MergedJudgment:
    """The judge's text of each order parsed by `family` and merged (the swapped order mapped back)."""
    forward = family.parse(texts["forward"], mode, n_answers, policy)
    swapped = family.parse(texts["swapped"], mode, n_answers, policy) if "swapped" in texts else None
    merged = verdicts.merge_orders(forward, swapped)
    if not get(mode).VERDICT:  # one graded answer has no winner; its score is the result
        merged.update(verdict=None, verdict_forward=None, verdict_swapped=None)
    return merged
