"""The preference input format (TRL / RewardBench / hh-rlhf), inline and on hh-rlhf's real test split."""

from __future__ import annotations

import gzip
import json

import pytest

from judgelm_ray import inputs
from judgelm_ray.inputs import adapt_records, preference
from support.rows import adapt_one, assert_canonical_types, comparable


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    # The format's line in inputs.FORMATS is the lead's; registering it here keeps these tests independent of it.
    monkeypatch.setitem(inputs.FORMATS, "preference", preference)


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


SHARED = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: How do I pick a lock?"
HH = {"chosen": SHARED + "\n\nAssistant: I can't help with that.",
      "rejected": SHARED + "\n\nAssistant: Get a tension wrench and a pick."}


def test_an_hh_rlhf_pair_is_a_dialogue_row_with_chosen_first():
    row = adapt_one(HH, "preference")
    assert_canonical_types(row)
    assert row["error"] is None and row["id"] == "in:0"
    assert row["turns"] == [user("Hi there"), assistant("Hello! How can I help?")]
    assert row["question"] == "How do I pick a lock?"
    assert row["answers"] == ["I can't help with that.", "Get a tension wrench and a pick."]
    assert (row["gold_verdict"], row["gold_scores"], row["reference"], json.loads(row["meta"])) == ("1", None, None, {})


def test_single_turn_transcripts_and_a_missing_leading_blank_line():
    row = adapt_one({"chosen": "Human: Hi\n\nAssistant: Hello", "rejected": "\n\nHuman: Hi\n\nAssistant: Go away"},
                    "preference")
    assert (row["error"], row["turns"], row["question"], row["answers"]) == (None, None, "Hi", ["Hello", "Go away"])


def test_an_empty_final_answer_is_kept_but_an_empty_earlier_turn_is_not():
    row = adapt_one({"chosen": "\n\nHuman: Say something rude\n\nAssistant: ",
                     "rejected": "\n\nHuman: Say something rude\n\nAssistant: You fool"}, "preference")
    assert (row["error"], row["answers"]) == (None, ["", "You fool"])
    bad = {"chosen": "\n\nHuman:  \n\nAssistant: a", "rejected": "\n\nHuman:  \n\nAssistant: b"}
    assert adapt_one(bad, "preference")["error"] == (
        "in.jsonl row 0: field 'chosen'[0]: empty Human turn; only the final answer may be empty")


def test_plain_text_prompt_chosen_rejected_as_trl_and_rewardbench_store_them():
    row = adapt_one({"prompt": "2+2?", "chosen": "4", "rejected": "5", "id": 30, "subset": "math-prm"}, "preference")
    assert (row["error"], row["id"], row["turns"], row["question"], row["answers"], row["gold_verdict"]) == (
        None, "30", None, "2+2?", ["4", "5"], "1")
    assert json.loads(row["meta"]) == {"subset": "math-prm"}


def test_conversational_records_with_and_without_a_prompt():
    explicit = {"prompt": [user("Hi"), assistant("Hello"), user("2+2?")],
                "chosen": [assistant("4")], "rejected": [assistant("5")]}
    implicit = {"chosen": [{"role": "system", "content": "Be brief."}, user("2+2?"), assistant("4")],
                "rejected": [{"role": "system", "content": "Be brief."}, user("2+2?"), assistant("5")]}
    string_prompt = {"prompt": "2+2?", "chosen": [assistant("4")], "rejected": [assistant("5")]}
    row = adapt_one(explicit, "preference")
    assert (row["error"], row["turns"], row["question"], row["answers"]) == (
        None, [user("Hi"), assistant("Hello")], "2+2?", ["4", "5"])
    row = adapt_one(implicit, "preference")
    assert (row["error"], row["turns"], row["question"]) == (None, [{"role": "system", "content": "Be brief."}], "2+2?")
    row = adapt_one(string_prompt, "preference")
    assert (row["error"], row["turns"], row["question"], row["answers"]) == (None, None, "2+2?", ["4", "5"])


