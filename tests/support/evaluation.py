"""Helpers for the evaluation tests: the keys every metrics.json has, a JSON lines writer."""

from __future__ import annotations

import json
from pathlib import Path

METRIC_KEYS = {"n", "agreement", "precision", "recall", "f1", "agreement_swapped", "agreement_both", "consistency",
               "prefer_first", "prefer_second", "delta_bias", "total_bias", "parse_failures", "confusion",
               "per_class", "ci", "groups"}


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)
