"""Tests for judgelm_ray.records: reading, adapters, field mapping, mode checks, real data."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgelm_ray.records import (
    CANONICAL_COLUMNS,
    FORMATS,
    RAW_LIMIT,
    adapt_records,
    duplicate_reason,
    read_records,
    validate_row,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data next to the repo)")
    return SHARED_DATA


def jsonl(*records: object) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


def adapt_one(record: dict, fmt: str = "canonical", **kwargs) -> dict:
    [row] = adapt_records(jsonl(record), "in.jsonl", fmt, **kwargs)
    return row


def assert_canonical_types(row: dict) -> None:
    assert tuple(row) == CANONICAL_COLUMNS
    assert isinstance(row["id"], str) and isinstance(row["source"], str)
    assert isinstance(row["row"], int) and isinstance(row["raw"], str)
    assert isinstance(json.loads(row["meta"]), dict)
    assert row["answers"] is None or all(isinstance(a, str) for a in row["answers"])
    assert row["gold_scores"] is None or all(isinstance(s, float) for s in row["gold_scores"])


PAIR = {"question": "2+2?", "answers": ["4", "5"]}


# ---------------------------------------------------------------- canonical

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
    ("1 2", "field 'gold_scores': expected a list of numbers, got str"),
    ([1, 2, 3], "field 'gold_scores': has 3 scores for 2 answers"),
])
def test_canonical_bad_gold_scores(scores, message):
    assert message in adapt_one({**PAIR, "gold_scores": scores})["error"]


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


# ---------------------------------------------------------------- file kinds

# Same keys on every record: Parquet stores every column on every row.
RECORDS = [
    {"id": "a", "question": "q1", "answers": ["x", "y"], "gold_verdict": "1", "gold_scores": None, "note": "n"},
    {"id": None, "question": "q2", "answers": ["x", "y"], "gold_verdict": None, "gold_scores": [1.0, 2.0], "note": None},
]


def _comparable(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in CANONICAL_COLUMNS if k not in ("source", "raw")} for r in rows]


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
    expected = _comparable(results["data.jsonl"])
    assert [r["id"] for r in expected] == ["a", "data:1"]
    assert all(r["error"] is None for r in expected)
    assert json.loads(expected[1]["meta"]) == {"note": None}
    for name, rows in results.items():
        assert _comparable(rows) == expected, name
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


# ---------------------------------------------------------------- field mapping and ids

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


def test_duplicate_reason_names_both_rows():
    row = adapt_records(jsonl(PAIR, {**PAIR, "id": "x"}), "b.jsonl", "canonical")[1]
    assert duplicate_reason(row, "a.jsonl", 3) == (
        "b.jsonl row 1: field 'id': duplicate id 'x', first used by a.jsonl row 3; give every record a unique id")


# ---------------------------------------------------------------- judgelm

JUDGELM = {
    "review_id": "r1", "question_id": 12, "answer1_model_id": "m1", "answer2_model_id": "m2",
    "question_body": "What is 2+2?", "answer1_body": "4", "answer2_body": "five",
    "reference": {"text": "4"}, "score": [9, 3], "text": "9 3\nAssistant 1 is right.",
    "score_w_reference": [10.0, 10.0], "text_w_reference": "10 10\n...",
}


def test_judgelm_record():
    row = adapt_one(JUDGELM, "judgelm")
    assert_canonical_types(row)
    assert row["error"] is None
    assert (row["id"], row["question"], row["answers"], row["reference"]) == ("12", "What is 2+2?", ["4", "five"], "4")
    assert (row["gold_scores"], row["gold_verdict"]) == ([9.0, 3.0], "1")
    meta = json.loads(row["meta"])
    assert meta == {
        "review_id": "r1", "answer1_model_id": "m1", "answer2_model_id": "m2",
        "text": "9 3\nAssistant 1 is right.", "score_w_reference": [10.0, 10.0], "text_w_reference": "10 10\n...",
        "gold_scores_w_reference": [10.0, 10.0], "gold_verdict_w_reference": "tie",
    }


def test_judgelm_string_reference_no_reference_and_tie():
    row = adapt_one({**JUDGELM, "reference": "four", "score": [5, 5]}, "judgelm")
    assert (row["reference"], row["gold_verdict"]) == ("four", "tie")
    row = adapt_one({k: v for k, v in JUDGELM.items() if k not in ("reference", "score")}, "judgelm")
    assert row["error"] is None and (row["reference"], row["gold_scores"], row["gold_verdict"]) == (None, None, None)


def test_judgelm_unparseable_teacher_score_is_no_gold_not_an_error():
    row = adapt_one({**JUDGELM, "score": [-1, -1]}, "judgelm")
    assert row["error"] is None
    assert (row["gold_scores"], row["gold_verdict"]) == (None, None)
    assert json.loads(row["meta"])["score"] == [-1, -1]


def test_judgelm_multi_answers_and_numbering_gaps():
    row = adapt_one({**JUDGELM, "answer3_body": "4!", "score": [8, 2, 9], "score_w_reference": None}, "judgelm")
    assert (row["error"], row["answers"], row["gold_verdict"]) == (None, ["4", "five", "4!"], "3")
    row = adapt_one({k: v for k, v in JUDGELM.items() if k != "answer2_body"} | {"answer3_body": "x"}, "judgelm")
    assert row["error"] == "in.jsonl row 0: field 'answer2_body': missing while 'answer3_body' is present; number answers 1, 2, 3, ..."


@pytest.mark.parametrize("change, message", [
    ({"question_body": None}, "field 'question_body': expected a string, got null"),
    ({"answer2_body": 5}, "field 'answer2_body': expected a string, got int"),
    ({"reference": {"text": 3}}, "field 'reference': expected a string or {\"text\": string} or null, got int"),
    ({"score": "9 3"}, "field 'score': expected a list of numbers, got str"),
])
def test_judgelm_bad_fields(change, message):
    assert adapt_one({**JUDGELM, **change}, "judgelm")["error"] == f"in.jsonl row 0: {message}"


def test_judgelm_missing_answers():
    row = adapt_one({"question_body": "q"}, "judgelm")
    assert row["error"] == "in.jsonl row 0: field 'answer1_body': missing"


# ---------------------------------------------------------------- pandalm and llmbar inline

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


def test_llmbar_record():
    row = adapt_one({"input": "Say hi", "output_1": "hi", "output_2": "bye", "label": 1}, "llmbar")
    assert_canonical_types(row)
    assert (row["error"], row["id"], row["question"], row["answers"], row["gold_verdict"]) == (
        None, "in:0", "Say hi", ["hi", "bye"], "1")
    assert adapt_one({"input": "x", "output_1": "a", "output_2": 2, "label": 1}, "llmbar")["error"] == (
        "in.jsonl row 0: field 'output_2': expected a string, got int")


# ---------------------------------------------------------------- validate_row

def _valid(n_answers: int, reference: str | None = None, question: str = "q") -> dict:
    record = {"question": question, "answers": [f"a{i}" for i in range(n_answers)], "reference": reference}
    return adapt_one(record)


@pytest.mark.parametrize("mode, n, ok", [
    ("pairwise", 2, True), ("pairwise", 1, False), ("pairwise", 3, False),
    ("multi", 1, False), ("multi", 2, True), ("multi", 19, True), ("multi", 20, False),
    ("single", 1, True), ("single", 2, False), ("single", 0, False),
])
def test_validate_answer_count_per_mode(mode, n, ok):
    reason = validate_row(_valid(n, reference="ref"), mode, "auto")
    assert (reason is None) == ok
    if not ok:
        assert reason.startswith(f"in.jsonl row 0: field 'answers': {mode} mode needs ")
        assert reason.split("got ")[1].startswith(str(n))


def test_validate_reference_rules():
    assert validate_row(_valid(2), "pairwise", "auto") is None
    assert validate_row(_valid(2), "pairwise", "never") is None
    assert validate_row(_valid(2), "pairwise", "always").startswith(
        "in.jsonl row 0: field 'reference': missing; reference_policy 'always'")
    assert validate_row(_valid(2, reference=" "), "pairwise", "always") is not None
    assert validate_row(_valid(2, reference="r"), "pairwise", "always") is None
    assert validate_row(_valid(1), "single", "never").startswith("in.jsonl row 0: field 'reference': missing; single mode")
    assert validate_row(_valid(1, reference="r"), "single", "never") is None


def test_validate_question_error_rows_and_config():
    assert validate_row(_valid(2, question=" \n"), "pairwise", "auto") == "in.jsonl row 0: field 'question': empty; give the question text"
    broken = adapt_one({"answers": ["a", "b"]})
    assert validate_row(broken, "pairwise", "auto") == broken["error"]
    with pytest.raises(ValueError, match="mode"):
        validate_row(_valid(2), "triple", "auto")
    with pytest.raises(ValueError, match="reference_policy"):
        validate_row(_valid(2), "pairwise", "sometimes")


# ---------------------------------------------------------------- real data

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
    assert _comparable(from_jsonl) == _comparable(rows)
    pq.write_table(pa.Table.from_pylist(records[:150]), tmp_path / "testset.parquet")
    from_parquet = adapt_records((tmp_path / "testset.parquet").read_bytes(), "testset.parquet", "pandalm")
    assert _comparable(from_parquet) == _comparable(rows[:150])


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


def test_formats_listed():
    assert FORMATS == ("canonical", "judgelm", "pandalm", "llmbar")
