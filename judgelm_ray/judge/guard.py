"""The injection guard: row text that could forge the judge prompt.

An answer (or the question, or the reference) can close its own block and open a fake one: a
second "Assistant 2" answer, a fake `[System]` section, a fake `### Response:10 1` score line.
JudgeLM's templates must stay byte-exact for its checkpoints (`prompts`), so the guard does not
rewrite row text: it finds the templates' own delimiters (`prompts.DELIMITERS`) and the
tokenizer's special tokens written as text (`</s>`, `<s>`, ...) in each field the prompt shows,
and reports them (`judge.guard: flag`) or sends the row to quarantine (`judge.guard: quarantine`).
Special tokens in row text never become control tokens whatever the guard says: the tokenizer
encodes them as text (`tokenizer.Tokenizer`).

A flag is one dict per (field, delimiter) found, at its first occurrence, Parquet-friendly:
  field      "question", "answers[i]" (i: 0-based, in the row's own answer order) or "reference"
  kind       "template" (one of the template's delimiters) or "special_token" (the tokenizer's)
  delimiter  the text found, e.g. "[System]" or "</s>"
  offset     where its first occurrence starts in the field, in characters (Python str index)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TypedDict

from judgelm_ray import prompts

KINDS = ("template", "special_token")
# How many further flags a quarantine reason names after the first one.
_REASON_MORE = 3


class Flag(TypedDict):
    field: str
    kind: str  # one of KINDS
    delimiter: str
    offset: int


def row_fields(question: str, answers: Sequence[str], reference: str | None, row: dict | None = None) -> list[tuple[str, str]]:
    """(field name, text) of each piece of row text a prompt shows; `reference` None when it is not shown.
    With `row`, also its dialogue turns ("turns[i]", "answer_turns[i][j]", "reference_turns[j]") and rubric."""
    fields = [("question", question), *((f"answers[{i}]", answer) for i, answer in enumerate(answers))]
    if reference is not None:
        fields.append(("reference", reference))
    row = row or {}
    fields += [(f"turns[{i}]", t["content"]) for i, t in enumerate(row.get("turns") or [])]
    for i, own in enumerate(row.get("answer_turns") or []):
        fields += [(f"answer_turns[{i}][{j}]", t["content"]) for j, t in enumerate(own)]
    if reference is not None:
        fields += [(f"reference_turns[{j}]", t["content"]) for j, t in enumerate(row.get("reference_turns") or [])]
    if row.get("rubric"):
        fields.append(("rubric", row["rubric"]))
    return fields


def find_injections(
    fields: Iterable[tuple[str, str]], special_tokens: Sequence[str] = (), delimiters: Sequence[str] = prompts.DELIMITERS
) -> list[Flag]:
    """The template delimiters (JudgeLM's unless given: `families`) and special tokens each field contains,
    in field order, then by offset."""
    looked_for = [(kind, text) for kind, texts in (("template", delimiters), ("special_token", special_tokens))
                  for text in texts if text]
    flags = []
    for field, text in fields:
        found = [Flag(field=field, kind=kind, delimiter=delimiter, offset=offset)
                 for kind, delimiter in looked_for if (offset := text.find(delimiter)) >= 0]
        flags.extend(sorted(found, key=lambda flag: flag["offset"]))
    return flags


def describe(flag: Flag) -> str:
    """One flag in words, for quarantine reasons."""
    if flag["kind"] == "template":
        what = f"the judge template's delimiter {flag['delimiter']!r}"
    else:
        what = f"the tokenizer's special token {flag['delimiter']!r} as text"
    return f"field {flag['field']!r}: contains {what} at character {flag['offset']}"


def quarantine_reason(where: str, flags: Sequence[Flag]) -> str:
    """Why a flagged row is quarantined under `judge.guard: quarantine`, naming file, row and field."""
    first, rest = flags[0], flags[1:]
    also = ""
    if rest:
        named = ", ".join(f"{f['delimiter']!r} in {f['field']!r}" for f in rest[:_REASON_MORE])
        more = f" and {len(rest) - _REASON_MORE} more" if len(rest) > _REASON_MORE else ""
        also = f" (also {named}{more})"
    return (f"{where}: {describe(first)}{also}, which could forge part of the judge prompt; "
            "remove it from the row, or set judge.guard: flag to judge it anyway (flagged in injection_flags)")


@functools.lru_cache(maxsize=1)
def template_text() -> str:
    """The fixed text of every JudgeLM prompt shape (all answer counts, with and without the
    reference block, both appendices), the slots left empty."""
    shapes = [
        prompts.assemble("", [""] * n, "", use_reference, appendix)
        for n in range(2, prompts.MAX_ANSWERS + 1)
        for use_reference in (False, True)
        for appendix in (prompts.APPENDIX, prompts.APPENDIX + prompts.SINGLE_SCORE_PREFIX)
    ]
    return "\n".join(shapes)


def template_conflicts(special_tokens: Iterable[str]) -> list[str]:
    """Special tokens the template's own text contains.

    The tokenizer encodes special tokens written as text as ordinary text, in the template too; a
    template that relied on one being a control token would then not be the prompt the judge was
    trained on. JudgeLM's templates contain none.
    """
    text = template_text()
    return sorted(token for token in set(special_tokens) if token and token in text)
