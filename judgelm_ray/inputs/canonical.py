"""THE canonical row every input format is adapted to, and the ``canonical`` input format itself.

A canonical row has every column of ``SCHEMA`` (Arrow-friendly types): the record's content
(``KEYS``, the keys ``input.fields`` may map to), its ``meta`` (JSON text of the keys no column
took), where it came from (``source`` file, ``row``), the record's ``raw`` text for quarantine,
and ``error`` when the record cannot be used.

The ``canonical`` format: id, question, answers (list of strings), reference (string),
gold_verdict (1/2/... or 0/"tie" in any case), gold_scores (one number per answer); other keys
go to ``meta``.
"""

from __future__ import annotations

import pyarrow as pa

from judgelm_ray.inputs import fields as f

# The keys a record's content maps to (the targets of `input.fields`).
KEYS = ("id", "question", "answers", "reference", "gold_verdict", "gold_scores")
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("question", pa.string()),
        ("answers", pa.list_(pa.string())),
        ("reference", pa.string()),
        ("gold_verdict", pa.string()),
        ("gold_scores", pa.list_(pa.float64())),
        ("meta", pa.string()),
        ("source", pa.string()),
        ("row", pa.int64()),
        ("raw", pa.string()),
        ("error", pa.string()),
    ]
)
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

ID_KEY = "id"


def adapt(rec: dict) -> tuple[dict, dict]:
    question = f.text(rec, "question")
    if "answers" not in rec:
        raise f.RowError("answers", "missing; give a list of answer strings")
    answers = f.answers(rec["answers"], "answers")
    values = {
        "question": question,
        "answers": answers,
        "reference": f.optional_text(rec.get("reference"), "reference"),
        "gold_verdict": f.verdict(rec.get("gold_verdict"), "gold_verdict", len(answers)),
        "gold_scores": f.scores(rec.get("gold_scores"), "gold_scores", len(answers)),
    }
    return values, f.rest(rec, {"id", *values})


def has_reference(row: dict) -> bool:
    """A row has a reference when it holds non-blank reference text."""
    return isinstance(row.get("reference"), str) and bool(row["reference"].strip())
