"""Judging modes: what a mode asks the judge and how its answer is read, one module per mode.

A mode is a module with
- ``ANSWERS``: (fewest, most) answers a row may have;
- ``SWAPPABLE``: whether the answers can also be judged in reverse order (`judge.swap`);
- ``VERDICT``: whether a judgment names a winner (single-answer grading only scores);
- ``check(row)``: why a canonical row cannot be judged in this mode, naming the field, or None;
- ``prompt(question, answers, reference, use_reference)``: the exact JudgeLM prompt;
- ``requests(row, use_reference, swap)``: the requests (order, prompt) a row becomes;
- ``read(texts by order, n_answers, parse policy)``: the judge's texts -> judgment columns.

Dialogues and images will be row content each mode handles, not modes of their own. A new mode
is one file plus one line in ``MODES``.
"""

from __future__ import annotations

from typing import Protocol

from judgelm_ray import verdicts
from judgelm_ray.inputs.canonical import has_reference
from judgelm_ray.modes import multi, pairwise, single
from judgelm_ray.modes.common import ORDERS, Request

__all__ = ["MODES", "ORDERS", "REFERENCE_POLICIES", "Mode", "Request", "build_prompt", "get", "use_reference"]


class Mode(Protocol):
    ANSWERS: tuple[int, int]
    SWAPPABLE: bool
    VERDICT: bool

    def check(self, row: dict) -> str | None: ...

    def prompt(self, question: str, answers: list[str], reference: str | None, use_reference: bool) -> str: ...

    def requests(self, row: dict, use_reference: bool, swap: bool) -> list[Request]: ...

    def read(self, texts: dict[str, str], n_answers: int, policy: str) -> verdicts.MergedJudgment: ...


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