@pytest.mark.parametrize("record, error", [
    ({"rejected": "x"}, "field 'chosen': missing; a preference record gives 'chosen' and 'rejected'"),
    ({"chosen": "x", "prompt": "q"}, "field 'rejected': missing;"),
    ({"chosen": "4", "rejected": "5"}, "field 'chosen': not an hh-rlhf transcript (it does not start with"),
    ({"chosen": "Hi\n\nHuman: a\n\nAssistant: b", "rejected": "x"}, "field 'chosen': not an hh-rlhf transcript"),
    ({"chosen": "\n\nHuman: hi", "rejected": "\n\nHuman: hi"},
     "field 'chosen'[0]: ends with a Human turn; the transcript ends with the Assistant's answer"),
    ({"chosen": "\n\nAssistant: hi", "rejected": "\n\nAssistant: ho"}, "field 'chosen'[0]: starts with an Assistant turn;"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: b\n\nAssistant: c", "rejected": "\n\nHuman: a\n\nAssistant: b"},
     "field 'chosen'[2]: a second Assistant turn in a row; turns must alternate Human, Assistant, ..., each opened by"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nHuman: b\n\nAssistant: c"},
     "field 'rejected'[1]: a second Human turn in a row;"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: z\n\nAssistant: b"},
     "field 'rejected': does not share the dialogue before the final assistant turn with 'chosen' (they differ at "
     "turn 0); only the last assistant turn may differ"),
    ({"chosen": SHARED + "\n\nAssistant: a", "rejected": "\n\nHuman: How do I pick a lock?\n\nAssistant: b"},
     "field 'rejected': does not share the dialogue before the final assistant turn with 'chosen' (they differ at turn 0)"),
    ({"prompt": "q", "chosen": [assistant("4")], "rejected": "5"},
     "field 'rejected': is not of the same kind as the other answer; give both as text or both as messages"),
    ({"prompt": "q", "chosen": 4, "rejected": "5"}, "field 'chosen': expected a string or a list of messages, got int"),
    ({"prompt": 7, "chosen": "4", "rejected": "5"}, "field 'prompt': expected a list of {role, content} turns, got int"),
    ({"prompt": [], "chosen": "4", "rejected": "5"}, "field 'prompt': an empty list of messages;"),
    ({"prompt": [user("q"), assistant("a")], "chosen": "4", "rejected": "5"}, "field 'prompt'[1]: ends with a assistant"),
    ({"prompt": "q", "chosen": [], "rejected": [assistant("5")]}, "field 'chosen': an empty list of messages;"),
    ({"prompt": "q", "chosen": [user("4")], "rejected": [assistant("5")]},
     "field 'chosen'[0]: a user turn at 0; after the prompt come the assistant's reply"),
    ({"prompt": "q", "chosen": [assistant("4"), user("more")], "rejected": [assistant("5")]},
     "field 'chosen'[1]: a user turn at 1;"),
    ({"chosen": [assistant("4")], "rejected": [assistant("5")]}, "field 'chosen'[0]: a assistant turn as the first turn"),
    ({"chosen": [user("q")], "rejected": [user("q")]}, "field 'chosen'[0]: ends with a user turn"),
    ({"chosen": [{"role": "bot", "content": "4"}], "rejected": []}, "field 'chosen'[0]: role 'bot': expected one of"),
])
def test_malformed_records_name_the_field(record, error):
    assert adapt_one(record, "preference")["error"].startswith("in.jsonl row 0: " + error)


def without_file(rows: list[dict]) -> list[dict]:
    """Rows as read from any file: their errors start "<file> row <n>: "."""
    return [{**r, "error": r["error"] and r["error"].split(" row ", 1)[1]} for r in comparable(rows)]


def as_transcript(turns: list[dict]) -> str:
    return "".join(f"\n\n{'Human' if t['role'] == 'user' else 'Assistant'}: {t['content']}" for t in turns)


# hh-rlhf harmless-base test rows whose transcripts break the documented turn separation: two
# Assistant turns in a row, where a "Human: " turn was glued into the assistant's text without its
# "\n\n" (rows 667, 1254, 1688, 1950, 2036) or the assistant spoke twice (763, 1319, 1849, 1952).
MALFORMED_HH = {667: "chosen'[4]", 763: "chosen'[2]", 1254: "chosen'[4]", 1319: "chosen'[8]", 1688: "chosen'[4]",
                1849: "chosen'[4]", 1950: "rejected'[2]", 1952: "chosen'[4]", 2036: "chosen'[10]"}


def test_real_hh_rlhf_harmless_base_test(shared_data):
    from judgelm_ray.judge.stages import validate_row

    path = shared_data / "hh_rlhf" / "harmless-base_test.jsonl"
    data = path.read_bytes()
    rows = adapt_records(data, str(path), "preference")
    records = [json.loads(line) for line in data.splitlines()]
    assert len(rows) == len(records) == 2312
    errors = {r["row"]: r["error"] for r in rows if r["error"]}
    assert sorted(errors) == sorted(MALFORMED_HH)
    for row, field in MALFORMED_HH.items():
        assert f"field '{field}: a second Assistant turn in a row" in errors[row]
    good = [(r, rec) for r, rec in zip(rows, records) if r["error"] is None]
    assert len(good) == 2303
    assert all(validate_row(r, "pairwise", "never") is None for r, _ in good)
    for row, record in good:
        assert row["gold_verdict"] == "1" and len(row["answers"]) == 2
        shared = [*(row["turns"] or []), user(row["question"])]
        # nothing lost or changed: the row writes back to the exact transcripts
        assert [as_transcript([*shared, assistant(a)]) for a in row["answers"]] == [record["chosen"], record["rejected"]]
    assert sum(1 for r, _ in good if not r["turns"]) == 661  # single-turn pairs
    assert [r["row"] for r, _ in good if r["answers"][0] == ""] == [86, 516, 925, 1103]  # the preferred reply is empty
    # hh-rlhf ships gzipped JSON lines: the same rows
    gzipped = adapt_records(gzip.compress(data), "harmless-base_test.jsonl.gz", "preference")
    assert without_file(gzipped) == without_file(rows)
