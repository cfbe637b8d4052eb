"""The ``judgelm`` input format: JudgeLM-100K train / val records (baaivision/JudgeLM).

question_id -> id, question_body -> question, answer1_body, answer2_body, ... (consecutive) ->
answers, reference as {"text": ...} or a string, teacher ``score`` -> gold_scores and
gold_verdict (best score; a shared best is "tie"). A score with a negative value is JudgeLM's
"teacher output unparseable" marker ([-1, -1]): gold stays None and ``score`` is kept in meta.
text, score_w_reference and text_w_reference stay in meta, with gold_scores_w_reference /
gold_verdict_w_reference derived the same way.
"""

from __future__ import annotations

import re
from typing import Any

from judgelm_ray import verdicts
from judgelm_ray.inputs import fields as f

ID_KEY = "question_id"
_ANSWER = re.compile(r"answer(\d+)_body")


def adapt(rec: dict) -> tuple[dict, dict]:
    question = f.text(rec, "question_body")
    n = 0
    while f"answer{n + 1}_body" in rec:
        n += 1
    stray = [k for k in rec if (m := _ANSWER.fullmatch(k)) and int(m[1]) > n]
    if n == 0 or stray:
        what = f"missing while '{stray[0]}' is present; number answers 1, 2, 3, ..." if stray else "missing"
        raise f.RowError(f"answer{n + 1}_body", what)
    answers = [f.text(rec, f"answer{i}_body") for i in range(1, n + 1)]

    reference = rec.get("reference")
    if isinstance(reference, dict):  # JudgeLM stores {"text": ...}
        reference = reference.get("text")
    reference = f.optional_text(reference, "reference", 'a string or {"text": string}')

    scores = _teacher_scores(rec.get("score"), "score", n)
    meta = f.rest(rec, {"question_id", "question_body", "reference", "score", *(f"answer{i}_body" for i in range(1, n + 1))})
    if isinstance(rec.get("reference"), dict) and set(rec["reference"]) - {"text"}:
        meta["reference"] = rec["reference"]  # keys besides "text" would otherwise be lost
    if "score" in rec and scores is None:
        meta["score"] = rec["score"]  # unparseable teacher output: not gold, but kept
    if "score_w_reference" in rec:
        with_ref = _teacher_scores(rec["score_w_reference"], "score_w_reference", n)
        meta["gold_scores_w_reference"] = with_ref
        meta["gold_verdict_w_reference"] = verdicts.best_of(with_ref)
    values = {"question": question, "answers": answers, "reference": reference,
              "gold_verdict": verdicts.best_of(scores), "gold_scores": scores}
    return values, meta


def _teacher_scores(value: Any, field: str, n_answers: int) -> list[float] | None:
    """JudgeLM teacher scores; None when the teacher output was unparseable (negative marker, e.g. [-1, -1])."""
    scores = f.scores(value, field, n_answers)
    return None if scores is None or min(scores) < 0 else scores
