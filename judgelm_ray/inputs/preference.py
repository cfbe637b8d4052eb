"""The ``preference`` input format: prompt / chosen / rejected, as TRL and RewardBench store preferences.

A record gives ``chosen`` and ``rejected`` (the preferred answer first: gold_verdict = "1") in one of:
- plain text: ``prompt`` (a string, the question) and two answer strings (TRL's standard
  format, RewardBench);
- messages: lists of {"role", "content"} (TRL's conversational format): ``prompt`` the turns up to
  the final user turn and chosen / rejected the assistant's reply, or, with no prompt, each a
  whole dialogue (TRL's implicit prompt); a string prompt is one user turn;
- Anthropic hh-rlhf transcripts, with no prompt: "\\n\\nHuman: ...\\n\\nAssistant: ..." strings, each
  turn opened by "\\n\\nHuman: " or "\\n\\nAssistant: " (the leading "\\n\\n" may be missing on the
  first turn). Turns must alternate Human, Assistant, ... and end with the Assistant's answer,
  which may be empty (4 chosen answers of hh-rlhf's harmless-base test split are: the annotator
  preferred no reply); other turns may not.
chosen and rejected must share everything but their final assistant turn: that shared dialogue
becomes ``turns`` (before the final user turn) and ``question`` (the final user turn), the final
turns ``answers`` = [chosen, rejected]. The chosen answer is always answer 1, so judge both orders
(``judge.swap``). ``id`` -> id (RewardBench); other keys (RewardBench's ``subset``) stay in meta.
"""

from __future__ import annotations

import re
from typing import Any

from judgelm_ray.inputs import dialogue
from judgelm_ray.inputs import fields as f

ID_KEY = "id"
ANSWERS = ("chosen", "rejected")
# A transcript turn opens with "\n\nHuman: " or "\n\nAssistant: " (the space may be missing at the very end).
_TURN = re.compile(r"\n\n(Human|Assistant):(?: |$)")
_ROLES = {"Human": "user", "Assistant": "assistant"}
_SPEAKERS = {role: speaker for speaker, role in _ROLES.items()}


def adapt(rec: dict) -> tuple[dict, dict]:
    for field in ANSWERS:
        if field not in rec:
            raise f.RowError(field, "missing; a preference record gives 'chosen' and 'rejected'")
    lead = _prompt(rec.get("prompt"))
    if isinstance(rec["chosen"], list) != isinstance(rec["rejected"], list):
        odd = "chosen" if isinstance(rec["rejected"], list) else "rejected"
        raise f.RowError(odd, "is not of the same kind as the other answer; give both as text or both as messages")
    dialogues = [_dialogue(lead, rec[field], field) for field in ANSWERS]
    split = dialogue.split_dialogues(dialogues, names=list(ANSWERS))
    values = {"question": split["question"], "answers": split["answers"], "turns": split["turns"] or None,
              "reference": None, "gold_verdict": "1", "gold_scores": None}
    return values, f.rest(rec, {"id", "prompt", *ANSWERS})


def _prompt(value: Any) -> list[dict] | None:
    """The turns before the answers: None without a prompt (the answers are whole dialogues)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    turns = dialogue.read_turns(value, "prompt")
    if not turns:
        raise f.RowError("prompt", "an empty list of messages; give the turns up to the final user turn, or no prompt")
    dialogue.check_order(turns, "prompt", last="user")
    return turns


def _dialogue(lead: list[dict] | None, value: Any, field: str) -> list[dict]:
    """One answer's whole dialogue, checked and named by its field."""
    if isinstance(value, str):
        if lead is not None:
            return [*lead, {"role": "assistant", "content": value}]
        return transcript(value, field)
    if not isinstance(value, list):
        raise f.RowError(field, f"expected a string or a list of messages, got {f.kind(value)}")
    turns = dialogue.read_turns(value, field) or []
    if lead is not None:
        if not turns:
            raise f.RowError(field, "an empty list of messages; give the assistant's reply")
        for i, turn in enumerate(turns):  # the reply to the prompt: assistant, then alternating, ending with it
            if turn["role"] != ("assistant" if i % 2 == 0 else "user") or i == len(turns) - 1 and i % 2:
                raise f.RowError(field, f"a {turn['role']} turn at {i}; after the prompt come the assistant's reply "
                                        "(and any further user / assistant turns), ending with the assistant's", i)
        return [*lead, *turns]
    dialogue.check_order(turns, field)
    if len(turns) < 2 or turns[-2]["role"] != "user":
        raise f.RowError(field, "has no user turn before the answer; without a prompt, give the whole dialogue")
    return turns


def transcript(text: str, field: str) -> list[dict]:
    """An hh-rlhf transcript -> [{"role", "content"}] ("Human" -> user, "Assistant" -> assistant), checked."""
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    parts = _TURN.split(text)
    if len(parts) == 1 or parts[0]:
        raise f.RowError(field, "not an hh-rlhf transcript (it does not start with '\\n\\nHuman: '); give the "
                                "question as 'prompt' to compare plain-text answers")
    turns = [{"role": _ROLES[speaker], "content": content} for speaker, content in zip(parts[1::2], parts[2::2])]
    for i, turn in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if turn["role"] != expected:
            what = "starts with an Assistant turn" if i == 0 else f"a second {_SPEAKERS[turn['role']]} turn in a row"
            raise f.RowError(field, f"{what}; turns must alternate Human, Assistant, ..., each opened by "
                                    "'\\n\\nHuman: ' or '\\n\\nAssistant: '", i)
        if i < len(turns) - 1 and not turn["content"].strip():
            raise f.RowError(field, f"empty {_SPEAKERS[turn['role']]} turn; only the final answer may be empty", i)
    if turns[-1]["role"] != "assistant":
        last = len(turns) - 1
        raise f.RowError(field, "ends with a Human turn; the transcript ends with the Assistant's answer", last)
    return turns

