"""The llmbar input format, inline and on all 13 real LLMBar datasets."""

from __future__ import annotations

import json

from judgelm_ray.inputs import adapt_records
from judgelm_ray.judge.stages import validate_row
from support.rows import adapt_one, assert_canonical_types


def test_llmbar_record():
    row = adapt_one({"input": "Say hi", "output_1": "hi", "output_2": "bye", "label": 1}, "llmbar")
    assert_canonical_types(row)
    assert (row["error"], row["id"], row["question"], row["answers"], row["gold_verdict"]) == (
        None, "in:0", "Say hi", ["hi", "bye"], "1")
    assert adapt_one({"input": "x", "output_1": "a", "output_2": 2, "label": 1}, "llmbar")["error"] == (
        "in.jsonl row 0: field 'output_2': expected a string, got int")


def test_real_llmbar_datasets(shared_data):
    files = sorted((shared_data / "llmbar").rglob("dataset.json"))
    assert len(files) == 13
    counts = {}
    for path in files:
        rows = adapt_records(path.read_bytes(), str(path), "llmbar", id_prefix=str(path.parent.relative_to(shared_data)))
        assert len(rows) == len(json.loads(path.read_bytes())), path
        assert [r["error"] for r in rows if r["error"]] == [], path
        assert all(validate_row(r, "pairwise", "auto") is None for r in rows), path
        assert {r["gold_verdict"] for r in rows} <= {"1", "2"}
        assert len({r["id"] for r in rows}) == len(rows)
        counts[path.parent.name] = len(rows)
    assert counts["Natural"] == 100 and counts["Neighbor"] == 134 and counts["GPTInst"] == 92
    assert counts["GPTOut"] == 47 and counts["Manual"] == 46
    assert sum(counts.values()) == 1200
