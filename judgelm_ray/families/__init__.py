"""Judge families: the prompt templates a judge was trained on and the parser of its answers.

`judge.template` picks one. A family is a module with
- ``MODES``: the judging modes it has prompts for (`judgelm_ray.modes`);
- ``FAST``: whether its verdict comes on the first line, so `judge.fast` may stop there;
- ``CHAT``: whether its prompts are chat messages (an API judge then needs `/v1/chat/completions`, or a
  local tokenizer whose chat template makes the raw prompt);
- ``DELIMITERS``: the fixed lines of its templates that row text could forge (`judge.guard`);
- ``check(row, mode, use_reference)``: why a row cannot be judged with it (a missing reference or
  rubric), naming the field, or None (the mode has already checked the number of answers);
- ``prompt(row, mode, use_reference)``: the exact prompt for one answer order, a raw prompt (str)
  or chat messages (system + user, sent through the judge model's chat template);
- ``parse(text, mode, n_answers, policy)``: the judge's text -> `verdicts.ParsedJudgment`.

Templates stay byte-identical to upstream's: a fine-tuned judge is only reliable on the exact prompt
it was trained on. A new family is one file plus one line in ``FAMILIES``.
"""

from __future__ import annotations

from typing import Protocol, TypedDict

from judgelm_ray import verdicts
from judgelm_ray.families import judgelm, judgelm_mmvet, mtbench, prometheus


class Message(TypedDict):
    role: str  # "system" or "user"
    content: str


Prompt = str | list[Message]


class Family(Protocol):
    MODES: tuple[str, ...]
    FAST: bool
    CHAT: bool
    DELIMITERS: tuple[str, ...]

    def check(self, row: dict, mode: str, use_reference: bool) -> str | None: ...

    def prompt(self, row: dict, mode: str, use_reference: bool) -> Prompt: ...

    def parse(self, text: str, mode: str, n_answers: int, policy: str) -> verdicts.ParsedJudgment: ...


FAMILIES: dict[str, Family] = {
    "judgelm": judgelm,
    "judgelm-mmvet": judgelm_mmvet,
    "mtbench": mtbench,
    "prometheus": prometheus,
}


def get(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown judge template {name!r}; expected one of {tuple(FAMILIES)}")
    return FAMILIES[name]
