"""Evaluate a judge: join its predictions with gold by id, compute JudgeLM's metrics, write a report.

`evaluate` is the whole job (standalone CLI and the `evaluate` section of a job spec);
`join` and `compute_metrics` are its pure halves. Metric definitions: `judgelm_ray.metrics`.

Rows whose gold cannot be parsed (no gold verdict and no gold scores, e.g. JudgeLM's [-1, -1]
teacher marker or a record the gold adapter rejected) are left out and counted, as JudgeLM does.
Single-answer rows (mode "single") have no verdict: they count only towards score correlations.

Parse failures (a null verdict) follow a policy, and their number is always reported:
- tie (default): counted as a tie, as JudgeLM (unparseable scores become [-1, -1], equal) and
  PandaLM ("garbage" counted as tie) do;
- exclude: a row with a failure in either order is left out of every metric;
- wrong: counted as a miss for the gold class, and as inconsistent across orders.
"""

from __future__ import annotations

import json

from judgelm_ray import metrics, storage
from judgelm_ray.predictions import load_gold, load_predictions
from judgelm_ray.verdicts import best_of
from judgelm_ray.spec import JobSpec

POLICIES = ("tie", "exclude", "wrong")
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


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown parse-failure policy {policy!r}; expected one of {POLICIES}")


def apply_policy(rows: list[dict], policy: str) -> tuple[list[dict], dict]:
    """Verdict rows (gold + forward [+ swapped]) under the parse-failure policy, and failure counts."""
    check_policy(policy)
    verdict_rows = [r for r in rows if not r["single"] and r["gold_verdict"] is not None]
    forward_failed = sum(r["forward"] is None for r in verdict_rows)
    swapped_failed = sum(r["both_orders"] and r["swapped"] is None for r in verdict_rows)
    out = []
    for row in verdict_rows:
        forward, swapped = row["forward"], row["swapped"] if row["both_orders"] else None
        failed = forward is None or (row["both_orders"] and swapped is None)
        if policy == "exclude" and failed:
            continue
        if policy == "tie":
            forward = forward or "tie"
            swapped = (swapped or "tie") if row["both_orders"] else None
        out.append({**row, "forward": forward, "swapped": swapped})
    failures = {"policy": policy, "forward": forward_failed, "swapped": swapped_failed,
                "excluded": len(verdict_rows) - len(out)}
    return out, failures


def verdict_metrics(rows: list[dict]) -> dict:
    """Classification and order metrics of policy-applied rows; order metrics over rows with both orders."""
    gold = [r["gold_verdict"] for r in rows]
    result = {"n": len(rows), **metrics.classification(gold, [r["forward"] for r in rows])}
    both = [r for r in rows if r["both_orders"]]
    if both:
        result.update(metrics.order_metrics([r["gold_verdict"] for r in both], [r["forward"] for r in both],
                                             [r["swapped"] for r in both]))
    else:
        result.update(dict.fromkeys(metrics.ORDER_KEYS))
    result["both_orders"] = len(both)
    return result


def score_pairs(rows: list[dict]) -> tuple[list[float], list[float]]:
    """(predicted, gold) values per row with both: the score of one graded answer, or answer 1 - answer 2."""
    predicted, gold = [], []
    for row in rows:
        mine, truth = row["scores"], row["gold_scores"]
        if not mine or not truth or len(mine) != len(truth) or len(mine) > 2:
            continue
        predicted.append(mine[0] - mine[1] if len(mine) == 2 else mine[0])
        gold.append(truth[0] - truth[1] if len(truth) == 2 else truth[0])
    return predicted, gold


def compute_metrics(rows: list[dict], policy: str = "tie", group_by: tuple[str, ...] = (), bootstrap: int = 1000, seed: int = 0) -> dict:
    """Every metric of metrics.json except the join counts, from joined rows."""
    verdict_rows, failures = apply_policy(rows, policy)
    result = verdict_metrics(verdict_rows)
    gold = [r["gold_verdict"] for r in verdict_rows]
    result["ci"] = metrics.bootstrap_ci(gold, [r["forward"] for r in verdict_rows], bootstrap, seed)
    result["parse_failures"] = failures
    result["scores"] = metrics.correlations(*score_pairs(rows))
    result["groups"] = {}
    for column in group_by:
        values = sorted({r["groups"][column] for r in verdict_rows})
        result["groups"][column] = {
            value: _group_summary(verdict_metrics([r for r in verdict_rows if r["groups"][column] == value]))
            for value in values
        }
    return result


def _group_summary(values: dict) -> dict:
    keys = ("n", "agreement", "precision", "recall", "f1", *metrics.ORDER_KEYS)
    return {key: values[key] for key in keys}


def evaluate(
    predictions: str,
    out: str,
    gold: str | None = None,
    predictions_format: str = "judgments",
    gold_format: str = "canonical",
    parse_failures: str = "tie",
    group_by: tuple[str, ...] = (),
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Evaluate a predictions file against gold; writes <out>/metrics.json, report.md and plots; returns the metrics."""
    from judgelm_ray.report import write_report

    check_policy(parse_failures)  # fail before reading millions of rows
    group_by = tuple(group_by)
    predicted = load_predictions(predictions, predictions_format, group_by)
    truth = load_gold(gold, gold_format, group_by) if gold is not None else None
    rows, joined = join(predicted, truth, group_by)
    result = compute_metrics(rows, parse_failures, group_by, bootstrap, seed)
    result.update(joined)
    result["inputs"] = {
        "predictions": predictions, "predictions_format": predictions_format,
        "gold": gold if gold is not None else "(the predictions' own gold columns)",
        "gold_format": gold_format if gold is not None else None,
    }
    storage.write_json(storage.join(out, "metrics.json"), result)
    write_report(result, rows, out)
    return result


def run_evaluation(spec: JobSpec) -> dict:
    """The `evaluate` section of a job: score the judgments the judge section wrote.

    Returns a manifest (status, outputs, metrics) like the other sections.
    """
    section = spec.evaluate
    out = section.out or storage.join(spec.output, "eval")
    result = evaluate(
        predictions=storage.join(spec.output, "judgments"),
        out=out,
        gold=section.gold,
        gold_format=section.gold_format or spec.input.format,
        parse_failures=section.parse_failures,
        group_by=tuple(section.group_by),
        bootstrap=section.bootstrap,
        seed=spec.seed,
    )
    outputs = {"metrics": storage.join(out, "metrics.json"), "report": storage.join(out, "report.md")}
    return {"status": "succeeded", "outputs": outputs, "metrics": result}
