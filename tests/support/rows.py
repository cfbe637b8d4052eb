"""Canonical rows for the input tests: a record as JSON lines, adapted through the real adapters."""

from __future__ import annotations

import json

from judgelm_ray.inputs import adapt_records
from judgelm_ray.inputs.canonical import COLUMNS

PAIR = {"question": "2+2?", "answers": ["4", "5"]}


def jsonl(*records: object) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


def adapt_one(record: dict, fmt: str = "canonical", **kwargs) -> dict:
    [row] = adapt_records(jsonl(record), "in.jsonl", fmt, **kwargs)
    return row


def assert_canonical_types(row: dict) -> None:
    assert tuple(row) == COLUMNS
    assert isinstance(row["id"], str) and isinstance(row["source"], str)
    assert isinstance(row["row"], int) and isinstance(row["raw"], str)
    assert isinstance(json.loads(row["meta"]), dict)
    assert row["answers"] is None or all(isinstance(a, str) for a in row["answers"])
    assert row["gold_scores"] is None or all(isinstance(s, float) for s in row["gold_scores"])


def comparable(rows: list[dict]) -> list[dict]:
    """Rows without where they were read from, to compare the same records read from other files."""
    return [{k: r[k] for k in COLUMNS if k not in ("source", "raw")} for r in rows]
