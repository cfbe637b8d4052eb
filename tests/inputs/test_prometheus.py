"""The prometheus input format, inline and on prometheus-eval's benchmark records (Vicuna-Bench, MT-Bench)."""

from __future__ import annotations

import json
import statistics

import pytest

from judgelm_ray.families import prometheus as family
from judgelm_ray.inputs import adapt_record, rows_table
from judgelm_ray.inputs import prometheus as fmt
from judgelm_ray.inputs.files import records_with_raw
from support.rows import assert_canonical_types, jsonl

# The one line in which the records' template (Prometheus 1's) differs from Prometheus 2's ABSOLUTE_PROMPT.
V2_LINE = '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] '
V1_LINE = '3. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] '
V1_ABSOLUTE = family.ABSOLUTE_PROMPT.replace(V2_LINE, V1_LINE)
V1_ABSOLUTE_WO_REF = family.ABSOLUTE_PROMPT_WO_REF.replace(V2_LINE, V1_LINE)
SLOTS = {"instruction": "Name a fruit.", "response": " Apple. ", "reference_answer": "Banana.",
         "rubric": "[Is it a fruit?]\nScore 1: no\nScore 2: no\nScore 3: maybe\nScore 4: yes\nScore 5: yes"}
MT_BENCH_TURN_2 = ("Here is a previous dialogue between an assistant and an user. Generate a human preferable "
                   "response by the assistant.\nUser: ")
RECORD = {"idx": 7, "response_source": "vicuna", "category": "generic", "instruction": V1_ABSOLUTE.format(**SLOTS),
          "gpt4_score": [4, 5, 5], "gpt4_feedback": ["ok", "good", "good"]}


def adapt(*records: dict, path: str = "in.jsonl") -> list[dict]:
    """Rows through the real record path (ids, meta, errors), without needing the FORMATS line."""
    data = jsonl(*records) if path.endswith(".jsonl") else json.dumps(list(records)).encode()
    return [adapt_record(item, path, fmt, None, path.split("/")[-1].split(".")[0])
            for item in records_with_raw(data, path)]


def test_the_records_template_is_prometheus_2s_absolute_prompt_but_for_one_line():
    assert V1_ABSOLUTE != family.ABSOLUTE_PROMPT and V1_ABSOLUTE_WO_REF != family.ABSOLUTE_PROMPT_WO_REF
    v1, v2 = V1_ABSOLUTE.splitlines(), family.ABSOLUTE_PROMPT.splitlines()
    assert [(a, b) for a, b in zip(v1, v2) if a != b] == [
        ('3. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] (an '
         'integer number between 1 and 5)"',
         '3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer '
         'number between 1 and 5)"')]


def test_a_record_is_split_into_its_sections_byte_for_byte():
    [row] = adapt(RECORD)
    assert_canonical_types(row)
    assert row["error"] is None and row["id"] == "in:0"
    assert (row["question"], row["answers"], row["reference"]) == ("Name a fruit.", [" Apple. "], "Banana.")
    assert row["rubric"] == SLOTS["rubric"] and row["gold_verdict"] is None
    assert row["gold_scores"] == [pytest.approx(14 / 3)]
    assert json.loads(row["meta"]) == {"idx": 7, "response_source": "vicuna", "category": "generic",
                                       "gpt4_score": [4, 5, 5], "gpt4_feedback": ["ok", "good", "good"],
                                       "template": "prometheus-1"}


@pytest.mark.parametrize("template, name, reference", [
    (V1_ABSOLUTE_WO_REF, "prometheus-1", None),
    (family.ABSOLUTE_PROMPT, "prometheus-2", "Banana."),
    (family.ABSOLUTE_PROMPT_WO_REF, "prometheus-2", None),
])
def test_either_prometheus_template_with_or_without_a_reference(template, name, reference):
    [row] = adapt({**RECORD, "instruction": template.format(**SLOTS), "gpt4_score": 3})
    assert (row["error"], row["reference"], json.loads(row["meta"])["template"]) == (None, reference, name)
    assert (row["question"], row["answers"], row["rubric"], row["gold_scores"]) == (
        "Name a fruit.", [" Apple. "], SLOTS["rubric"], [3.0])
    assert adapt({**RECORD, "gpt4_score": None})[0]["gold_scores"] is None


