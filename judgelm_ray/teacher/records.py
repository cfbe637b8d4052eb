"""Teacher judgments -> JudgeLM-100K records (the `judgelm` input format, as `train` reads it).

A record holds the pair as the teacher saw it (`question_body`, `answer1_body`, `answer2_body`: the text
of JudgeLM's template slots, so a dialogue row trains on the very prompt it was judged with), the
models' ids, the reference as {"text": ...}, and the teacher's `text` / `score` and, where the pair was
judged with its reference, `text_w_reference` / `score_w_reference`. JudgeLM's markers are kept: a
judgment whose score line does not parse keeps its text with `score` [-1, -1] (training drops and
counts it); a pair whose judgment is missing altogether has text "error".
"""

from __future__ import annotations

import json

from judgelm_ray.families import judgelm

UNPARSEABLE = [-1, -1]  # JudgeLM's marker of a teacher output without a score line


def record(plain: dict, with_reference: dict | None) -> dict:
    """The training record of one pair: `plain` is its judgment without the reference, `with_reference`
    its judgment with it (None: not judged with one)."""
    question, answers, reference = judgelm.slots(plain)
    meta = json.loads(plain["meta"]) if plain.get("meta") else {}
    first, second = _model_ids(meta)
    out = {
        # The pair's own id: JudgeLM's question_id is the record's id, and a question makes several pairs.
        "question_id": plain["id"],
        "question_body": question,
        "answer1_body": answers[0],
        "answer2_body": answers[1],
        "answer1_model_id": first,
        "answer2_model_id": second,
        **_judgment(plain, ""),
    }
    if reference is not None:
        out["reference"] = {"text": reference}
    if with_reference is not None:
        out.update(_judgment(with_reference, "_w_reference"))
    out["teacher"] = {"model": plain["model"], "seed_question_id": meta.get("question_id")}
    return out


def _judgment(row: dict, suffix: str) -> dict:
    text = row["judge_text_forward"]
    scores = row["scores_forward"]
    return {f"text{suffix}": text if text is not None else "error",
            f"score{suffix}": list(scores) if scores else UNPARSEABLE}


def _model_ids(meta: dict) -> tuple[str | None, str | None]:
    """The pair's models: JudgeLM's answerN_model_id, PandaLM's cmp_key ("<model 1>_<model 2>"), or the
    models an answer-file join names."""
    if "answer1_model_id" in meta:
        return meta.get("answer1_model_id"), meta.get("answer2_model_id")
    if isinstance(meta.get("cmp_key"), str) and meta["cmp_key"].count("_") == 1:
        first, second = meta["cmp_key"].split("_")
        return first, second
    models = [*(meta.get("models") or []), None, None]
    return models[0], models[1]
