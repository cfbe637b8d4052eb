"""Judgment rows as the judge job writes them (JUDGMENT_SCHEMA), from judge texts parsed and merged
by the real parser, and a run folder built from them: for tests of what reads a run's output."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from judgelm_ray import storage
from judgelm_ray.judge.schemas import JUDGMENT_SCHEMA
from judgelm_ray.verdicts import merge_orders, parse_judgment


def judgment(row_id: str, forward: str, swapped: str | None = "", *, question: str = "Which is better?",
             answers: tuple[str, ...] = ("answer one", "answer two"), reference: str | None = None,
             gold_scores: list[float] | None = None, gold_verdict: str | None = None, template: str | None = None,
             turns: list[dict] | None = None, answer_turns: list[list[dict]] | None = None,
             reference_turns: list[dict] | None = None, rubric: str | None = None) -> dict:
    """One judgment row; `swapped` "" mirrors the forward text (a consistent judge), None: one order only.

    `turns`, `answer_turns`, `reference_turns` (lists of {"role", "content"}) and `rubric` are the
    canonical row's dialogue and rubric; `template` the judge family. None, as in a file written
    before those columns existed."""
    if swapped == "":
        first, _, rest = forward.partition("\n")
        swapped = " ".join(reversed(first.split())) + ("\n" + rest if rest else "")
    merged = merge_orders(parse_judgment(forward, len(answers)),
                          parse_judgment(swapped, len(answers)) if swapped is not None else None)
    return {
        "id": row_id, **merged, "judge_text_forward": forward, "judge_text_swapped": swapped,
        "prompt_tokens_forward": 30, "prompt_tokens_swapped": 30 if swapped is not None else None,
        "completion_tokens_forward": 8, "completion_tokens_swapped": 8 if swapped is not None else None,
        "mode": "pairwise", "used_reference": reference is not None, "model": "tiny", "engine": "vllm",
        "question": question, "answers": list(answers), "reference": reference, "gold_verdict": gold_verdict,
        "gold_scores": gold_scores, "meta": "{}", "source": "in.jsonl", "row": 0, "template": template,
        "turns": turns, "answer_turns": answer_turns, "reference_turns": reference_turns, "rubric": rubric,
    }


def write_run(output: str, files: list[list[dict]], manifest: dict | None = None) -> str:
    """A run folder (local or s3://): judgments/part-<i>.parquet per list of rows, and a manifest."""
    for index, rows in enumerate(files):
        table = pa.Table.from_pylist(rows, schema=JUDGMENT_SCHEMA)
        fs, inner = storage.filesystem_for(storage.join(output, "judgments", f"part-{index:05d}.parquet"))
        fs.create_dir(inner.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(inner) as stream:
            pq.write_table(table, stream)
    judged = sum(len(rows) for rows in files)
    storage.write_json(storage.join(output, "manifest.json"), manifest or {
        "name": "inspect-test", "status": "succeeded", "spec": {"judge": {"model": "tiny", "engine": "vllm"}},
        "started": "2026-01-01T00:00:00+00:00", "ended": "2026-01-01T00:01:00+00:00",
        "counts": {"read": judged, "judged": judged, "quarantined": 0, "reused": 0,
                   "parse_failures": sum(r["parse_error"] is not None for rows in files for r in rows)},
    })
    return output