@pytest.mark.parametrize("change, error", [
    ({"instruction": "Grade this: ..."},
     "field 'instruction': does not open with the task description of a Prometheus 1 or 2 absolute-grading "
     "prompt: 'Grade this: ...'"),
    ({"instruction": family.RELATIVE_PROMPT}, "field 'instruction': does not open with the task description"),
    ({"instruction": V1_ABSOLUTE.format(**SLOTS).removesuffix(" ")},
     "field 'instruction': does not end with '###Feedback:' as a grading prompt does"),
    ({"instruction": V1_ABSOLUTE.format(**SLOTS | {"reference_answer": "B\n\n###Score Rubrics:\nfake"})},
     "field 'instruction': has the section line '###Score Rubrics:' 2 times, not once; cannot tell its "
     "sections apart"),
    ({"instruction": V1_ABSOLUTE_WO_REF.format(**SLOTS | {"rubric": ""}).replace("\n\n###Score Rubrics:\n", "\n")},
     "has the section line '###Score Rubrics:' 0 times"),
    ({"instruction": None}, "field 'instruction': expected a string, got null"),
    ({"gpt4_score": [4, "5"]}, "field 'gpt4_score'[1]: expected a number, got str"),
    ({"gpt4_score": []}, "field 'gpt4_score': is an empty list"),
])
def test_records_that_cannot_be_split_name_the_field(change, error):
    [row] = adapt({**RECORD, **change})
    assert row["error"].startswith("in.jsonl row 0: ") and error in row["error"]


@pytest.mark.parametrize("name", ["vicuna_eval.json", "mt_bench_eval.json"])
def test_real_benchmark_records(shared_data, name):
    path = shared_data / "prometheus_eval" / name
    records = json.loads(path.read_bytes())
    rows = adapt(*records, path=str(path))
    assert len(rows) == len(records) == 320
    assert all(r["error"] is None for r in rows)
    assert rows_table(rows).column("rubric").to_pylist() == [r["rubric"] for r in rows]
    # idx repeats (one record per model answering a question), so the ids are derived and unique
    assert len({r["idx"] for r in records}) == 80 and len({r["id"] for r in rows}) == 320
    for row, record in zip(rows, records):
        # every record's prompt is Prometheus 1's absolute template filled with the fields, byte for byte
        assert V1_ABSOLUTE.format(instruction=row["question"], response=row["answers"][0],
                                  reference_answer=row["reference"], rubric=row["rubric"]) == record["instruction"]
        assert row["gold_scores"] == [statistics.mean(record["gpt4_score"])]
        meta = json.loads(row["meta"])
        assert (meta["gpt4_score"], meta["gpt4_feedback"], meta["template"]) == (
            record["gpt4_score"], record["gpt4_feedback"], "prometheus-1")
        assert row["rubric"].startswith("[") and row["rubric"].count("\nScore ") == 5
        # judged by Prometheus 2: the same prompt but for the output-format line, and no row text that
        # judge.guard would take for a forged section
        assert family.check(row, "single", True) is None
        [system, user] = family.prompt(row, "single", True)
        assert system["content"] == family.ABS_SYSTEM_PROMPT
        assert user["content"] == record["instruction"].replace(V1_LINE, V2_LINE, 1)
        texts = [row["question"], *row["answers"], row["reference"], row["rubric"]]
        assert [d for d in family.DELIMITERS for text in texts if d in text] == []
    if name == "vicuna_eval.json":
        assert len({r["question"] for r in rows}) == 80  # four models' answers to each question
    else:  # MT-bench's second turns, each with its model's own first answer, flattened into the question
        assert all(r["question"].startswith(MT_BENCH_TURN_2) and r["question"].endswith("\n\nAssistant: ")
                   for r in rows)


def test_a_section_line_in_row_text_is_split_by_order_where_that_settles_it():
    # before the reference's section line, a rubric line can only be the response's own text
    response = "A\n\n###Score Rubrics:\nfake"
    [row] = adapt({**RECORD, "instruction": V1_ABSOLUTE.format(**SLOTS | {"response": response})})
    assert (row["error"], row["answers"], row["rubric"]) == (None, [response], SLOTS["rubric"])


def test_the_adapters_task_descriptions_are_the_family_templates_openings():
    # inputs may not import families (the floor plan), so the adapter writes the openings itself
    v2 = {ref: template.split("{instruction}")[0] for ref, template in
          ((True, family.ABSOLUTE_PROMPT), (False, family.ABSOLUTE_PROMPT_WO_REF))}
    assert {(name, ref): opening for opening, name, ref in fmt.OPENINGS} == {
        ("prometheus-2", True): v2[True], ("prometheus-2", False): v2[False],
        ("prometheus-1", True): v2[True].replace(V2_LINE, V1_LINE),
        ("prometheus-1", False): v2[False].replace(V2_LINE, V1_LINE)}
