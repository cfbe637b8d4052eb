"""The canonical input format: the row every format becomes, and a bad record as a row error."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgelm_ray.inputs import adapt_records
from support.rows import PAIR, adapt_one, assert_canonical_types


def test_canonical_row_has_every_column_and_keeps_unknown_keys_in_meta():
    row = adapt_one({**PAIR, "id": 7, "reference": "4", "gold_verdict": 1, "gold_scores": [9, 2.5],
                     "category": "math", "extra": {"k": ["ü"]}})
    assert_canonical_types(row)
    assert row["error"] is None
    assert (row["id"], row["question"], row["answers"], row["reference"]) == ("7", "2+2?", ["4", "5"], "4")
    assert (row["gold_verdict"], row["gold_scores"]) == ("1", [9.0, 2.5])
    assert row["meta"] == '{"category": "math", "extra": {"k": ["ü"]}}'
    assert (row["source"], row["row"]) == ("in.jsonl", 0)
    assert json.loads(row["raw"])["category"] == "math"


@pytest.mark.parametrize("given, expected", [
    (1, "1"), (2, "2"), ("2", "2"), (" 1 ", "1"), (0, "tie"), ("0", "tie"),
    ("tie", "tie"), ("Tie", "tie"), ("TIE", "tie"), (None, None), (2.0, "2"),
])
def test_canonical_gold_verdict_forms(given, expected):
    row = adapt_one({**PAIR, "gold_verdict": given})
    assert row["error"] is None and row["gold_verdict"] == expected


@pytest.mark.parametrize("given", [3, "3", "A", "better", True, 1.5, [1], -1])
def test_canonical_bad_gold_verdict_is_a_row_error(given):
    row = adapt_one({**PAIR, "gold_verdict": given})
    assert row["error"].startswith("in.jsonl row 0: field 'gold_verdict': expected the number of the better answer")


def test_canonical_multi_answer_verdict_up_to_answer_count():
    row = adapt_one({"question": "q", "answers": ["a", "b", "c"], "gold_verdict": 3})
    assert row["error"] is None and row["gold_verdict"] == "3"


@pytest.mark.parametrize("scores, message", [
    ([1, "2"], "field 'gold_scores'[1]: expected a number, got str"),
    ([1, True], "field 'gold_scores'[1]: expected a number, got bool"),
    (["nan", 2], "field 'gold_scores'[0]: expected a number, got str"),
    ("1 2", "field 'gold_scores': expected a list of numbers, got str"),
    ([1, 2, 3], "field 'gold_scores': has 3 scores for 2 answers"),
])
def test_canonical_bad_gold_scores(scores, message):
    assert message in adapt_one({**PAIR, "gold_scores": scores})["error"]


@pytest.mark.parametrize("scores, at, shown", [
    ("[7, NaN]", 1, "nan"), ("[Infinity, 2]", 0, "inf"), ("[1, -Infinity]", 1, "-inf"), ("[1e400, 2]", 0, "inf"),
    ("[1" + "0" * 400 + ", 2]", 0, "1000000000"),  # an integer too long for a float
])
def test_non_finite_gold_scores_quarantine_the_row(scores, at, shown):
    # The literals as a file has them: Python's json parses NaN / Infinity without complaint.
    data = ('{"question": "q", "answers": ["a", "b"], "gold_scores": %s}\n' % scores).encode()
    [row] = adapt_records(data, "gold.jsonl", "canonical")
    assert row["error"].startswith(f"gold.jsonl row 0: field 'gold_scores'[{at}]: expected a finite number, got {shown}")
    assert row["error"].endswith("; give a real score or null") and row["gold_scores"] is None


def test_nan_gold_scores_in_parquet_quarantine_the_row(tmp_path):
    records = [{**PAIR, "gold_scores": [8.0, 2.0]}, {**PAIR, "gold_scores": [float("nan"), 2.0]}]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "gold.parquet")
    good, bad = adapt_records((tmp_path / "gold.parquet").read_bytes(), "gold.parquet", "canonical")
    assert good["error"] is None and good["gold_scores"] == [8.0, 2.0]
    assert bad["error"].startswith("gold.parquet row 1: field 'gold_scores'[0]: expected a finite number, got nan")


# ---------------------------------------------------------------- bad rows

@pytest.mark.parametrize("record, message", [
    ({"answers": ["a", "b"]}, "field 'question': missing"),
    ({"question": None, "answers": ["a", "b"]}, "field 'question': expected a string, got null"),
    ({"question": 5, "answers": ["a", "b"]}, "field 'question': expected a string, got int"),
    ({"question": "q"}, "field 'answers': missing"),
    ({"question": "q", "answers": "a"}, "field 'answers': expected a list of strings, got str"),
    ({"question": "q", "answers": ["a", 2]}, "field 'answers'[1]: expected a string, got int"),
    ({"question": "q", "answers": ["a", None]}, "field 'answers'[1]: expected a string, got null"),
    ({**PAIR, "reference": {"text": "x"}}, "field 'reference': expected a string or null, got dict"),
    ({**PAIR, "id": [1]}, "field 'id': expected a string or integer id, got list"),
])
def test_bad_record_becomes_a_row_error_not_an_exception(record, message):
    row = adapt_one(record)
    assert_canonical_types(row)
    assert row["error"] == f"in.jsonl row 0: {message}" or row["error"].startswith(f"in.jsonl row 0: {message}")
    assert json.loads(row["raw"]) == record  # quarantine keeps the record
