"""Reading input files: JSON lines, JSON lists, Parquet and gzip, raw text, row numbers."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgelm_ray.inputs import adapt_records
from judgelm_ray.inputs.files import RAW_LIMIT, read_records
from support.rows import PAIR, adapt_one, assert_canonical_types, comparable, jsonl


def test_invalid_json_line_and_non_object_keep_their_text_and_row_numbers():
    data = b'{"question": "q", "answers": ["a", "b"]}\n\n{not json\n[1, 2]\n   \n"text"\n'
    rows = adapt_records(data, "d/x.jsonl", "canonical")
    assert [r["row"] for r in rows] == [0, 1, 2, 3]  # blank lines are not counted
    assert rows[0]["error"] is None
    assert rows[1]["error"].startswith("d/x.jsonl row 1: invalid JSON: ")
    assert rows[1]["raw"] == "{not json"
    assert rows[2]["error"] == "d/x.jsonl row 2: expected a JSON object, got list"
    assert rows[2]["raw"] == "[1, 2]"
    assert rows[3]["error"] == "d/x.jsonl row 3: expected a JSON object, got str"
    assert [r["id"] for r in rows] == ["x:0", "x:1", "x:2", "x:3"]
    for row in rows:
        assert_canonical_types(row)


def test_read_records_yields_row_record_error():
    got = list(read_records(b'{"a": 1}\n{bad\n7\n', "f.jsonl"))
    assert got[0] == (0, {"a": 1}, None)
    assert got[1][:2] == (1, None) and got[1][2].startswith("invalid JSON: ")
    assert got[2] == (2, None, "expected a JSON object, got int")


def test_raw_is_truncated():
    row = adapt_one({**PAIR, "blob": "x" * (2 * RAW_LIMIT)})
    assert row["error"] is None and len(row["raw"]) == RAW_LIMIT


def test_not_utf8_line_is_a_row_error():
    rows = adapt_records(b'{"question": "\xff"}\n' + jsonl(PAIR), "x.jsonl", "canonical")
    assert rows[0]["error"].startswith("x.jsonl row 0: invalid JSON: not UTF-8 text")
    assert rows[1]["error"] is None


# Same keys on every record: Parquet stores every column on every row.
RECORDS = [
    {"id": "a", "question": "q1", "answers": ["x", "y"], "gold_verdict": "1", "gold_scores": None, "note": "n"},
    {"id": None, "question": "q2", "answers": ["x", "y"], "gold_verdict": None, "gold_scores": [1.0, 2.0], "note": None},
]


def test_json_list_jsonl_parquet_and_gzip_give_the_same_rows(tmp_path):
    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "data.parquet")
    files = {
        "data.json": json.dumps(RECORDS).encode(),
        "data.jsonl": jsonl(*RECORDS),
        "data.jsonl.gz": gzip.compress(jsonl(*RECORDS)),
        "data.json.gz": gzip.compress(json.dumps(RECORDS).encode()),
        "data.parquet": (tmp_path / "data.parquet").read_bytes(),
    }
    results = {name: adapt_records(data, f"/in/{name}", "canonical") for name, data in files.items()}
    expected = comparable(results["data.jsonl"])
    assert [r["id"] for r in expected] == ["a", "data:1"]
    assert all(r["error"] is None for r in expected)
    assert json.loads(expected[1]["meta"]) == {"note": None}
    for name, rows in results.items():
        assert comparable(rows) == expected, name
        assert rows[0]["source"] == f"/in/{name}"


def test_json_file_holding_json_lines_is_read_as_json_lines():
    rows = adapt_records(jsonl(*RECORDS) + b"\n{oops", "x.json", "canonical")
    assert [r["error"] is None for r in rows] == [True, True, False]
    assert rows[2]["error"].startswith("x.json row 2: invalid JSON: ")


@pytest.mark.parametrize("data, path, message", [
    (b'[{"question": "q",', "x.json", "x.json row 0: invalid JSON file: "),
    (b'{"question": "q"}', "x.json", "x.json row 0: invalid JSON file: expected a list of objects, got dict"),
    (b"not gzip", "x.jsonl.gz", "x.jsonl.gz row 0: invalid gzip file: "),
    (b"not parquet", "x.parquet", "x.parquet row 0: invalid Parquet file: "),
    (b"a,b\n1,2\n", "x.csv", "x.csv row 0: unsupported file type"),
])
def test_unreadable_file_is_one_error_row(data, path, message):
    [row] = adapt_records(data, path, "canonical")
    assert row["error"].startswith(message)
    assert_canonical_types(row)


def test_json_list_with_non_object_elements():
    rows = adapt_records(json.dumps([PAIR, ["a"], None]).encode(), "x.json", "canonical")
    assert rows[0]["error"] is None
    assert rows[1]["error"] == "x.json row 1: expected a JSON object, got list"
    assert rows[2]["error"] == "x.json row 2: expected a JSON object, got null"
    assert rows[2]["raw"] == "null"


def test_empty_inputs_give_no_rows():
    assert adapt_records(b"", "x.jsonl", "canonical") == []
    assert adapt_records(b"[]", "x.json", "canonical") == []


def test_values_python_cannot_hold_are_error_rows_naming_row_and_field():
    from judgelm_ray.inputs import rows_table

    good = jsonl(PAIR)
    data = b"".join([
        b"[" * 100_000 + b"\n",  # nested past Python's recursion limit
        b'{"id": ' + b"7" * 5000 + b', "question": "q", "answers": ["a", "b"]}\n',  # past the int-string limit
        b'{"id": "\\ud800", "question": "q", "answers": ["a", "b"]}\n',  # a lone surrogate in the id
        b'{"question": "q \\udc00", "answers": ["a", "b"]}\n',  # and in the text
        good,
    ])
    rows = rows_table(adapt_records(data, "in.jsonl", "canonical")).to_pylist()
    assert [r["id"] for r in rows] == ["in:0", "in:1", "in:2", "in:3", "in:4"]
    errors = [r["error"] for r in rows]
    assert errors[0] == "in.jsonl row 0: invalid JSON: nested too deeply to read (over ~1000 levels)"
    assert errors[1].startswith("in.jsonl row 1: invalid JSON: Exceeds the limit (4300 digits)")
    assert errors[2].startswith("in.jsonl row 2: field 'id': text with a lone surrogate")
    assert errors[3].startswith("in.jsonl row 3: field 'question': text with a lone surrogate")
    assert errors[4] is None and rows[4]["question"] == PAIR["question"]
    assert "\\udc00" in rows[3]["raw"]  # the record as it was, kept for the quarantine
