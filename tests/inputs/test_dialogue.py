"""Dialogue rows: turns read and checked with the field named, per-answer dialogues split, text rendering."""

from __future__ import annotations

import pytest

from judgelm_ray.inputs import adapt_records, dialogue
from judgelm_ray.inputs.fields import RowError


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def rows(*records):
    import json

    return adapt_records("\n".join(json.dumps(r) for r in records).encode(), "d.jsonl", "canonical")


def test_a_dialogue_row_keeps_the_shared_turns_and_the_final_question():
    [row] = rows({"turns": [user("Hi"), assistant("Hello!"), user("What is 2+2?")], "answers": ["4", "5"]})
    assert row["error"] is None
    assert row["turns"] == [user("Hi"), assistant("Hello!")] and row["question"] == "What is 2+2?"
    [same] = rows({"turns": [user("Hi"), assistant("Hello!")], "question": "What is 2+2?", "answers": ["4", "5"]})
    assert (same["turns"], same["question"]) == (row["turns"], row["question"])


def test_whole_per_answer_dialogues_are_split_at_the_final_assistant_turn():
    shared = [{"role": "system", "content": "Be kind."}, user("Hi"), assistant("Hello!"), user("Help me")]
    [row] = rows({"answers": [shared + [assistant("Sure")], shared + [assistant("No")]]})
    assert row["error"] is None
    assert row["turns"] == shared[:-1] and row["question"] == "Help me" and row["answers"] == ["Sure", "No"]


@pytest.mark.parametrize(("record", "expected"), [
    ({"turns": [user("a"), user("b")], "question": "q", "answers": ["x", "y"]},
     "field 'turns'[1]: a user turn after a user turn; roles must alternate"),
    ({"turns": [assistant("a")], "question": "q", "answers": ["x", "y"]},
     "field 'turns'[0]: a assistant turn as the first turn"),
    ({"turns": [user("a"), assistant(" ")], "question": "q", "answers": ["x", "y"]},
     "field 'turns'[1]: empty assistant turn"),
    ({"turns": [{"role": "bot", "content": "a"}], "question": "q", "answers": ["x", "y"]},
     "field 'turns'[0]: role 'bot'"),
    ({"turns": [user("a")], "question": "q", "answers": ["x", "y"]},
     "field 'turns'[0]: ends with a user turn"),
    ({"answers": [[user("a"), assistant("x")], [user("b"), assistant("y")]]},
     "field 'answers'[1]: does not share the dialogue before the final assistant turn"),
    ({"answers": [[user("a"), assistant("x")], [user("a")]]},
     "field 'answers'[1]: must end with a user turn and the assistant's answer"),
    ({"turns": [user("a"), assistant("b")], "question": "q", "answers": ["x", "y"], "answer_turns": [[user("c")]]},
     "field 'answer_turns': has 1 lists for 2 answers"),
    ({"question": "q", "answers": ["x", "y"], "answer_turns": [[assistant("c")], [assistant("d")]]},
     "field 'answer_turns[0]': continues a dialogue, but the row has no turns"),
])
def test_malformed_dialogues_are_quarantined_naming_the_field(record, expected):
    [row] = rows(record)
    assert row["error"].startswith("d.jsonl row 0: ") and expected in row["error"], row["error"]


def test_per_answer_turns_continue_the_shared_ones():
    # MT-bench's turn 2: each model answered turn 1 itself.
    [row] = rows({"turns": [user("q1")], "question": "q2", "answers": ["a2", "b2"],
                  "answer_turns": [[assistant("a1")], [assistant("b1")]]})
    assert row["error"] is None and row["answer_turns"] == [[assistant("a1")], [assistant("b1")]]


def test_split_dialogues_names_the_turn_where_they_part():
    with pytest.raises(RowError, match=r"differ at turn 0"):
        dialogue.split_dialogues([[user("a"), assistant("x")], [user("b"), assistant("y")]])


def test_as_text_writes_fastchat_style_blocks():
    text = dialogue.as_text([{"role": "system", "content": "S"}, user("Hi"), assistant("Hello")])
    assert text == "### System:\nS\n\n### User:\nHi\n\n### Assistant:\nHello"


def test_a_lone_surrogate_in_a_turn_quarantines_only_its_row():
    from judgelm_ray.inputs import rows_table

    good = '{"question": "q", "answers": ["a", "b"]}'
    bad = '{"turns": [{"role": "user", "content": "x\\ud800"}, {"role": "assistant", "content": "y"}], "question": "q", "answers": ["a", "b"]}'
    table = rows_table(adapt_records(f"{good}\n{bad}\n".encode(), "d.jsonl", "canonical"))
    errors = table.column("error").to_pylist()
    assert errors[0] is None and "field 'turns': text with a lone surrogate" in errors[1]
