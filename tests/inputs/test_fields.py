"""The input.fields mapping, derived ids and configuration errors of reading."""

from __future__ import annotations

import gzip
import json

import pytest

from judgelm_ray.inputs import adapt_records
from support.rows import PAIR, adapt_one, jsonl


def test_field_mapping_renames_and_gathers_columns():
    record = {"uid": 42, "prompt": "q", "resp_a": "a", "resp_b": "b", "question": "short q", "tag": "t"}
    row = adapt_one(record, fields={"question": "prompt", "answers": ["resp_a", "resp_b"], "id": "uid"})
    assert row["error"] is None
    assert (row["id"], row["question"], row["answers"]) == ("42", "q", ["a", "b"])
    # the file's own "question" was not chosen: kept in meta, not lost
    assert json.loads(row["meta"]) == {"question_unmapped": "short q", "tag": "t"}


def test_field_mapping_missing_source_key_names_it():
    row = adapt_one({"prompt": "q", "resp_a": "a"}, fields={"question": "prompt", "answers": ["resp_a", "resp_b"]})
    assert row["error"] == "in.jsonl row 0: field 'answers': source key 'resp_b' is missing; fix the file or the field mapping"


def test_field_mapping_gathered_non_string_names_the_index():
    row = adapt_one({"prompt": "q", "resp_a": "a", "resp_b": 3}, fields={"question": "prompt", "answers": ["resp_a", "resp_b"]})
    assert row["error"] == "in.jsonl row 0: field 'answers'[1]: expected a string, got int"


def test_field_mapping_works_for_other_formats():
    row = adapt_one({"prompt": "q", "a": "x", "b": "y", "label": 2}, "llmbar",
                    fields={"input": "prompt", "output_1": "a", "output_2": "b"})
    assert (row["error"], row["question"], row["answers"], row["gold_verdict"]) == (None, "q", ["x", "y"], "2")


@pytest.mark.parametrize("fields", [{"answers": []}, {"answers": [1]}, {"question": 3}])
def test_malformed_field_mapping_is_a_config_error(fields):
    with pytest.raises(ValueError, match="fields"):
        adapt_records(jsonl(PAIR), "x.jsonl", "canonical", fields=fields)


def test_unknown_format_is_a_config_error():
    with pytest.raises(ValueError, match="unknown format"):
        adapt_records(jsonl(PAIR), "x.jsonl", "csv")


def test_derived_ids_are_deterministic_unique_and_prefixed():
    data = jsonl(*[PAIR] * 5, {**PAIR, "id": ""}, {**PAIR, "id": None})
    first = adapt_records(data, "s3://bucket/dir/my.set.jsonl", "canonical")
    again = adapt_records(data, "s3://bucket/dir/my.set.jsonl", "canonical")
    assert first == again
    ids = [r["id"] for r in first]
    assert ids == [f"my.set:{i}" for i in range(7)]
    gz = adapt_records(gzip.compress(data), "dir/my.set.jsonl.gz", "canonical", id_prefix="run1/a")
    assert [r["id"] for r in gz] == [f"run1/a:{i}" for i in range(7)]
