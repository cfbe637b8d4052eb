"""The ``pandalm`` input format: PandaLM's human-annotated ``testset-v1.json``.

idx -> id; question = instruction, plus "\\n\\n" + input when input is not blank: PandaLM's
prompt shows instruction and input as separate sections, and joining them with a blank line
keeps both visible to a JudgeLM judge, whose prompt has a single question slot.
answers = [response1, response2]; gold_verdict = the strict majority of annotator1..N
(1 -> "1", 2 -> "2", 0 -> "tie"; none -> None); the annotators, cmp_key and motivation_app stay
in meta. testset-v1 has 6 items whose answer "True" was stored as JSON true: a bool/number
response is turned into text the way PandaLM's own prompt formatting shows it
(str(True) == "True"), named in meta["coerced_to_text"], rather than quarantining annotated items.
"""

from __future__ import annotations

import re
from collections import Counter

from judgelm_ray.inputs import fields as f

ID_KEY = "idx"
_ANNOTATOR = re.compile(r"annotator\d+")


def adapt(rec: dict) -> tuple[dict, dict]:
    question = f.text(rec, "instruction")
    extra = f.optional_text(rec.get("input"), "input") or ""
    if extra.strip():
        question = f"{question}\n\n{extra}"
    coerced: list[str] = []
    answers = [_response(rec, key, coerced) for key in ("response1", "response2")]
    labels = [f.verdict(rec[k], k, 2) for k in sorted(rec) if _ANNOTATOR.fullmatch(k)]
    votes = Counter(label for label in labels if label is not None)
    gold = None
    if votes:
        label, count = votes.most_common(1)[0]
        gold = label if 2 * count > sum(votes.values()) else None
    values = {"question": question, "answers": answers, "reference": None,
              "gold_verdict": gold, "gold_scores": None}
    meta = f.rest(rec, {"idx", "instruction", "input", "response1", "response2"})
    if coerced:
        meta["coerced_to_text"] = coerced
    return values, meta


def _response(rec: dict, key: str, coerced: list[str]) -> str:
    value = rec.get(key)
    if isinstance(value, (bool, int, float)):  # testset-v1 stores a bare "True" answer as JSON true
        coerced.append(key)
        return str(value)
    return f.text(rec, key)
