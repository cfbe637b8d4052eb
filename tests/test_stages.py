"""The pure pipeline stages on plain pyarrow tables (no Ray)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from judgelm_ray import prompts, stages
from judgelm_ray.spec import spec_from_dict


def judge_spec(model: str, **overrides):
    spec = {"name": "t", "input": {"path": "x.jsonl"}, "judge": {"model": model, **overrides}}
    return spec_from_dict(spec).judge


def canonical_row(**fields) -> dict:
    row = {name: None for name in stages.CANONICAL_SCHEMA.names}
    row.update(id="r0", question="What is 2 + 2?", answers=["4", "5"], meta="{}", source="in.jsonl", row=0, raw="{}")
    row.update(fields)
    return row


def table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def test_id_prefix_is_the_path_under_the_input_root_without_extension():
    assert stages.id_prefix("/data/a/part-1.jsonl.gz", "/data") == "a/part-1"
    assert stages.id_prefix("/data/b/part-1.jsonl", "/data") == "b/part-1"
    assert stages.id_prefix("/data/test.parquet", "/data") == "test"


def test_adapt_files_turns_each_record_into_a_typed_canonical_row(tmp_path):
    lines = [json.dumps({"question": "q?", "answers": ["a", "b"]}), "{broken"]
    batch = pa.table({"bytes": [("\n".join(lines)).encode()], "path": ["/in/rows.jsonl"]})
    out = stages.adapt_files(batch, "canonical", None, "/in")
    assert out.schema == stages.CANONICAL_SCHEMA
    rows = out.to_pylist()
    assert [r["id"] for r in rows] == ["rows:0", "rows:1"]
    assert rows[0]["error"] is None and rows[1]["error"] is not None


def test_prepare_rows_builds_both_prompts_and_counts_tokens(tiny_model):
    judge = judge_spec(tiny_model, swap=True)
    row = canonical_row(reference="4")
    out = stages.prepare_rows(table([row], stages.CANONICAL_SCHEMA), judge, {}).to_pylist()[0]
    assert out["quarantine_reason"] is None and out["use_reference"] is True
    assert out["prompt_forward"] == prompts.build_prompt("What is 2 + 2?", ["4", "5"], "4", "pairwise", True)
    assert out["prompt_swapped"] == prompts.build_prompt("What is 2 + 2?", ["5", "4"], "4", "pairwise", True)
    assert out["prompt_tokens_forward"] > 50 and out["prompt_tokens_swapped"] > 50


@pytest.mark.parametrize(
    ("policy", "reference", "expected"),
    [("auto", "4", True), ("auto", None, False), ("auto", "  ", False), ("never", "4", False), ("always", "4", True)],
)
def test_reference_policy_decides_the_template(tiny_model, policy, reference, expected):
    judge = judge_spec(tiny_model, reference=policy)
    out = stages.prepare_rows(table([canonical_row(reference=reference)], stages.CANONICAL_SCHEMA), judge, {})
    row = out.to_pylist()[0]
    assert row["use_reference"] is expected
    assert ("[Reference Answer]" in row["prompt_forward"]) is expected


def test_prepare_rows_quarantines_adapter_errors_duplicates_and_overlong_prompts(tiny_model):
    judge = judge_spec(tiny_model, max_model_len=300, sampling={"max_tokens": 16})
    rows = [
        canonical_row(id="a", row=0),
        canonical_row(id="a", row=1),
        canonical_row(id="b", row=2, error="in.jsonl row 2: field 'question': missing"),
        canonical_row(id="c", row=3, answers=["x" * 3000, "y"]),
    ]
    out = stages.prepare_rows(table(rows, stages.CANONICAL_SCHEMA), judge, {"a": ("in.jsonl", 0)}).to_pylist()
    reasons = [r["quarantine_reason"] for r in out]
    assert reasons[0] is None
    assert "duplicate" in reasons[1].lower() and "row 0" in reasons[1]
    assert reasons[2] == "in.jsonl row 2: field 'question': missing"
    assert "exceeds the model's context of 300 tokens" in reasons[3] and "in.jsonl row 3" in reasons[3]
    quarantined = stages.quarantine_rows(table(out[1:], stages.PREPARED_SCHEMA)).to_pylist()
    assert [q["reason"] for q in quarantined] == reasons[1:]


def generated_row(forward: str | None, swapped: str | None, answers=("4", "5")) -> dict:
    row = {name: None for name in stages.PREPARED_SCHEMA.names}
    row.update(canonical_row(answers=list(answers)))
    row.pop("error")
    row.update(use_reference=False, judge_text_forward=forward, judge_text_swapped=swapped)
    row.update(completion_tokens_forward=3, completion_tokens_swapped=3 if swapped is not None else None)
    row.update(prompt_tokens_forward=100, prompt_tokens_swapped=100 if swapped is not None else None)
    return row


def generated_table(rows: list[dict]) -> pa.Table:
    schema = stages.PREPARED_SCHEMA
    for name, type_ in stages.GENERATION_FIELDS:
        schema = schema.append(pa.field(name, type_))
    return table(rows, schema)


def test_parse_judgments_maps_the_swapped_order_back_and_merges(tiny_model):
    judge = judge_spec(tiny_model, swap=True)
    rows = [
        generated_row("8 3\nAssistant 1 is right.", "3 8\nAssistant 2 is right."),  # consistent: 1 wins
        generated_row("8 3", "8 3"),  # position bias: the first shown always wins -> tie
        generated_row("eight", "3 8"),  # forward unparseable -> no verdict, never a tie
    ]
    out = stages.parse_judgments(generated_table(rows), judge).to_pylist()
    assert out[0]["verdict"] == "1" and out[0]["consistent"] is True and out[0]["scores"] == [8.0, 3.0]
    assert out[1]["verdict_forward"] == "1" and out[1]["verdict_swapped"] == "2"
    assert out[1]["verdict"] == "tie" and out[1]["consistent"] is False and out[1]["scores"] == [5.5, 5.5]
    assert out[2]["verdict"] is None and out[2]["parse_error"].startswith("forward")
    assert all(o["engine"] == "vllm" and o["model"] == tiny_model for o in out)
    stats = stages.judgment_stats(stages.parse_judgments(generated_table(rows), judge)).to_pylist()[0]
    assert stats == {
        "judged": 3, "parse_failures": 1, "both_orders": 2, "consistent": 1,
        "prompt_tokens": 600, "completion_tokens": 18,
    }


def test_single_mode_reads_the_score_after_the_prefilled_ten(tiny_model):
    judge = judge_spec(tiny_model, mode="single")
    row = generated_row(" 7\nGood enough.", None, answers=("an answer",))
    out = stages.parse_judgments(generated_table([row]), judge).to_pylist()[0]
    assert out["scores"] == [7.0] and out["verdict"] is None and out["parse_error"] is None
