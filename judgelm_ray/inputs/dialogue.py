"""Dialogues on a canonical row: reading and checking turns, splitting per-answer dialogues, rendering.

A dialogue row judges the answers to the last user turn of a conversation:
  turns            the turns before it, shared by every answer: an optional first "system" turn,
                   then "user" and "assistant" alternating, from "user" to "assistant";
  question         the final user turn (what the answers respond to);
  answers          each answer's final assistant turn;
  answer_turns     where each answer has its own earlier turns (MT-bench's turn 2: each model answered
                   turn 1 itself), one list per answer, placed between `turns` and `question`;
  reference_turns  the same for the reference.
So answer i's whole dialogue is turns + answer_turns[i] + [user: question] + [assistant: answers[i]].
A single-turn row has no turns; dialogues and single turns go through the same modes.
"""

from __future__ import annotations

from typing import Any

from judgelm_ray.inputs.fields import RowError, kind

ROLES = ("system", "user", "assistant")


def read_turns(value: Any, field: str) -> list[dict] | None:
    """Turns as [{"role", "content"}], checked one by one (None and [] mean no dialogue)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise RowError(field, f"expected a list of {{role, content}} turns, got {kind(value)}")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or set(turn) - {"role", "content"}:
            raise RowError(field, f"expected a {{role, content}} mapping, got {_shape(turn)}", i)
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            raise RowError(field, f"role {role!r}: expected one of {', '.join(ROLES)}", i)
        if not isinstance(content, str) or not content.strip():
            raise RowError(field, f"empty {role} turn; every turn needs its text", i)
        turns.append({"role": role, "content": content})
    return turns


def _shape(value: Any) -> str:
    return f"keys {sorted(value)}" if isinstance(value, dict) else kind(value)


def check_order(turns: list[dict], field: str, last: str | None = "assistant") -> None:
    """Roles in order: an optional first system turn, then user/assistant alternating from "user" to
    `last` (None: either)."""
    body = turns[1:] if turns and turns[0]["role"] == "system" else turns
    expected = "user"
    for i, turn in enumerate(body, len(turns) - len(body)):
        if turn["role"] != expected:
            after = f" after a {turns[i - 1]['role']} turn" if i else " as the first turn"
            raise RowError(field, f"a {turn['role']} turn{after}; roles must alternate user, assistant, ...", i)
        expected = "assistant" if expected == "user" else "user"
    if body and last is not None and body[-1]["role"] != last:
        raise RowError(field, f"ends with a {body[-1]['role']} turn; the turns before the question end with "
                              f"the {last}'s", len(turns) - 1)


def check_row(turns: list[dict] | None, answer_turns: list[list[dict]] | None, n_answers: int,
              reference_turns: list[dict] | None = None) -> None:
    """A dialogue row's turns in order: each answer's (and the reference's) own turns continue the shared ones."""
    turns = turns or []
    # Where answers (or the reference) have their own turns, the shared ones may end anywhere: theirs go on.
    check_order(turns, "turns", last=None if answer_turns or reference_turns else "assistant")
    if answer_turns is not None and len(answer_turns) != n_answers:
        raise RowError("answer_turns", f"has {len(answer_turns)} lists for {n_answers} answers; give one per answer")
    for field, own in [*((f"answer_turns[{i}]", t) for i, t in enumerate(answer_turns or [])),
                       ("reference_turns", reference_turns)]:
        if own:
            if not turns:
                raise RowError(field, "continues a dialogue, but the row has no turns before it")
            if any(t["role"] == "system" for t in own):
                raise RowError(field, "has a system turn; a system turn can only open the shared turns")
            check_order(turns + own, field)


def split_dialogues(dialogues: list[list[dict]], field: str = "answers", names: list[str] | None = None) -> dict:
    """Per-answer whole dialogues that share everything but their final assistant turn (hh-rlhf's chosen
    and rejected) -> {"turns", "question", "answers"} of a canonical dialogue row. Errors name dialogue i
    as `names[i]` (the record's own fields, e.g. "rejected") or else as field[i]."""
    def where(i: int) -> tuple[str, int | None]:  # RowError's field and index for dialogue i
        return (names[i], None) if names else (field, i)

    for i, dialogue in enumerate(dialogues):
        if len(dialogue) < 2 or dialogue[-1]["role"] != "assistant" or dialogue[-2]["role"] != "user":
            raise RowError(where(i)[0], "must end with a user turn and the assistant's answer to it", where(i)[1])
        check_order(dialogue, names[i] if names else f"{field}[{i}]")
    shared = dialogues[0][:-1]
    first = repr(names[0]) if names else f"{field}[0]"
    for i, dialogue in enumerate(dialogues[1:], 1):
        own = dialogue[:-1]
        if own != shared:
            at = next((j for j, (a, b) in enumerate(zip(shared, own)) if a != b), min(len(shared), len(own)))
            raise RowError(where(i)[0], f"does not share the dialogue before the final assistant turn with {first} "
                                        f"(they differ at turn {at}); only the last assistant turn may differ", where(i)[1])
    return {"turns": shared[:-1], "question": shared[-1]["content"], "answers": [d[-1]["content"] for d in dialogues]}


# Where a template has one question slot (JudgeLM's, Prometheus'), the dialogue is written into it as
# FastChat's MT-bench judge prompts show a conversation: "### User:" / "### Assistant:" blocks.
SPEAKERS = {"system": "### System", "user": "### User", "assistant": "### Assistant"}


def as_text(turns: list[dict]) -> str:
    """The turns as one text: "### User:\\n<text>" blocks, one blank line apart."""
    return "\n\n".join(f"{SPEAKERS[t['role']]}:\n{t['content']}" for t in turns)
