"""The pandalm input format, inline and on PandaLM's real test set."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgelm_ray.inputs import adapt_records
from judgelm_ray.judge.stages import validate_row
from support.rows import adapt_one, assert_canonical_types, comparable, jsonl

PANDALM = {"idx": 5, "motivation_app": "Grammarly", "cmp_key": "a_b", "instruction": "Fix it.", "input": "teh cat",
           "response1": "the cat", "response2": "teh cat", "annotator1": 1, "annotator2": 1, "annotator3": 0}


def test_pandalm_record():
    row = adapt_one(PANDALM, "pandalm")
    assert_canonical_types(row)
    assert (row["error"], row["id"], row["question"]) == (None, "5", "Fix it.\n\nteh cat")
    assert (row["answers"], row["reference"], row["gold_verdict"]) == (["the cat", "teh cat"], None, "1")
    assert json.loads(row["meta"]) == {"motivation_app": "Grammarly", "cmp_key": "a_b",
                                       "annotator1": 1, "annotator2": 1, "annotator3": 0}


@pytest.mark.parametrize("labels, gold", [((0, 0, 2), "tie"), ((2, 1, 2), "2"), ((0, 1, 2), None), ((None, None, None), None)])
def test_pandalm_majority(labels, gold):
    record = PANDALM | dict(zip(("annotator1", "annotator2", "annotator3"), labels))
    assert adapt_one(record, "pandalm")["gold_verdict"] == gold


def test_pandalm_scalar_response_becomes_text_and_is_recorded():
    row = adapt_one({**PANDALM, "response1": True}, "pandalm")
    assert (row["error"], row["answers"]) == (None, ["True", "teh cat"])
    assert json.loads(row["meta"])["coerced_to_text"] == ["response1"]
    assert adapt_one({**PANDALM, "response2": ["x"]}, "pandalm")["error"] == (
        "in.jsonl row 0: field 'response2': expected a string, got list")


def test_pandalm_blank_input_and_bad_annotator():
    assert adapt_one({**PANDALM, "input": "  "}, "pandalm")["question"] == "Fix it."
    assert adapt_one({**PANDALM, "annotator2": 3}, "pandalm")["error"].startswith("in.jsonl row 0: field 'annotator2': expected")


def test_real_pandalm_testset(shared_data, tmp_path):
    path = shared_data / "pandalm" / "testset-v1.json"
    data = path.read_bytes()
    rows = adapt_records(data, str(path), "pandalm")
    records = json.loads(data)
    assert len(rows) == len(records) == 999
    assert all(r["error"] is None for r in rows)
    assert all(validate_row(r, "pairwise", "auto") is None for r in rows)
    assert len({r["id"] for r in rows}) == 999
    coerced = {r["id"] for r in rows if "coerced_to_text" in json.loads(r["meta"])}
    assert coerced == {"157", "158", "159", "161", "162", "164"}  # answers stored as JSON true
    for row, record in zip(rows, records):
        labels = Counter(record[f"annotator{i}"] for i in (1, 2, 3))
        label, count = labels.most_common(1)[0]
        assert row["gold_verdict"] == {0: "tie", 1: "1", 2: "2"}[label] and count >= 2
        joined = f"{record['instruction']}\n\n{record['input']}"
        assert row["question"] == (joined if record["input"].strip() else record["instruction"])
    assert Counter(r["gold_verdict"] for r in rows) == {"2": 472, "1": 422, "tie": 105}
    by_id = {r["id"]: r for r in rows}
    # known splits: idx 0 (2,2,2), 87 (1,0,1), 208 (2,0,0), 222 (2,1,2), 581 (0,2,0)
    assert [by_id[i]["gold_verdict"] for i in ("0", "87", "208", "222", "581")] == ["2", "1", "tie", "2", "tie"]
    meta = json.loads(by_id["0"]["meta"])
    assert meta == {"motivation_app": "Grammarly", "cmp_key": "bloom-7b_llama-7b",
                    "annotator1": 2, "annotator2": 2, "annotator3": 2}
    # the same data as gzipped JSON lines, and as Parquet (first 150 items: Arrow cannot mix
    # the bool answers of items 157.. into a string column), gives the same rows
    from_jsonl = adapt_records(gzip.compress(jsonl(*records)), "testset.jsonl.gz", "pandalm")
    assert comparable(from_jsonl) == comparable(rows)
    pq.write_table(pa.Table.from_pylist(records[:150]), tmp_path / "testset.parquet")
    from_parquet = adapt_records((tmp_path / "testset.parquet").read_bytes(), "testset.parquet", "pandalm")
    assert comparable(from_parquet) == comparable(rows[:150])
