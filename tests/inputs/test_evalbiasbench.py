"""The evalbiasbench input format: flattening biasbench.json, records inline, and the real benchmark."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from judgelm_ray import inputs
from judgelm_ray.inputs import adapt_records, evalbiasbench
from support.rows import adapt_one, assert_canonical_types, jsonl


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    # The format's line in inputs.FORMATS is the lead's; registering it here keeps these tests independent of it.
    monkeypatch.setitem(inputs.FORMATS, "evalbiasbench", evalbiasbench)


PAIR = {"instruction": "Name a primary colour.", "response1": "Red.", "response2": "Red, which is a colour that...",
        "label": 1, "bias": "length bias"}


def test_flatten_gives_one_record_per_pair_with_its_category_and_a_derived_id():
    data = {"length bias": [PAIR, {**PAIR, "instruction": "Again."}], "concreteness": [{**PAIR, "id": "own"}, 7]}
    assert evalbiasbench.flatten(data) == [
        {"id": "length bias:0", "category": "length bias", **PAIR},
        {"id": "length bias:1", "category": "length bias", **PAIR, "instruction": "Again."},
        {"id": "own", "category": "concreteness", **PAIR},  # an item's own id wins
        7,  # not an object: left for the reader to quarantine as a row of its own
    ]
    with pytest.raises(ValueError, match="expected a JSON object of bias category -> list of pairs, got list"):
        evalbiasbench.flatten([PAIR])
    with pytest.raises(ValueError, match="category 'length bias': expected a list of pairs, got dict"):
        evalbiasbench.flatten({"length bias": PAIR})


def test_a_flattened_record():
    row = adapt_one({"id": "length bias:0", "category": "length bias", **PAIR}, "evalbiasbench")
    assert_canonical_types(row)
    assert (row["error"], row["id"], row["question"], row["answers"], row["reference"], row["gold_verdict"]) == (
        None, "length bias:0", "Name a primary colour.", ["Red.", "Red, which is a colour that..."], None, "1")
    assert json.loads(row["meta"]) == {"category": "length bias", "bias": "length bias"}
    assert adapt_one({**PAIR, "label": None}, "evalbiasbench")["gold_verdict"] is None


@pytest.mark.parametrize("change, error", [
    ({"instruction": None}, "field 'instruction': expected a string, got null"),
    ({"response2": ["x"]}, "field 'response2': expected a string, got list"),
    ({"label": 3}, "field 'label': expected the number of the better answer (1..2), 0 or 'tie', got 3"),
])
def test_broken_records_name_the_field(change, error):
    assert adapt_one({**PAIR, **change}, "evalbiasbench")["error"] == f"in.jsonl row 0: {error}"
    missing = {k: v for k, v in PAIR.items() if k != "response1"}
    assert adapt_one(missing, "evalbiasbench")["error"] == "in.jsonl row 0: field 'response1': missing"


def test_real_evalbiasbench(shared_data):
    from judgelm_ray.judge.stages import validate_row

    data = json.loads((shared_data / "offsetbias_evalbiasbench" / "biasbench.json").read_bytes())
    records = evalbiasbench.flatten(data)
    # biasbench.json is one object, which the reader does not take as records: as JSON lines
    rows = adapt_records(jsonl(*records), "biasbench.jsonl", "evalbiasbench")
    assert len(rows) == 80 and [r["error"] for r in rows if r["error"]] == []
    assert all(validate_row(r, "pairwise", "never") is None for r in rows)
    assert {r["gold_verdict"] for r in rows} == {"1"}
    assert len({r["id"] for r in rows}) == 80 and rows[0]["id"] == "length bias:0"
    categories = Counter(json.loads(r["meta"])["category"] for r in rows)
    assert categories == {"length bias": 17, "concreteness": 14, "empty reference": 13, "content_continuation": 12,
                          "nested_instruction": 12, "familiar knowledge preference bias": 12}
    assert all(json.loads(r["meta"])["bias"] == json.loads(r["meta"])["category"] for r in rows)
    first = data["length bias"][0]
    assert (rows[0]["question"], rows[0]["answers"]) == (first["instruction"], [first["response1"], first["response2"]])
