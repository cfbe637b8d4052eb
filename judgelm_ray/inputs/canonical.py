"""THE canonical row every input format is adapted to, and the ``canonical`` input format itself.

A canonical row has every column of ``SCHEMA`` (Arrow-friendly types): the record's content
(``KEYS``, the keys ``input.fields`` may map to), its ``meta`` (JSON text of the keys no column
took), where it came from (``source`` file, ``row``), the record's ``raw`` text for quarantine,
and ``error`` when the record cannot be used.

The ``canonical`` format: id, question, answers (list of strings), reference (string),
gold_verdict (1/2/... or 0/"tie" in any case), gold_scores (one number per answer); optionally a
dialogue (``turns``, ``answer_turns``, ``reference_turns``: `inputs.dialogue`; ``turns`` may also end
with the final user turn in place of ``question``, and ``answers`` may be whole per-answer dialogues
that share all but their final assistant turn), ``images`` (paths, local or s3://, or
{"path", "bytes"} as Hugging Face datasets writes images) and a grading ``rubric``; other keys go
to ``meta``.
"""

from __future__ import annotations

import pyarrow as pa

from judgelm_ray.inputs import dialogue
from judgelm_ray.inputs import fields as f

# The keys a record's content maps to (the targets of `input.fields`).
KEYS = ("id", "question", "answers", "reference", "gold_verdict", "gold_scores",
        "turns", "answer_turns", "reference_turns", "images", "rubric")
TURNS = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
# One image: where it is (local or s3:// path) or its bytes, as Hugging Face datasets stores images.
IMAGES = pa.list_(pa.struct([("path", pa.string()), ("bytes", pa.binary())]))
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("question", pa.string()),
        ("answers", pa.list_(pa.string())),
        ("reference", pa.string()),
        ("gold_verdict", pa.string()),
        ("gold_scores", pa.list_(pa.float64())),
        ("turns", TURNS),
        ("answer_turns", pa.list_(TURNS)),
        ("reference_turns", TURNS),
        ("images", IMAGES),
        ("rubric", pa.string()),
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
    if "answers" not in rec:
        raise f.RowError("answers", "missing; give a list of answer strings")
    values = _content(rec)
    answers = values["answers"]
    values.update(
        reference=f.optional_text(rec.get("reference"), "reference"),
        gold_verdict=f.verdict(rec.get("gold_verdict"), "gold_verdict", len(answers)),
        gold_scores=f.scores(rec.get("gold_scores"), "gold_scores", len(answers)),
        answer_turns=_answer_turns(rec.get("answer_turns")),
        reference_turns=dialogue.read_turns(rec.get("reference_turns"), "reference_turns"),
        images=f.images(rec.get("images"), "images"),
        rubric=f.optional_text(rec.get("rubric"), "rubric"),
    )
    return values, f.rest(rec, {"id", *values})


def _content(rec: dict) -> dict:
    """question, turns and answers: answers as final turns, or as whole dialogues split here."""
    turns = dialogue.read_turns(rec.get("turns"), "turns")
    raw = rec["answers"]
    if isinstance(raw, list) and raw and all(isinstance(a, list) for a in raw):
        split = dialogue.split_dialogues([dialogue.read_turns(a, f"answers[{i}]") for i, a in enumerate(raw)])
        if turns is not None and turns not in (split["turns"], split["turns"] + [_user(split["question"])]):
            raise f.RowError("turns", "differs from the dialogue the answers share; give one of them, or both alike")
        if "question" in rec and rec["question"] != split["question"]:
            raise f.RowError("question", "differs from the final user turn the answers share")
        return split
    if turns and turns[-1]["role"] == "user" and rec.get("question") is None:
        return {"turns": turns[:-1], "question": turns[-1]["content"], "answers": f.answers(raw, "answers")}
    return {"turns": turns, "question": f.text(rec, "question"), "answers": f.answers(raw, "answers")}


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _answer_turns(value) -> list[list[dict]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise f.RowError("answer_turns", f"expected one list of turns per answer, got {f.kind(value)}")
    return [dialogue.read_turns(turns, f"answer_turns[{i}]") or [] for i, turns in enumerate(value)]


def has_reference(row: dict) -> bool:
    """A row has a reference when it holds non-blank reference text."""
    return isinstance(row.get("reference"), str) and bool(row["reference"].strip())
