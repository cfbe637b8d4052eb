"""Join a judge's predictions with gold by id into evaluation rows, and count what did not join.

Rows whose gold cannot be parsed (no gold verdict and no gold scores, e.g. JudgeLM's [-1, -1]
teacher marker or a record the gold adapter rejected) are left out and counted, as JudgeLM does.
"""

from __future__ import annotations

import json

from judgelm_ray.verdicts import best_of

MISSING_IDS_SHOWN = 20
_NO_VALUE = "(none)"


def join(predictions: dict[str, dict], gold: dict[str, dict] | None, group_by: tuple[str, ...] = ()) -> tuple[list[dict], dict]:
    """Evaluation rows (prediction + gold, joined by id) and the counts of what did not join.

    Without `gold`, the predictions' own gold columns are the gold.
    """
    gold = gold if gold is not None else predictions
    rows, unparseable = [], 0
    for row_id in sorted(predictions.keys() & gold.keys()):
        prediction, truth = predictions[row_id], gold[row_id]
        gold_scores = truth["gold_scores"]
        gold_verdict = truth["gold_verdict"] or best_of(gold_scores)
        if gold_verdict is None and not gold_scores:
            unparseable += 1
            continue
        groups = {}
        for column in group_by:
            value = _lookup(column, truth, prediction)
            groups[column] = _NO_VALUE if value is None else value if isinstance(value, str) else json.dumps(value)
        rows.append({**prediction, "id": row_id, "gold_verdict": gold_verdict, "gold_scores": gold_scores, "groups": groups})
    missing_predictions = sorted(gold.keys() - predictions.keys())
    missing_gold = sorted(predictions.keys() - gold.keys())
    counts = {
        "predictions": len(predictions),
        "gold": len(gold),
        "joined": len(rows) + unparseable,
        "gold_unparseable": unparseable,
        "missing_predictions": len(missing_predictions),
        "missing_gold": len(missing_gold),
    }
    missing = {"predictions": missing_predictions[:MISSING_IDS_SHOWN], "gold": missing_gold[:MISSING_IDS_SHOWN]}
    return rows, {"counts": counts, "missing_ids": missing}


def _lookup(column: str, gold: dict, prediction: dict):
    """A grouping value: a column of the gold rows, then of the predictions, then their meta."""
    for source in (gold["columns"], prediction["columns"], gold["meta"], prediction["meta"]):
        if column in source:
            return source[column]
    return None
